"""Think / no-think / adaptive: the mode strings shared by SFT data and evaluation, per student family, in one place.

The paper trains one student on a mix of full traces (System-2) and answers only (System-1) and asks it for a
mode at inference; its instruction strings were not published, so these are the project's own, chosen after the
conventions of Qwen3, LLaMA-Factory and Llama-Nemotron:

- a **System-2 target** is ``<think>\\n{reasoning}\\n</think>\\n\\n{answer}``;
- a **System-1 target** is ``<think>\\n\\n</think>\\n\\n{answer}``: the *empty thinking block* (Qwen3's
  ``enable_thinking=False`` rendering and LLaMA-Factory's empty CoT), so every target starts the same way and
  "no thinking" is one fixed string that evaluation can pre-fill;
- the **mode instruction** is a system message: :data:`THINK_INSTRUCTION` or :data:`NO_THINK_INSTRUCTION`;
  ``adaptive`` has none and lets the model choose.

Families with a native switch (:data:`SWITCHES`) use it instead, in training and evaluation alike:

- **Qwen3** (hybrid): the template flag ``enable_thinking`` and the soft switch ``/think`` / ``/no_think`` as
  the instruction; adaptive sets neither.
- **Qwen3.5**: the flag ``enable_thinking`` (its templates open or close the reasoning in the generation prompt
  and have no soft switch), so there is no adaptive mode to train: the template chooses.
- **DeepSeek-R1-Distill**: the generation prompt already opens ``<think>\\n``; the System-1 target closes it at
  once (``<think>\\n</think>\\n\\n``: an empty block written ``\\n\\n`` would merge into one token that the
  prompt, ending in ``\\n``, does not have).

Evaluation holds a model to a mode with a pre-fill of the assistant turn (:meth:`ModeSwitch.prefill`): the text
that, after the template's *default* generation prompt, reproduces what training saw (``think`` starts with
``<think>\\n``; ``no-think`` with the family's empty block, which works even when a model ignores the
instruction and is byte-identical to Qwen's ``enable_thinking=False``; ``adaptive`` pre-fills nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from naturalthoughts.text.think import THINK_CLOSE, THINK_OPEN

Mode = Literal["think", "no-think", "adaptive"]
MODES: tuple[Mode, ...] = ("think", "no-think", "adaptive")

THINK_INSTRUCTION = "Think step by step inside <think> and </think> before you answer."
NO_THINK_INSTRUCTION = "Answer directly, without thinking."

# The System-1 marker: an empty thinking block, exactly as Qwen3 renders enable_thinking=False.
NO_THINK_MARKER = f"{THINK_OPEN}\n\n{THINK_CLOSE}\n\n"
THINK_PREFILL = f"{THINK_OPEN}\n"
# DeepSeek-R1-Distill's generation prompt ends in "<think>\n": the empty block closes right after it.
OPENED_NO_THINK_MARKER = f"{THINK_OPEN}\n{THINK_CLOSE}\n\n"

GENERIC = "generic"


class ModeUnavailable(ValueError):
    """A mode this family's template cannot be held to by a pre-fill (the message says why and what to do)."""


