"""Training examples in chat form: the question, a mode instruction, and a System-2 or System-1 target.

Every string comes from :mod:`naturalthoughts.text.modes` (shared with evaluation): the System-2 target
``<think>\\n{reasoning}\\n</think>\\n\\n{answer}``, the System-1 target (the empty thinking block, then the
answer), and the mode instruction as a system message (none for adaptive examples).

Lengths are counted exactly as TRL tokenises a prompt/completion row (:func:`naturalthoughts.sft.loss_check.tokenise`):
the chat template applied to the whole conversation, and to the prompt alone with the generation prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from naturalthoughts.text import modes

SYSTEM2, SYSTEM1 = "system-2", "system-1"
Message = dict[str, str]


@dataclass(frozen=True)
class Source:
    """One selected, complete trace with its question."""

    trace_id: str
    question_id: str
    rank: int
    question: str
    reasoning: str
    answer: str
    cut: bool = False  # the trace's answer went on with a made-up next turn, left out of the target


def instruction_mode(system2: bool, adaptive: bool) -> modes.Mode:
    if adaptive:
        return "adaptive"
    return "think" if system2 else "no-think"


def conversation(
    source: Source, system2: bool, adaptive: bool, switch: modes.ModeSwitch = modes.SWITCHES[modes.GENERIC]
) -> list[Message]:
    """The chat messages of one example: [system instruction], user question, assistant target, in the
    student family's conventions (``switch``)."""
    messages: list[Message] = []
    text = switch.instruction(instruction_mode(system2, adaptive))
    if text is not None:
        messages.append({"role": "system", "content": text})
    messages.append({"role": "user", "content": source.question})
    target = modes.system2_target(source.reasoning, source.answer) if system2 else switch.system1_target(source.answer)
    messages.append({"role": "assistant", "content": target})
    return messages


def template_kwargs(system2: bool, adaptive: bool, switch: modes.ModeSwitch) -> dict[str, Any]:
    """The chat-template keywords of one example (Qwen's ``enable_thinking``), as TRL reads them per row."""
    return switch.template_kwargs(instruction_mode(system2, adaptive))


def text_tokens(tokenizer: Any, texts: Sequence[str]) -> np.ndarray:
    """Tokens of plain texts (no special tokens): the reasoning length of the ``length:T`` policy."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return np.array([len(x) for x in encoded], dtype=np.int64)
