"""System-1 / System-2 mixing policies: which examples keep their reasoning.

- ``none``: every example is System-2 (the full trace), as in the paper's main tables;
- ``random:P``: exactly ``round(P * n)`` of the ``n`` usable examples are System-2, chosen by the seed
  (not a coin per example, so the realised share is exact);
- ``difficulty``: System-2 where the teacher and the second model disagree (``annotations.disagree``), System-1
  for the rest, as in the paper (36% System-2 there); an unknown ``disagree`` (null) keeps the trace;
- ``length:T``: System-2 where the reasoning is longer than ``T`` tokens (the student's tokenizer).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

Kind = Literal["none", "random", "difficulty", "length"]
GRAMMAR = "none | random:P (0 <= P <= 1) | difficulty | length:T (T >= 0 tokens)"
_PATTERN = re.compile(r"^\s*(none|random|difficulty|length)\s*(?::\s*([0-9]*\.?[0-9]+)\s*)?$")


@dataclass(frozen=True)
class MixPolicy:
    kind: Kind
    value: float | None = None  # P for random, T for length

    @property
    def text(self) -> str:
        if self.kind == "random":
            return f"random:{self.value:g}"
        if self.kind == "length":
            return f"length:{int(self.value or 0)}"
        return self.kind

    @property
    def slug(self) -> str:
        """The policy in a file name: ``random-0.4``, ``length-2000``, ``difficulty``."""
        return self.text.replace(":", "-")

    @property
    def needs_disagree(self) -> bool:
        return self.kind == "difficulty"


def parse_mix(text: str) -> MixPolicy:
    """``"random:0.4"`` -> ``MixPolicy("random", 0.4)``; ValueError naming the grammar otherwise."""
    match = _PATTERN.match(text or "")
    if match is None:
        raise ValueError(f"mix {text!r} is not one of: {GRAMMAR}")
    kind, raw = match.group(1), match.group(2)
    if kind in ("none", "difficulty"):
        if raw is not None:
            raise ValueError(f"mix {text!r}: {kind} takes no value ({GRAMMAR})")
        return MixPolicy(kind)  # type: ignore[arg-type]
    if raw is None:
        raise ValueError(f"mix {text!r}: {kind} needs a value ({GRAMMAR})")
    value = float(raw)
    if kind == "random" and not 0.0 <= value <= 1.0:
        raise ValueError(f"mix {text!r}: P must be between 0 and 1")
    if kind == "length" and value != int(value):
        raise ValueError(f"mix {text!r}: T is a whole number of tokens")
    return MixPolicy(kind, value)  # type: ignore[arg-type]


def exact_count(share: float, n: int) -> int:
    """``round(share * n)`` with halves rounded up (Python's round() would round 0.5 to even)."""
    return min(n, math.floor(share * n + 0.5))


def seeded_subset(n: int, k: int, seed: int, stream: int) -> np.ndarray:
    """A boolean mask with exactly ``k`` of ``n`` set, chosen by ``(seed, stream)``."""
    mask = np.zeros(n, dtype=bool)
    if k > 0:
        mask[np.random.default_rng([seed, stream]).permutation(n)[:k]] = True
    return mask


MODE_STREAM, ADAPTIVE_STREAM = 0, 1  # independent random streams of one seed


def assign_system2(
    policy: MixPolicy, seed: int, disagree: list[bool | None] | None, reasoning_tokens: np.ndarray
) -> np.ndarray:
    """Which of the usable examples are System-2 (True) under ``policy``."""
    n = len(reasoning_tokens)
    if policy.kind == "none":
        return np.ones(n, dtype=bool)
    if policy.kind == "random":
        return seeded_subset(n, exact_count(float(policy.value or 0.0), n), seed, MODE_STREAM)
    if policy.kind == "length":
        return np.asarray(reasoning_tokens) > int(policy.value or 0)
    assert disagree is not None, "the difficulty policy needs annotations.disagree"
    return np.array([True if d is None else bool(d) for d in disagree], dtype=bool)
