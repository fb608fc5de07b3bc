"""SFT data: a selection as chat-format training examples with System-1/System-2 mixing (``nt sft-data``)."""

from naturalthoughts.sft.config import SftDataConfig
from naturalthoughts.sft.mix import MixPolicy, parse_mix
from naturalthoughts.sft.stage import SftDataStage, sft_name
from naturalthoughts.shortcuts import shortcut

sft_data = shortcut("sft-data")  # sft_data(run, config=None, *, selection=NAME, name=None, force=False, quiet=False)

__all__ = ["MixPolicy", "SftDataConfig", "SftDataStage", "parse_mix", "sft_data", "sft_name"]
