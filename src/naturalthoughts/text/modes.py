"""Think / no-think / adaptive: the mode strings shared by SFT data and evaluation, in one place.

The paper trains one student on a mix of full traces (System-2) and answers only (System-1) and asks it for a
mode at inference; its instruction strings were not published, so these are the project's own, chosen after the
conventions of Qwen3, LLaMA-Factory and Llama-Nemotron:

- a **System-2 target** is ``<think>\\n{reasoning}\\n</think>\\n\\n{answer}``;
- a **System-1 target** is ``<think>\\n\\n</think>\\n\\n{answer}``: the *empty thinking block* (Qwen3's
  ``enable_thinking=False`` rendering and LLaMA-Factory's empty CoT), so every target starts the same way and
  "no thinking" is one fixed string that evaluation can pre-fill;
- the **mode instruction** is a system message: :data:`THINK_INSTRUCTION` or :data:`NO_THINK_INSTRUCTION`;
  ``adaptive`` has none and lets the model choose.

Evaluation makes the modes robust with pre-fills of the assistant turn (:func:`prefill`): ``think`` starts it
with ``<think>\\n``; ``no-think`` with the empty block, which works even when a model ignores the instruction;
``adaptive`` pre-fills nothing.
"""

from __future__ import annotations

from typing import Literal

from naturalthoughts.text.think import THINK_CLOSE, THINK_OPEN

Mode = Literal["think", "no-think", "adaptive"]
MODES: tuple[Mode, ...] = ("think", "no-think", "adaptive")

THINK_INSTRUCTION = "Think step by step inside <think> and </think> before you answer."
NO_THINK_INSTRUCTION = "Answer directly, without thinking."

# The System-1 marker: an empty thinking block, exactly as Qwen3 renders enable_thinking=False.
NO_THINK_MARKER = f"{THINK_OPEN}\n\n{THINK_CLOSE}\n\n"
THINK_PREFILL = f"{THINK_OPEN}\n"


def instruction(mode: Mode) -> str | None:
    """The system message that asks for ``mode`` (None for adaptive)."""
    if mode == "think":
        return THINK_INSTRUCTION
    if mode == "no-think":
        return NO_THINK_INSTRUCTION
    return None


def system2_target(reasoning: str, answer: str) -> str:
    """The assistant turn of a full-trace (System-2) example."""
    return f"{THINK_OPEN}\n{reasoning.strip()}\n{THINK_CLOSE}\n\n{answer.strip()}"


def system1_target(answer: str) -> str:
    """The assistant turn of an answer-only (System-1) example: the empty block, then the answer."""
    return f"{NO_THINK_MARKER}{answer.strip()}"


def prefill(mode: Mode) -> str | None:
    """What evaluation pre-fills the assistant turn with to hold the model to ``mode``."""
    if mode == "think":
        return THINK_PREFILL
    if mode == "no-think":
        return NO_THINK_MARKER
    return None
