"""Yes/no judges as one constrained token against the whole schema-constrained reply (a measurement, not a test).

    .venv/bin/python benchmarks/bench_judges.py                                   # the bundled default's pool
    .venv/bin/python benchmarks/bench_judges.py --config configs/general-stem-cpu.yaml
    .venv/bin/python benchmarks/bench_judges.py --quick                           # the first 12 questions

Generates the config's pool once (ingest + generate, kept in ``--work``), then annotates two fresh copies of it (an
empty response cache each) with the config's annotate section, ``annotate.verdicts: schema`` (the path before) and
``token`` (one grammar-constrained token after a pre-filled ``{"field": ``), alternating the order per round.
Prints, per judge (correctness of long answers, models-disagree), the verdict agreement of the two paths on the rows
a judge decided (target >= 98%), the token path's fallbacks to the schema, then the annotate stage's wall time and
the judges' own time (the calls that ask a yes/no verdict) in each mode and their ratio, with the load average and
``top``'s CPU line beside every timing: the ratios are measured in one run, on the same traces, under the same load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pyarrow.parquet as pq

LOCAL_METHODS = ("number", "math", "choice", "text", "reasoning-gym:")  # correct_method of rows no judge decided
MODES = ("schema", "token")
ANNOTATIONS = "annotations.parquet"


def machine_load() -> str:
    top = subprocess.run(["top", "-b", "-n", "1"], capture_output=True, text=True, check=False).stdout
    cpu = next((line.strip() for line in top.splitlines() if line.startswith("%Cpu")), "top: n/a")
    return f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {cpu}"


def generated_pool(config_path: Path | None, work: Path, quick: int | None) -> Path:
    """ingest + generate with the config, once (kept in ``work``)."""
    from naturalthoughts.atomic import write_parquet
    from naturalthoughts.generate.stage import GenerateStage
    from naturalthoughts.ingest.stage import IngestStage
    from naturalthoughts.pipeline import load_pipeline_config
    from naturalthoughts.progress import Reporter
    from naturalthoughts.runner import run_one

    root = work / (f"pool-first-{quick}" if quick else "pool")
    if (root / "traces.parquet").exists():
        return root
    config = load_pipeline_config(str(config_path) if config_path else None, str(root))
    run_one(IngestStage(config.ingest, sources=config.sources), root, reporter=Reporter(mode="off"))
    if quick:
        questions = pq.read_table(root / "questions.parquet").slice(0, quick)
        write_parquet(questions, root / "questions.parquet")
    started = time.perf_counter()
    run_one(GenerateStage(config.generate), root, reporter=Reporter(mode="off"))
    rows = pq.read_metadata(root / "traces.parquet").num_rows
    print(f"generated {rows} traces in {time.perf_counter() - started:.0f} s (not part of the timings)")
    return root


def fresh_copy(source: Path, target: Path, cache_from: Path | None = None) -> Path:
    """questions, traces and the manifest (it names the teacher) in a new run directory: an empty cache, or a copy
    of ``cache_from``'s response cache."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("questions.parquet", "traces.parquet", "manifest.json"):
        shutil.copy2(source / name, target / name)
    if cache_from is not None:
        shutil.copytree(cache_from / "cache", target / "cache")
    return target


def timed_verdicts(seconds: list[float]) -> Callable[[], None]:
    """Time every `ask` of a yes/no verdict (the judges' own time) into ``seconds``; returns the undo."""
    from naturalthoughts.annotate import base, correctness, disagree

    original = base.ask

    def ask(annotator: Any, role: Any, conversations: Any, schema: Any) -> Any:
        if schema.verdict_field is None:
            return original(annotator, role, conversations, schema)
        started = time.perf_counter()
        try:
            return original(annotator, role, conversations, schema)
        finally:
            seconds.append(time.perf_counter() - started)

    modules = (correctness, disagree)
    for module in modules:
        module.ask = ask  # type: ignore[attr-defined]
    return lambda: [setattr(module, "ask", original) for module in modules] and None


