"""Verbosity proxy (no model): how much of the reasoning repeats itself.

Score = 10 × (share of word trigrams that already occurred earlier in the same reasoning), so 0 means
nothing is said twice and 10 means everything is. Rambling traces restate steps and re-check the same
facts, which repeats trigrams; it is a cheap signal, not the paper's judge (see docs/strategies.md).
"""

from __future__ import annotations

import re

import pyarrow as pa

from naturalthoughts.annotate.base import NO_REASONING, Annotator, Columns, column

MIN_WORDS = 20  # below this a repetition share is noise
_WORD = re.compile(r"\w+")


def repetition_score(text: str) -> float | None:
    words = _WORD.findall(text.lower())
    if len(words) < MIN_WORDS:
        return None
    trigrams = list(zip(words, words[1:], words[2:], strict=False))
    repeated = len(trigrams) - len(set(trigrams))
    return round(10.0 * repeated / len(trigrams), 3)


class ProxyVerbosityAnnotator(Annotator):
    name = "verbosity"
    reads = ("reasoning",)
    writes = ("verbosity", "verbosity_method", "verbosity_error")

    @property
    def method(self) -> str:
        return "proxy:trigram-repetition"

    def annotate(self, batch: pa.Table) -> Columns:
        scores, errors = [], []
        for text in column(batch, "reasoning"):
            score = repetition_score(text) if text else None
            scores.append(score)
            errors.append(None if score is not None else (f"fewer than {MIN_WORDS} words" if text else NO_REASONING))
        self.counts["annotated"] += sum(s is not None for s in scores)
        return {"verbosity": scores, "verbosity_method": [self.method] * batch.num_rows, "verbosity_error": errors}
