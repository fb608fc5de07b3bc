"""The dataset card (``README.md``) of an exported dataset: Hub metadata, then where every row came from.

:func:`gather_provenance` reads the run's manifest and tables: the source pools with their ids (files, ``hf:``
ids, layouts), the pool's fingerprints, the teachers (a generating engine with its sampling settings, imported
teachers with their sources), the annotators with their methods and models, the selection's expression, size and
seed, the System-1/System-2 mix, the decontamination benchmarks and what they removed, the export's size and the
toolkit version. :func:`card_text` writes it as the YAML header the Hub reads and a provenance section people read.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pydantic import TypeAdapter, ValidationError

from naturalthoughts import __version__
from naturalthoughts.errors import Fix
from naturalthoughts.export_data.config import ExportDataConfig
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir

if TYPE_CHECKING:
    from naturalthoughts.export_data.stage import ExportDataStage

# The Hub's size categories, by upper bound.
SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]  # fmt: skip
SELECTION_METADATA = "naturalthoughts.select."
COLUMN_DOCS = {
    "rank": "order of selection (0 = picked first)",
    "trace_id": "the trace's id in the run (hash of question id, sample and teacher)",
    "question_id": "hash of the normalised question text",
    "question": "the question (the user turn)",
    "reference_answer": "the source's reference answer; null when it has none",
    "reasoning": "the teacher's reasoning (inside <think>...</think>)",
    "answer": "the teacher's final answer (after </think>)",
    "response": "the whole response, R1 style: <think>\\nreasoning\\n</think>\\n\\nanswer",
    "messages": "the chat ready for SFT: [system prompt], user question, assistant response",
    "score": "the selection method's score (higher = preferred)",
    "method": "the selection step that picked the trace",
    "sample": "sample index of the question (several responses per question)",
    "teacher": "the model that wrote the response",
    "origin": "generated (by a teacher engine in this run) | imported (from an existing trace set)",
    "source": "imported traces: the file or hf: id it was read from",
    "system_prompt": "the system turn the teacher answered under",
    "complete": "the reasoning was closed, the answer is not empty and the teacher finished on its own",
    "finish_reason": "stop | length",
    "reasoning_tokens": "tokens in the reasoning, counted as `tokenizer` says",
    "answer_tokens": "tokens in the answer, counted as `tokenizer` says",
    "tokenizer": "what counted the tokens (a tokenizer, the server, or approx:chars/4)",
    "source_correct": "the source set's own correctness flag, when it had one",
    "domain": "one of the 13 SuperGPQA domains (annotated)",
    "field": "a field beneath the domain (annotated)",
    "strategies": "meta-reasoning strategies found in the reasoning (annotated)",
    "n_strategies": "number of distinct strategies",
    "strategy_density": "strategy occurrences per 1,000 reasoning tokens",
    "verbosity": "rambling score 0 (tight) .. 10 (rambling)",
    "correct": "the answer matches the reference answer (annotated)",
    "correct_method": "what decided `correct`",
    "disagree": "the teacher's and a second model's final answers disagree (annotated)",
    "response_tokens": "tokens of the whole response (annotated count)",
}


def size_category(rows: int) -> str:
    return next((label for bound, label in SIZE_CATEGORIES if rows < bound), "n>1T")


def _engine_label(engine: Any) -> str | None:
    from naturalthoughts.engines import engine_identity
    from naturalthoughts.engines.config import EngineConfig

    if not isinstance(engine, dict):
        return None
    try:
        return engine_identity(TypeAdapter(EngineConfig).validate_python(engine))
    except (ValidationError, ValueError, TypeError):
        return str(engine.get("model") or engine.get("engine"))


def gather_provenance(run: RunDir, stage: ExportDataStage, table: pa.Table) -> dict[str, Any]:
    """Everything the card says, as JSON-ready data (also written as provenance.json)."""
    from naturalthoughts.export_data.stage import total_tokens

    manifest = Manifest(run.manifest)
    ingest = manifest.latest("ingest", ("done",)) or {}
    out: dict[str, Any] = {
        "toolkit": {"name": "naturalthoughts", "version": __version__},
        "exported_at": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
        "export": {
            "selection": stage.args["selection"],
            "sft": stage.args["sft"],
            "rows": table.num_rows,
            "tokens": total_tokens(table),
        },
        "sources": _sources(ingest),
        "pool": {
            "questions": pq.read_metadata(run.questions).num_rows if run.questions.exists() else None,
            # the digest the runner recorded for the questions ingest wrote (every later stage compares with it)
            "questions_fingerprint": ((ingest.get("outputs") or {}).get("questions.parquet") or {}).get("sha256"),
            "traces": pq.read_metadata(run.traces).num_rows if run.traces.exists() else None,
            "traces_fingerprint": run.traces_fingerprint() if run.traces.exists() else None,
        },
        "teachers": _teachers(run, manifest, table),
        "annotators": _annotators(manifest),
        "decontamination": {
            "benchmarks": ingest.get("decontaminated_against") or {},
            "removed": ingest.get("contaminated_by") or {},
            "ngram": (ingest.get("config") or {}).get("decontam_ngram"),
        },
    }
    out.update(_selection_and_mix(run, stage))
    return out


def _sources(ingest: dict[str, Any]) -> list[dict[str, Any]]:
    """Each source as given to ingest, with what the import recorded about it (layout, columns, teacher)."""
    imported = (ingest.get("traces") or {}).get("sources") or {}
    by_source = (ingest.get("traces") or {}).get("by_source") or {}
    listed: list[dict[str, Any]] = []
    for entry in ingest.get("sources") or (ingest.get("config") or {}).get("sources") or []:
        spec = entry if isinstance(entry, dict) else {"source": entry}
        item: dict[str, Any] = {"source": spec["source"], "kind": f"traces ({spec['traces']})" if spec.get("traces")
                                else "questions"}  # fmt: skip
        files = {label: info for label, info in imported.items() if label == spec["source"]
                 or label.startswith(str(spec["source"]).rstrip("/") + "/")}  # fmt: skip
        if files:
            first = next(iter(files.values()))
            item.update(teacher=first.get("teacher"), tokenizer=first.get("tokenizer"),
                        traces=sum(by_source.get(label, 0) for label in files))  # fmt: skip
            if len(files) > 1:
                item["files"] = sorted(files)
        listed.append(item)
    return listed


def _teachers(run: RunDir, manifest: Manifest, table: pa.Table) -> list[dict[str, Any]]:
    """Each teacher with the rows it wrote in this export, how it ran (generated) or where it came from (imported)."""
    if "teacher" not in table.column_names:  # an SFT set: its examples' traces say who wrote them
        names = [c for c in ("trace_id", "teacher", "origin") if c in pq.read_schema(run.traces).names]
        ids = table["trace_id"].combine_chunks()
        table = pq.read_table(run.traces, columns=names, filters=[("trace_id", "in", ids)])
    origins = table["origin"].to_pylist() if "origin" in table.column_names else ["generated"] * table.num_rows
    counts = Counter(zip(table["teacher"].to_pylist(), [o or "generated" for o in origins], strict=True))
    generate = manifest.latest("generate", ("done", "stopped")) or {}
    settings = {k: (generate.get("config") or {}).get(k) for k in ("temperature", "top_p", "max_tokens", "samples",
                                                                   "seed", "prompt_template")}  # fmt: skip
    listed = []
    for (teacher, origin), rows in counts.most_common():
        item: dict[str, Any] = {"teacher": teacher, "origin": origin, "rows": rows}
        if origin == "generated" and generate:
            item["sampling"] = settings
        listed.append(item)
    return listed


def _annotators(manifest: Manifest) -> dict[str, Any]:
    record = manifest.latest("annotate", ("done",))
    if record is None:
        return {}
    config = record.get("config") or {}
    return {
        "methods": record.get("methods") or {},
        "annotator_model": _engine_label(config.get("annotator_engine")),
        "judge_model": _engine_label(config.get("judge_engine")),
        "embedder": (config.get("embeddings") or {}).get("model") or "all-MiniLM-L6-v2 (bundled)",
    }


def _selection_and_mix(run: RunDir, stage: ExportDataStage) -> dict[str, Any]:
    if stage.args["sft"]:
        meta_path = run.sft_dir / stage.args["sft"] / "meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        selection = meta.get("selection") or {}
        mix = {"mix": meta.get("mix"), "seed": meta.get("seed"), "counts": meta.get("counts")}
        return {"selection": selection, "mix": mix}
    path = run.selection(stage.args["selection"])
    metadata = {k.decode(): v.decode() for k, v in (pq.read_schema(path).metadata or {}).items()}
    selection = {k.removeprefix(SELECTION_METADATA): v for k, v in metadata.items() if k.startswith(SELECTION_METADATA)}
    selection = {"name": stage.args["selection"], **selection}
    mix = {"mix": None, "note": f"a selection as is: `{Fix('sft-data', mix='POLICY').command_line()}` makes the "
           f"System-1/System-2 mix, and `{Fix('export-data', sft='NAME').command_line()}` exports that"}  # fmt: skip
    return {"selection": selection, "mix": mix}


# ---- the text ---------------------------------------------------------------------------------------------------
def card_text(config: ExportDataConfig, provenance: dict[str, Any], table: pa.Table) -> str:
    name = provenance["export"]["selection"] or provenance["export"]["sft"]
    header: dict[str, Any] = {"license": config.license}
    if config.language:
        header["language"] = list(config.language)
    header.update(
        task_categories=list(config.task_categories),
        size_categories=[size_category(table.num_rows)],
        tags=["reasoning", "distillation", "chain-of-thought", "naturalthoughts"],
        pretty_name=config.pretty_name or name,
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}],
    )
    parts = ["---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True).strip(), "---", ""]
    parts += _body(config, provenance, table, name)
    return "\n".join(parts) + "\n"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        text = "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows), ""]  # fmt: skip


def _body(config: ExportDataConfig, p: dict[str, Any], table: pa.Table, name: str) -> list[str]:
    export, pool = p["export"], p["pool"]
    what = f"SFT set `{export['sft']}`" if export["sft"] else f"selection `{export['selection']}`"
    tokens = f", {export['tokens']:,} tokens" if export["tokens"] is not None else ""
    lines = [
        f"# {config.pretty_name or name}",
        "",
        f"{export['rows']:,} reasoning traces{tokens}: the {what} of a naturalthoughts run, exported with "
        f"naturalthoughts {p['toolkit']['version']} on {p['exported_at']}.",
        "",
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset({config.push_to_hub or "PATH/TO/THIS/FOLDER"!r}, split="train")',
        "```",
        "",
        "## Provenance",
        "",
        f"- **Toolkit**: naturalthoughts {p['toolkit']['version']}",
        f"- **Size**: {export['rows']:,} rows{tokens}, size category {size_category(export['rows'])}",
        f"- **Pool**: {pool['questions'] or 0:,} questions (fingerprint {pool['questions_fingerprint']}), "
        f"{pool['traces'] or 0:,} traces (fingerprint {pool['traces_fingerprint']})",
        "",
        "### Source pools",
        "",
        *_table(
            ["source", "kind", "teacher", "traces", "tokens counted by"],
            [[s["source"], s["kind"], s.get("teacher"), s.get("traces"), s.get("tokenizer")] for s in p["sources"]],
        ),
        "### Teachers",
        "",
        *_table(
            ["teacher", "origin", "rows in this dataset", "sampling"],
            [[t["teacher"], t["origin"], t["rows"], _settings(t.get("sampling"))] for t in p["teachers"]],
        ),
        "### Annotators",
        "",
    ]
    annotators = p["annotators"]
    if annotators:
        lines += _table(["annotator", "method"], [[k, v] for k, v in annotators["methods"].items()])
        lines += [
            f"Models, used where a method above names llm: or a judge: annotator {annotators['annotator_model']}; "
            f"judge {annotators['judge_model']}; embedder {annotators['embedder']}.",
            "",
        ]
    else:
        lines += ["Not annotated.", ""]
    selection, mix = p.get("selection") or {}, p.get("mix") or {}
    lines += [
        "### Selection",
        "",
        f"- name: `{selection.get('name', '-')}`; expression: `{selection.get('expression', '-')}`; "
        f"size asked: {selection.get('size', '-')}; seed: {selection.get('seed', '-')}",
        f"- System-1/System-2 mix: {mix.get('mix') or 'none'}" + (f" ({mix['note']})" if mix.get("note") else ""),
        "",
        "### Decontamination",
        "",
    ]
    decon = p["decontamination"]
    if decon["benchmarks"]:
        rows = [[bench, items, decon["removed"].get(bench, 0)] for bench, items in decon["benchmarks"].items()]
        lines += [f"Questions sharing a {decon['ngram']}-word n-gram with these benchmarks were removed at ingest:", ""]
        lines += _table(["benchmark", "items indexed", "questions removed"], rows)
    else:
        lines += ["None: the run ingested its questions without decontamination.", ""]
    lines += ["## Columns", ""]
    lines += _table(["column", "type", "meaning"],
                    [[f"`{f.name}`", f"`{f.type}`", COLUMN_DOCS.get(f.name, "")] for f in table.schema])  # fmt: skip
    lines += [
        "## License",
        "",
        f"`{config.license}`, as set by whoever exported it" + (" (nobody did: check the sources' terms before use)"
                                                                 if config.license == "unknown" else "")
        + ". The traces keep the terms of their sources and teachers listed above; `provenance.json` holds every "
        "fact of this card as data.",
    ]  # fmt: skip
    return lines


def _settings(settings: dict[str, Any] | None) -> str | None:
    if not settings:
        return None
    return ", ".join(f"{k}={v}" for k, v in settings.items() if v is not None)
