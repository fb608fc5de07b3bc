"""Export a trained student: GGUF files for llama.cpp, Ollama and LM Studio (``nt export --gguf``)."""

from naturalthoughts.export.stage import ExportConfig, ExportStage
from naturalthoughts.shortcuts import shortcut

export = shortcut("export")  # export(run, config=None, *, model=NAME, force=False, quiet=False)

__all__ = ["ExportConfig", "ExportStage", "export"]