def annotate(run: Path, config_path: Path | None, mode: str) -> dict[str, Any]:
    from naturalthoughts.annotate import AnnotateStage
    from naturalthoughts.pipeline import load_pipeline_config
    from naturalthoughts.progress import Reporter
    from naturalthoughts.runner import run_one

    config = load_pipeline_config(str(config_path) if config_path else None, str(run)).annotate
    config = config.model_copy(update={"verdicts": mode})
    judge_seconds: list[float] = []
    undo = timed_verdicts(judge_seconds)
    load_before = machine_load()
    started = time.perf_counter()
    try:
        result = run_one(AnnotateStage(config), run, reporter=Reporter(mode="off")).value
    finally:
        undo()
    wall = time.perf_counter() - started
    table = pq.read_table(run / ANNOTATIONS).to_pandas()
    counts = {name: dict(c) for name, c in result.counts.items() if name in ("correctness", "disagree")}
    return {
        "wall": wall,
        "judges": sum(judge_seconds),
        "table": table,
        "counts": counts,
        "load": f"before [{load_before}] after [{machine_load()}]",
    }


def judged_rows(table: Any) -> dict[str, Any]:
    """Per judge, a mask of the rows whose verdict a judge gave."""
    masks = {}
    if "disagree_judge" in table:
        masks["disagree"] = table["disagree_judge"].notna()
    if "correct_method" in table:
        method = table["correct_method"].fillna("")
        masks["correct"] = (method != "") & ~method.str.startswith(LOCAL_METHODS)
    return masks


def agreement(schema: Any, token: Any) -> None:
    for column, asked in judged_rows(schema).items():
        both = asked & judged_rows(token)[column] & schema[column].notna() & token[column].notna()
        n = int(both.sum())
        if not n:
            print(f"  {column:<10} no rows decided by a judge in both modes")
            continue
        same = int((schema.loc[both, column] == token.loc[both, column]).sum())
        share = same / n
        print(
            f"  {column:<10} verdicts agree on {same} of {n} judged rows ({share:.1%}; target >= 98%: "
            f"{'met' if share >= 0.98 else 'MISSED'}); null in schema {int((asked & schema[column].isna()).sum())}, "
            f"in token {int((asked & token[column].isna()).sum())}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=None, help="pipeline YAML (default: the bundled default)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/nt-bench-judges"))
    parser.add_argument("--quick", type=int, nargs="?", const=12, default=None, help="only the first N questions")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--agreement-only", action="store_true", help="no timed rounds: the token path on the last schema run's cache"
    )
    args = parser.parse_args()
    pool = generated_pool(args.config, args.work, args.quick)
    traces = pq.read_metadata(pool / "traces.parquet").num_rows
    print(f"pool: {traces} traces in {pool} ({args.config or 'the bundled default config'})")
    figures: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for round_ in range(0 if args.agreement_only else args.rounds):
        for mode in MODES if round_ % 2 == 0 else MODES[::-1]:
            figures[mode].append(annotate(fresh_copy(pool, args.work / f"annotate-{mode}"), args.config, mode))
            last = figures[mode][-1]
            print(f"round {round_ + 1} {mode:<6} annotate {last['wall']:6.1f} s, judges {last['judges']:6.1f} s")
            print(f"    {last['load']}")
    # The second answers models-disagree judges are sampled (temperature 1.0): two fresh runs can differ in them, so
    # the agreement is measured on the same inputs: the token path once more, on the schema run's response cache
    # (its second answers; the token requests themselves are not in it).
    schema_run = args.work / "annotate-schema"
    same = annotate(fresh_copy(pool, args.work / "annotate-token-same", cache_from=schema_run), args.config, "token")
    print(f"\nverdict agreement, token vs schema (the same second answers; token judges {same['judges']:.1f} s):")
    schema = pq.read_table(schema_run / ANNOTATIONS).to_pandas()  # the last schema run's
    agreement(schema, same["table"])
    print(f"  counts (token):  {same['counts']}")
    if args.agreement_only:
        return 0
    print(f"  counts (schema): {figures['schema'][-1]['counts']}")
    for what in ("wall", "judges"):
        ratio = statistics.median(t[what] / s[what] for t, s in zip(figures["token"], figures["schema"], strict=True))
        label = "annotate stage" if what == "wall" else "judges' own time"
        schema_s = statistics.median(s[what] for s in figures["schema"])
        token_s = statistics.median(t[what] for t in figures["token"])
        print(f"{label:<18} schema {schema_s:6.1f} s, token {token_s:6.1f} s: token / schema = {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
