"""Length: ``reasoning_tokens``, ``answer_tokens`` and ``response_tokens`` (the whole response), and which count.

``length.tokenizer`` chooses the count (column ``tokenizer`` records the choice made):

- ``teacher`` (default): the teacher's own tokenizer when the run names one that loads offline (the bundled
  GGUF's for the embedded llama.cpp teacher, a transformers or vLLM teacher's folder), else the server's counts;
- ``server``: the server's counts from ``traces.parquet``: ``response_tokens`` = ``completion_tokens`` (every
  token generated, both phases under a thinking budget); the reasoning and answer counts are the server's per
  phase, or ``completion_tokens`` split by character share (label ``server:completion_tokens``);
- a tokenizer name (``smollm2``, a Hugging Face folder or Hub id): counted with it; ``approx``: characters / 4,
  about a thousand times faster, for pools of millions of traces where an exact tokenizer is too slow on a CPU.

With a tokenizer, ``response_tokens`` = reasoning + answer + the thinking tags around the reasoning (the response
as the teacher wrote it, ``<think>\\n...\\n</think>\\n\\n`` then the answer), which is what the paper's 16,384-token
cap is on. When neither the teacher's tokenizer nor server counts exist, characters / 4 is used, with a note.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.annotate.base import AnnotateContext, Annotator, Columns
from naturalthoughts.annotate.config import SERVER_COUNTS, TEACHER_TOKENIZER
from naturalthoughts.annotate.teacher import teacher_tokenizer
from naturalthoughts.errors import ConfigError
from naturalthoughts.text.think import THINK_CLOSE, THINK_OPEN
from naturalthoughts.text.tokens import APPROX, count_tokens, load_tokenizer, tokenizer_label

SERVER_LABEL = "server:completion_tokens"
TAGS = f"{THINK_OPEN}\n\n{THINK_CLOSE}\n\n"  # what wraps a non-empty reasoning in the response text

# Working-batch names of traces.parquet's own (server) counts; the annotation columns keep the plain names.
SERVER_COLUMNS = {
    "reasoning_tokens": "server_reasoning_tokens",
    "answer_tokens": "server_answer_tokens",
    "completion_tokens": "server_completion_tokens",
}


def has_server_counts(traces: Path) -> bool:
    """Whether ``traces.parquet`` carries the server's token counts (any non-null completion or reasoning count)."""
    present = [name for name in ("completion_tokens", "reasoning_tokens") if name in pq.read_schema(traces).names]
    table = pq.read_table(traces, columns=present)
    return any(table.column(name).null_count < table.num_rows for name in present)


class LengthAnnotator(Annotator):
    name = "length"
    reads = ("reasoning", "answer", *SERVER_COLUMNS.values())
    writes = ("reasoning_tokens", "answer_tokens", "response_tokens", "tokenizer")

    def __init__(self, ctx: AnnotateContext) -> None:
        super().__init__(ctx)
        self.tokenizer = self._choose(ctx)
        self.label = SERVER_LABEL if self.tokenizer == SERVER_COUNTS else tokenizer_label(self.tokenizer)
        self.extra["tokenizer"] = self.label
        self._tag_tokens: int | None = None

    def _choose(self, ctx: AnnotateContext) -> str:
        configured = ctx.config.length.tokenizer
        if configured != TEACHER_TOKENIZER:
            return configured
        name = teacher_tokenizer(ctx.run)
        if name == APPROX:  # imported traces whose teacher's tokenizer is not installed here
            self._note(
                "length: the imported traces' teacher has no tokenizer installed here: counting characters / "
                "4 (set annotate.length.tokenizer to the teacher's tokenizer folder)"
            )
            return APPROX
        if name is not None:
            try:
                load_tokenizer(name)
                return name
            except (ConfigError, OSError, ValueError) as exc:
                self._note(
                    f"length: the teacher's tokenizer {name!r} does not load offline ({exc}); using the "
                    "server's token counts"
                )
        if has_server_counts(ctx.run.traces):
            return SERVER_COUNTS
        self._note(
            "length: the teacher's tokenizer is unknown and traces.parquet has no server token counts: "
            "counting characters / 4 (set annotate.length.tokenizer to the teacher's tokenizer folder)"
        )
        return APPROX

    def _note(self, message: str) -> None:
        self.extra.setdefault("notes", []).append(message)
        if self.ctx.progress is not None:
            self.ctx.progress.note(message)

    @property
    def method(self) -> str:
        return self.label

    def tag_tokens(self) -> int:
        if self._tag_tokens is None:
            self._tag_tokens = int(count_tokens(pa.array([TAGS]), self.tokenizer)[0].as_py())
        return self._tag_tokens

    def counted(self, batch: pa.Table) -> tuple[pa.Array, pa.Array, pa.Array]:
        """(reasoning, answer, response) tokens counted with the tokenizer."""
        reasoning = count_tokens(batch.column("reasoning"), self.tokenizer)
        answer = count_tokens(batch.column("answer"), self.tokenizer)
        tags = pc.if_else(pc.fill_null(pc.greater(reasoning, 0), False), self.tag_tokens(), 0)
        return reasoning, answer, _sum_present(reasoning, answer, tags)

    def served(self, batch: pa.Table) -> tuple[pa.Array, pa.Array, pa.Array]:
        """(reasoning, answer, response) tokens as the server counted them."""
        reasoning, answer, completion = (
            _int64(batch, SERVER_COLUMNS[name]) for name in ("reasoning_tokens", "answer_tokens", "completion_tokens")
        )
        response = pc.coalesce(completion, _sum_present(reasoning, answer, pa.nulls(len(reasoning), pa.int64())))
        return reasoning, answer, response

    def annotate(self, batch: pa.Table) -> Columns:
        reasoning, answer, response = self.served(batch) if self.tokenizer == SERVER_COUNTS else self.counted(batch)
        self.counts["annotated"] += batch.num_rows - response.null_count
        self.counts["reasoning_tokens_total"] += int(np.nan_to_num(pc.sum(reasoning).as_py() or 0))
        return {
            "reasoning_tokens": reasoning,
            "answer_tokens": answer,
            "response_tokens": response,
            "tokenizer": pa.array([self.label] * batch.num_rows, pa.string()),
        }


def _int64(batch: pa.Table, name: str) -> pa.Array:
    if name not in batch.column_names:
        return pa.nulls(batch.num_rows, pa.int64())
    return batch.column(name).combine_chunks().cast(pa.int64())


def _sum_present(*parts: pa.Array) -> pa.Array:
    """Row sums where a null part counts 0, null only where every part is null (a failed row has no response)."""
    total = pc.fill_null(parts[0], 0)
    for part in parts[1:]:
        total = pc.add(total, pc.fill_null(part, 0))
    missing = pc.and_(pc.is_null(parts[0]), pc.is_null(parts[1]))
    return pc.if_else(missing, pa.scalar(None, pa.int64()), total.cast(pa.int64()))