@dataclass(frozen=True)
class ModeSwitch:
    """How one student family is asked for a mode: instruction text, template flag, and what its template's
    default generation prompt already opens the assistant turn with."""

    family: str
    label: str  # for people: "Qwen3", "DeepSeek-R1-Distill"
    switch: str  # the native switch in words (docs/training.md)
    instructions: dict[str, str | None] = field(
        default_factory=lambda: {"think": THINK_INSTRUCTION, "no-think": NO_THINK_INSTRUCTION}
    )
    flag: str | None = None  # a chat-template keyword set per mode (Qwen's enable_thinking)
    adaptive_flag: bool | None = None  # the flag's value for adaptive examples (None: the flag is not set)
    opener: str = ""  # what the default generation prompt ends with inside the assistant turn
    no_think_marker: str = NO_THINK_MARKER
    adaptive: bool = True  # whether an example without a mode can be trained and asked for

    def instruction(self, mode: Mode) -> str | None:
        """The system message that asks for ``mode`` (None for adaptive)."""
        return self.instructions.get(mode)

    def template_kwargs(self, mode: Mode) -> dict[str, Any]:
        """Chat-template keywords for ``mode`` (``{"enable_thinking": False}`` for Qwen3 no-think)."""
        if self.flag is None:
            return {}
        if mode == "adaptive":
            return {} if self.adaptive_flag is None else {self.flag: self.adaptive_flag}
        return {self.flag: mode == "think"}

    def system1_target(self, answer: str) -> str:
        return f"{self.no_think_marker}{answer.strip()}"

    def prefill(self, mode: Mode) -> str | None:
        """What evaluation pre-fills after the template's default generation prompt to hold the model to
        ``mode`` (None: nothing); :class:`ModeUnavailable` when a pre-fill cannot reach it."""
        if mode == "adaptive":
            return None
        start = THINK_PREFILL if mode == "think" else self.no_think_marker
        if not start.startswith(self.opener):
            raise ModeUnavailable(
                f"{self.label}: the chat template's generation prompt already ends in {self.opener!r}, so the "
                f"{mode} mode ({start!r}) cannot be pre-filled; it needs the template flag {self.flag}="
                f"{mode == 'think'}, which the evaluation engines do not pass: evaluate the other modes"
            )
        return start[len(self.opener) :] or None


SWITCHES: dict[str, ModeSwitch] = {
    switch.family: switch
    for switch in (
        ModeSwitch(GENERIC, "own template", "none: the toolkit's instruction (system message) and pre-fills"),
        ModeSwitch(
            "qwen3",
            "Qwen3",
            "enable_thinking (template flag) + /think, /no_think (soft switch, system message)",
            instructions={"think": "/think", "no-think": "/no_think"},
            flag="enable_thinking",
            adaptive_flag=True,  # the template's default: the model may open a reasoning or an empty block
        ),
        ModeSwitch(
            "qwen3.5-think",
            "Qwen3.5 (thinking by default)",
            "enable_thinking (template flag; the generation prompt opens <think>)",
            instructions={},
            flag="enable_thinking",
            opener=THINK_PREFILL,
            adaptive=False,
        ),
        ModeSwitch(
            "qwen3.5-nothink",
            "Qwen3.5 (no thinking by default)",
            "enable_thinking (template flag; the generation prompt closes an empty block)",
            instructions={},
            flag="enable_thinking",
            opener=NO_THINK_MARKER,
            adaptive=False,
        ),
        ModeSwitch(
            "deepseek-r1-distill",
            "DeepSeek-R1-Distill",
            "the generation prompt opens <think>; no-think closes it at once (+ the toolkit's instruction)",
            opener=THINK_PREFILL,
            no_think_marker=OPENED_NO_THINK_MARKER,
        ),
    )
}


def switch_for(family: str | None) -> ModeSwitch:
    """The mode switch of ``family`` (the generic one for families without a native switch)."""
    return SWITCHES.get(family or GENERIC, SWITCHES[GENERIC])


def instruction(mode: Mode) -> str | None:
    """The toolkit's own system message that asks for ``mode`` (None for adaptive)."""
    return SWITCHES[GENERIC].instruction(mode)


def system2_target(reasoning: str, answer: str) -> str:
    """The assistant turn of a full-trace (System-2) example."""
    return f"{THINK_OPEN}\n{reasoning.strip()}\n{THINK_CLOSE}\n\n{answer.strip()}"


def system1_target(answer: str) -> str:
    """The assistant turn of an answer-only (System-1) example: the empty block, then the answer."""
    return SWITCHES[GENERIC].system1_target(answer)


def prefill(mode: Mode) -> str | None:
    """What evaluation pre-fills the assistant turn with to hold a generic-family model to ``mode``."""
    return SWITCHES[GENERIC].prefill(mode)
