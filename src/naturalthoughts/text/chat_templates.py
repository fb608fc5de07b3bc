"""Which chat template a student has, which family that makes it, and the training template TRL ships for it.

TRL keeps the stock templates of common families (``trl/chat_templates/*.jinja``) to recognise a tokenizer by
exact text, and patched ``*_training.jinja`` versions that fix what breaks training: DeepSeek-R1-Distill's stock
template drops everything up to ``</think>`` from an assistant turn (the reasoning never reaches the loss);
Qwen3's moves it depending on where the last user turn is. :func:`training_template` returns TRL's fix for a
recognised template (``trl.chat_template_utils.get_training_chat_template``), and :func:`family_of` names the
family whose mode switch (:mod:`naturalthoughts.text.modes`) training and evaluation use.

A template TRL does not know keeps its own rendering; the loss-mask check of sft-data
(:mod:`naturalthoughts.sft.loss_check`) then proves, example by example, that it keeps the reasoning.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from naturalthoughts.text.modes import GENERIC

# TRL template file stem (without _training) -> family of the mode switch and of the docs table
FAMILY_OF_STEM = {
    "deepseek_r1_distill": "deepseek-r1-distill",
    "qwen3": "qwen3",
    "qwen3_5_think": "qwen3.5-think",
    "qwen3_5_nothink": "qwen3.5-nothink",
    "qwen2_5": "qwen2.5",
    "llama3": "llama3",
    "llama3_1": "llama3",
    "llama3_2": "llama3",
    "gemma3": "gemma3",
    "phi3_5": "phi3.5",
}
FAMILY_LABELS = {
    GENERIC: "own template",
    "deepseek-r1-distill": "DeepSeek-R1-Distill",
    "qwen3": "Qwen3",
    "qwen3.5-think": "Qwen3.5 (thinking by default)",
    "qwen3.5-nothink": "Qwen3.5 (no thinking by default)",
    "qwen2.5": "Qwen2.5",
    "llama3": "Llama 3.x",
    "gemma3": "Gemma 3",
    "phi3.5": "Phi-3.5",
}
TRAINING_SUFFIX = "_training"
_GENERATION_TAG = re.compile(r"\{%(-?)\s*(end)?generation\s*(-?)%\}")


@dataclass(frozen=True)
class ChatTemplate:
    """The template sft-data renders with and train trains with, and where it came from."""

    text: str
    family: str  # a key of naturalthoughts.text.modes.SWITCHES, or another known family, or "generic"
    source: str  # "trl:deepseek_r1_distill_training.jinja" | "student" | "file:PATH"
    stock: str | None  # the TRL file the student's own template matched, if any

    def record(self) -> dict[str, Any]:
        return {"family": self.family, "source": self.source, "stock": self.stock}


@functools.lru_cache(maxsize=1)
def trl_templates() -> dict[str, str]:
    """{file stem: text} of every template the installed TRL ships."""
    import trl

    folder = Path(trl.__file__).parent / "chat_templates"
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.jinja"))}


@functools.lru_cache(maxsize=64)
def trl_stem(text: str | None) -> str | None:
    """The TRL file stem whose text is exactly ``text`` (a stock or a training template), else None."""
    if not text:
        return None
    for stem, known in trl_templates().items():
        if known == text or inference_template(known) == text:
            return stem
    return None


def family_label(family: str) -> str:
    return FAMILY_LABELS.get(family, family)


def family_of(text: str | None) -> str:
    """The family of a chat template: by exact text against TRL's templates, else ``generic``."""
    stem = trl_stem(text)
    if stem is None:
        return GENERIC
    return FAMILY_OF_STEM.get(stem.removesuffix(TRAINING_SUFFIX), stem.removesuffix(TRAINING_SUFFIX))


def training_template(tokenizer: Any) -> tuple[str, str] | None:
    """(text, TRL file name) of TRL's training template for the tokenizer's template; None when TRL has none or
    the template needs none."""
    from trl.chat_template_utils import get_training_chat_template

    try:
        text = get_training_chat_template(tokenizer)
    except ValueError:  # a template TRL does not know: no training version
        return None
    if text is None:
        return None
    stem = trl_stem(text)
    return text, f"{stem}.jinja" if stem else "trl"


def resolve(tokenizer: Any, override: str | None = None) -> ChatTemplate:
    """The template to train with: ``override`` (a .jinja file), else TRL's training template for the student's
    own one, else the student's own."""
    own = tokenizer.chat_template
    if isinstance(own, dict):
        own = own.get("default")
    stock = trl_stem(own)
    if override is not None:
        text = Path(override).expanduser().read_text(encoding="utf-8")
        return ChatTemplate(text, family_of(text) if trl_stem(text) else family_of(own), f"file:{override}", stock)
    found = training_template(tokenizer)
    if found is not None:
        text, name = found
        return ChatTemplate(text, family_of(text), f"trl:{name}", stock)
    return ChatTemplate(own or "", family_of(own), "student", stock)


def inference_template(text: str) -> str:
    """``text`` with its ``{% generation %}`` markers made plain ``{% if true %}`` blocks: the same rendering,
    readable by template engines that do not know the markers (llama.cpp's, for a GGUF export)."""
    return _GENERATION_TAG.sub(lambda m: "{%" + m[1] + (" endif " if m[2] else " if true ") + m[3] + "%}", text)


def model_template(folder: Path) -> str | None:
    """The chat template saved in a model folder (``chat_template.jinja`` or ``tokenizer_config.json``)."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config = folder / "tokenizer_config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
        return value if isinstance(value, str) else None
    return None


def model_family(folder: Path) -> str:
    """The family of a model folder: what training recorded (``training.json``), else its template's family."""
    record = folder / "training.json"
    if record.is_file():
        family = json.loads(record.read_text(encoding="utf-8")).get("chat_template", {}).get("family")
        if family:
            return str(family)
    return family_of(model_template(folder))
