"""The export-data stage: a selection (or an SFT set) -> a Hugging Face dataset folder, and optionally the Hub.

``--selection NAME``: one row per selected trace, in rank order, with its question, reference answer, reasoning,
answer, the R1-style response, a ready chat ``messages`` list, where the trace came from (origin, source, teacher)
and its annotations. ``--sft NAME``: the rows of ``sft/NAME/train.parquet`` (the System-1/System-2 mix applied).

The folder: ``data/train-0000K-of-0000N.parquet`` shards, ``README.md`` (the dataset card: YAML metadata the Hub
reads, then a provenance section from the run's manifest and tables, see :mod:`.card`) and ``provenance.json`` (the
same facts, machine-readable). ``datasets.load_dataset(folder)`` loads it. It appears atomically (a killed export
leaves no half folder) and replaces an earlier one. With ``push_to_hub`` it is then uploaded (:mod:`.hub`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from naturalthoughts.atomic import atomic_dir, write_json, write_text
from naturalthoughts.errors import ConfigError, Fix, MissingInputError
from naturalthoughts.export_data.card import card_text, gather_provenance
from naturalthoughts.export_data.config import ExportDataConfig
from naturalthoughts.names import check_name
from naturalthoughts.rundir import RunDir
from naturalthoughts.stage import Stage, StageContext, StageResult
from naturalthoughts.tables import CHAT_MESSAGE
from naturalthoughts.text.modes import system2_target

DATA_DIR = "data"
PROVENANCE_JSON = "provenance.json"
TRACE_COLUMNS = ["trace_id", "question_id", "sample", "teacher", "origin", "source", "system_prompt", "reasoning",
                 "answer", "complete", "finish_reason", "reasoning_tokens", "answer_tokens", "tokenizer",
                 "source_correct"]  # fmt: skip
ANNOTATION_COLUMNS = ["domain", "field", "strategies", "n_strategies", "strategy_density", "verbosity", "correct",
                      "correct_method", "disagree", "response_tokens"]  # fmt: skip


class ExportDataStage(Stage):
    """``export-data:NAME``: ``ExportDataStage(config, selection=NAME)`` or ``(config, sft=NAME)``."""

    name = "export-data"
    config_model = ExportDataConfig
    reads = ("selections/NAME.parquet or sft/NAME/train.parquet", "traces.parquet", "questions.parquet",
             "annotations.parquet", "manifest.json (provenance)")  # fmt: skip
    writes = ("OUT/ (data/train-*.parquet, README.md, provenance.json)",)

    def __init__(
        self, config: ExportDataConfig | None = None, *, selection: str | None = None, sft: str | None = None
    ) -> None:
        if (selection is None) == (sft is None):
            raise ConfigError("export-data: name exactly one of a selection (selection=NAME) or an SFT set (sft=NAME)")
        super().__init__(config, selection=selection, sft=sft)

    @property
    def cfg(self) -> ExportDataConfig:
        return self.config  # type: ignore[return-value]

    @property
    def what(self) -> str:
        return self.args["selection"] or self.args["sft"]

    @property
    def key(self) -> str:
        return f"export-data:{'sft-' if self.args['sft'] else ''}{self.what}"

    def table_path(self, run: RunDir) -> Path:
        if self.args["sft"]:
            return run.sft_dir / self.args["sft"] / "train.parquet"
        return run.selection(self.args["selection"])

    def inputs(self, run: RunDir) -> list[Path]:
        paths = [self.table_path(run), run.traces, run.questions]
        return paths + ([run.annotations] if run.annotations.exists() else [])

    def outputs(self, run: RunDir) -> list[Path]:
        return [Path(self.cfg.out)]

    def check(self, run: RunDir) -> None:
        check_name(self.what, "SFT set" if self.args["sft"] else "selection")
        repo = self.cfg.push_to_hub
        if repo is not None and (repo.count("/") != 1 or not all(repo.split("/"))):
            raise ConfigError(f"push_to_hub {repo!r}: expected OWNER/NAME (a Hub dataset id)")

    def run(self, ctx: StageContext) -> StageResult:
        run, config = ctx.run, self.cfg
        source = self.table_path(run)
        if not source.exists():
            fix = (Fix("sft-data", selection="SELECTION", name=self.what) if self.args["sft"]
                   else Fix("select", method="EXPR", size="N", name=self.what))  # fmt: skip
            raise MissingInputError(f"{source} does not exist: run {{fix}} first.", fix=fix.at(run))
        table = sft_rows(source) if self.args["sft"] else selection_rows(run, source)
        provenance = gather_provenance(run, self, table)
        out = Path(config.out)
        with atomic_dir(out) as tmp, ctx.progress.task("export-data", total=table.num_rows, unit="rows") as task:
            shards = write_shards(table, tmp / DATA_DIR, config.shard_rows, task.advance)
            write_text(card_text(config, provenance, table), tmp / "README.md")
            write_json(provenance, tmp / PROVENANCE_JSON)
        extra: dict[str, Any] = {"out": str(out), "rows": table.num_rows, "shards": shards}
        summary = f"{table.num_rows:,} rows in {shards} Parquet shard(s) + README.md card -> {out}"
        if config.push_to_hub:
            from naturalthoughts.export_data.hub import push

            extra["pushed"] = push(out, config.push_to_hub, config.private)
            summary += f"; pushed to {extra['pushed']}"
        return StageResult(counts={"rows": table.num_rows, "shards": shards}, outputs=[out], summary=summary,
                           extra=extra, value={"folder": str(out), **extra})  # fmt: skip


def selection_rows(run: RunDir, selection: Path) -> pa.Table:
    """The selected traces in rank order, joined with their questions and annotations."""
    from naturalthoughts.select.stage import refresh_fix
    from naturalthoughts.staleness import made_from_older

    record = made_from_older(run, f"select:{selection.stem}", run.traces.name)  # the manifest says
    if record is not None:
        raise MissingInputError(
            f"{selection.name} was computed from older traces (traces.parquet changed since): run {{fix}} first.",
            fix=refresh_fix(record.get("config") or {}, selection.stem, run),  # type: ignore[arg-type]
        )
    chosen = pq.read_table(selection, columns=["trace_id", "rank", "score", "method"])
    ids = chosen.column("trace_id").combine_chunks()
    present = [c for c in TRACE_COLUMNS if c in pq.read_schema(run.require("traces")).names]
    traces = pq.read_table(run.traces, columns=present, filters=[("trace_id", "in", ids)])
    table = _joined(chosen.sort_by("rank"), "trace_id", traces, "trace_id")
    questions = pq.read_table(run.require("questions"), columns=["id", "question", "reference_answer"])
    table = _joined(table, "question_id", questions, "id")
    if run.annotations.exists():
        names = pq.read_schema(run.annotations).names
        wanted = ["trace_id", *(c for c in ANNOTATION_COLUMNS if c in names)]
        annotations = pq.read_table(run.annotations, columns=wanted, filters=[("trace_id", "in", ids)])
        table = _joined(table, "trace_id", annotations, "trace_id")
    pairs = zip(table["reasoning"].to_pylist(), table["answer"].to_pylist(), strict=True)
    response = [system2_target(reasoning or "", answer or "") for reasoning, answer in pairs]
    messages = [
        ([{"role": "system", "content": s}] if s else []) + [{"role": "user", "content": q},
                                                             {"role": "assistant", "content": r}]
        for s, q, r in zip(_column(table, "system_prompt"), table["question"].to_pylist(), response, strict=True)
    ]  # fmt: skip
    table = table.append_column("response", pa.array(response, pa.string()))
    table = table.append_column("messages", pa.array(messages, pa.list_(CHAT_MESSAGE)))
    first = ["rank", "trace_id", "question_id", "question", "reference_answer", "reasoning", "answer", "response",
             "messages"]  # fmt: skip
    return table.select(first + [c for c in table.column_names if c not in first])


def _joined(left: pa.Table, key: str, right: pa.Table, right_key: str) -> pa.Table:
    """``left`` in its order with ``right``'s other columns for each key (null where absent); list columns too,
    which Arrow's hash join does not carry."""
    import pandas as pd

    positions = pd.Index(right[right_key].to_numpy(zero_copy_only=False)).get_indexer(
        left[key].to_numpy(zero_copy_only=False)
    )
    take = pa.array(positions, pa.int64(), mask=positions < 0)
    for name in right.column_names:
        if name != right_key and name not in left.column_names:
            left = left.append_column(name, right[name].take(take))
    return left


def _column(table: pa.Table, name: str) -> list[Any]:
    return table[name].to_pylist() if name in table.column_names else [None] * table.num_rows


def sft_rows(path: Path) -> pa.Table:
    return pq.read_table(path)


def write_shards(table: pa.Table, folder: Path, shard_rows: int, advance: Any = None) -> int:
    """``table`` as ``train-0000K-of-0000N.parquet`` files of at most ``shard_rows`` rows (at least one file)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = max(1, math.ceil(table.num_rows / shard_rows))
    for index in range(count):
        part = table.slice(index * shard_rows, shard_rows)
        pq.write_table(part, folder / f"train-{index:05d}-of-{count:05d}.parquet", compression="zstd")
        if advance is not None:
            advance(part.num_rows)
    return count


def total_tokens(table: pa.Table) -> int | None:
    """Reasoning + answer tokens of a selection, or the SFT set's example tokens."""
    for names in (("tokens",), ("reasoning_tokens", "answer_tokens")):
        if all(n in table.column_names for n in names):
            return int(sum(pc.sum(table[n]).as_py() or 0 for n in names))
    return None
