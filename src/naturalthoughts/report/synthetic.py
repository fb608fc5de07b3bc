"""A synthetic run directory in the real table schemas, for the report's tests and benchmark.

It writes ``questions``, ``rejected``, ``traces``, ``annotations`` and two selections with the schemas of
:mod:`naturalthoughts.tables`, plus manifest records through :class:`~naturalthoughts.manifest.Manifest`, so the
report can be built and opened at any pool size (100,000 traces in a few seconds) without running a teacher. Some
questions hold HTML and ``</script>`` on purpose: the page must show them as text.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from naturalthoughts.atomic import write_parquet
from naturalthoughts.manifest import Manifest, fingerprint, new_record_id, now
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import ANNOTATIONS, QUESTIONS, REJECTED, SELECTION, TRACES

DOMAINS = ("Engineering", "Science", "Medicine", "Economics", "Law", "History", "Philosophy")
STRATEGIES = ("self_verification", "backtracking", "exploring_alternatives", "subgoal_decomposition",
              "case_analysis", "elimination", "summarising")  # fmt: skip
# Questions that would break a page that does not escape what comes from data.
ANNOTATORS = ("domain", "strategies", "verbosity", "length", "correctness", "disagree")
HOSTILE = (
    "What does </script><script>window.__pwned = 1</script> print?",
    'Is <img src=x onerror="window.__pwned = 1"> valid HTML & why?',
    "Compute 3 < 5 && 5 > 2 — \u2028 a line separator, “quotes”, and emoji 🧪?",
)


def _hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


def write_synthetic_run(root: str | Path, n: int = 200, seed: int = 0, text_words: int = 60) -> RunDir:
    """Write a run of ``n`` traces (one per question) with annotations and selections ``random-K`` and
    ``disagree-K`` (K = n // 4); returns its :class:`RunDir`."""
    run = RunDir(root).ensure()
    rng = np.random.default_rng(seed)
    qids = [_hash("q", i) for i in range(n)]
    domains = rng.integers(0, len(DOMAINS), n)
    questions = [HOSTILE[i] if i < len(HOSTILE) else f"Question {i} about {DOMAINS[domains[i]]}: explain item {i}."
                 for i in range(n)]  # fmt: skip
    references = [None if i % 5 == 0 else str(i % 97) for i in range(n)]
    write_parquet(
        _table(
            {
                "id": qids,
                "question": questions,
                "reference_answer": references,
                "source": ["synthetic"] * n,
                "source_row": list(range(1, n + 1)),
                "other_answer": [str((i * 7) % 97) for i in range(n)],
                "other_model": ["synthetic:other"] * n,
                "domain": [DOMAINS[d] for d in domains],
            },
            QUESTIONS,
        ),
        run.questions,
    )
    write_parquet(
        _table(
            {"source": ["synthetic"] * 2, "source_row": [n + 1, n + 2], "kind": ["duplicate", "invalid"],
             "reason": ["same normalised text as kept question", "empty question"],
             "question": [questions[min(3, n - 1)], None], "matched": [qids[min(3, n - 1)], None]},
            REJECTED,
        ),
        run.rejected,
    )  # fmt: skip
    tids = [_hash("t", q) for q in qids]
    reasoning_tokens = np.minimum(rng.lognormal(np.log(400), 0.8, n).astype(np.int64) + 5, 16000)
    answer_tokens = rng.integers(5, 200, n)
    finish = np.where(rng.random(n) < 0.9, "stop", "length")
    complete = finish == "stop"
    filler = " ".join(f"step{j}" for j in range(text_words))
    reasoning = [f"Let me think about item {i}. {filler} Wait, check again: <b>not bold</b>." for i in range(n)]
    answers = [f"The answer is {references[i] or i % 97}." if complete[i] else "" for i in range(n)]
    write_parquet(
        _table(
            {
                "trace_id": tids,
                "question_id": qids,
                "sample": np.zeros(n, np.int32),
                "teacher": ["synthetic:teacher"] * n,
                "reasoning": reasoning,
                "answer": answers,
                "finish_reason": finish.tolist(),
                "complete": complete,
                "reasoning_tokens": reasoning_tokens,
                "answer_tokens": answer_tokens,
                "prompt_tokens": rng.integers(30, 120, n),
                "latency_s": rng.random(n) * 10,
                "error": [None] * n,
                "response_hash": [_hash("r", t) for t in tids],
            },
            TRACES,
        ),
        run.traces,
    )
    annotations = _annotations(rng, tids, qids, domains, reasoning_tokens, answer_tokens, references)
    write_parquet(annotations, run.annotations)
    size = max(1, n // 4)
    disagree_rows = np.flatnonzero(_disagree(n))
    picks = {"random": rng.permutation(n)[:size], "disagree": np.concatenate([disagree_rows, np.arange(n)])[:size]}
    manifest = Manifest(run.manifest)
    for stage, seconds in (("ingest", 1.5), ("generate", 420.0)):
        _record(manifest, stage, seconds, {"rows": n}, completion=int(reasoning_tokens.sum()) if stage == "generate"
                else 0)  # fmt: skip
    # The annotate record says which traces every annotator saw, as the runner records it, so the annotations are
    # current for these traces (naturalthoughts.staleness reads it).
    _record(manifest, "annotate", 95.0, {"rows": n}, inputs={run.traces.name: fingerprint(run.traces)},
            extra={"annotators": {name: {} for name in ANNOTATORS}})  # fmt: skip
    for method, rows in picks.items():
        name = f"{method}-{size}"
        write_selection(run, name, rows.tolist(), method)
        _record(manifest, f"select:{name}", 0.2, {"selected": len(rows)},
                config={"method": method, "size": size, "seed": 0, "name": name})  # fmt: skip
    return run


def write_selection(run: RunDir, name: str, rows: list[int], method: str = "synthetic") -> None:
    """``selections/NAME.parquet`` holding the traces at ``rows`` (pool order), ranked as given."""
    ids = pq.read_table(run.traces, columns=["trace_id"])["trace_id"].to_pylist()
    write_parquet(_table({"trace_id": [ids[r] for r in rows], "rank": list(range(len(rows))),
                          "score": [None] * len(rows), "method": [method] * len(rows)}, SELECTION),
                  run.selection(name))  # fmt: skip


def _disagree(n: int) -> np.ndarray:
    return (np.arange(n) % 3) == 0


def _annotations(
    rng: np.random.Generator,
    tids: list[str],
    qids: list[str],
    domains: np.ndarray,
    reasoning_tokens: np.ndarray,
    answer_tokens: np.ndarray,
    references: list[str | None],
) -> pa.Table:
    n = len(tids)
    strategy_lists = []
    for _ in range(n):
        k = int(rng.integers(0, len(STRATEGIES) + 1))
        strategy_lists.append(sorted(rng.choice(len(STRATEGIES), k, replace=False).tolist()))
    names = [[STRATEGIES[j] for j in row] for row in strategy_lists]
    counts = [[{"strategy": s, "count": int(rng.integers(1, 4))} for s in row] for row in names]
    correct = [None if references[i] is None else bool(rng.random() < 0.6) for i in range(n)]
    disagree = _disagree(n)
    columns = {
        "trace_id": tids,
        "question_id": qids,
        "domain": [DOMAINS[d] for d in domains],
        "field": [f"{DOMAINS[d]} field {d % 3}" for d in domains],
        "domain_method": ["zero-shot:synthetic"] * n,
        "strategies": names,
        "strategy_counts": counts,
        "n_strategies": [len(row) for row in names],
        "strategy_density": [1000.0 * len(row) / max(1, t) for row, t in zip(names, reasoning_tokens, strict=True)],
        "strategies_method": ["lexical"] * n,
        "verbosity": np.round(rng.random(n) * 10, 2),
        "verbosity_method": ["proxy:compression"] * n,
        "reasoning_tokens": reasoning_tokens,
        "answer_tokens": answer_tokens,
        "tokenizer": ["approx"] * n,
        "correct": correct,
        "correct_method": ["exact"] * n,
        "disagree": disagree.tolist(),
        "disagree_raw": ["No" if d else "Yes" for d in disagree],
        "disagree_judge": ["synthetic:judge"] * n,
    }
    return _table(columns, ANNOTATIONS)


def _table(columns: dict[str, object], schema: pa.Schema) -> pa.Table:
    """``columns`` in ``schema``; the schema's other columns are null (as for an annotator that did not run)."""
    n = len(next(iter(columns.values())))  # type: ignore[arg-type]
    return pa.table({f.name: columns.get(f.name, [None] * n) for f in schema}, schema=schema)


def _record(
    manifest: Manifest, stage: str, seconds: float, counts: dict[str, int], completion: int = 0,
    config: dict | None = None, inputs: dict | None = None, extra: dict | None = None,
) -> None:  # fmt: skip
    usage = {"requests_sent": counts.get("rows", 0) if completion else 0, "cache_hits": 0, "errors": 0,
             "prompt_tokens": completion // 10, "completion_tokens": completion, "cost_usd": completion * 2e-6,
             "seconds": seconds}  # fmt: skip
    manifest.put({"id": new_record_id(), "stage": stage, "status": "done", "version": "synthetic",
                  "started_at": now(), "finished_at": now(), "seconds": seconds, "config": config or {},
                  "config_sha256": _hash(stage, config), "inputs": inputs or {}, "outputs": {}, "counts": counts,
                  "usage": usage, **(extra or {})})  # fmt: skip
