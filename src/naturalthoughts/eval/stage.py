"""The eval stage: a model on benchmarks, in think / no-think / adaptive modes, with seeds and thinking budgets.

``EvalStage(config, model_name=NAME)`` has the manifest key ``eval:NAME``, so several models evaluate into one
run directory, each under ``RUN/eval/NAME/``:

- ``samples.parquet``: one row per sample (:data:`naturalthoughts.tables.EVAL_SAMPLES`);
- ``summary.parquet`` and ``summary.md``: accuracy (mean +- standard error over seeds), tokens, truncation,
  extraction failures (:data:`naturalthoughts.tables.EVAL_SUMMARY`).

``out=DIR`` writes those three files into ``DIR`` instead (``nt eval --out DIR`` outside a run).

Every request goes through the run's response cache: an interrupted evaluation resends only what had not
finished, and a rerun of the same model with the same seeds gives identical records. Samples are sent, graded and
written ``chunk_size`` at a time, so memory does not grow with the benchmark. Failed requests are recorded with
their error, left out of accuracy, and retried by the next run (the stage's outcome is then ``incomplete``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from naturalthoughts import benchmarks
from naturalthoughts.atomic import parquet_writer, write_parquet, write_text
from naturalthoughts.benchmarks import Grade
from naturalthoughts.engines import (
    CachedEngine,
    ChatRequest,
    ChatResult,
    Engine,
    ResponseCache,
    SamplingParams,
    ThinkingBudget,
    ThinkingEngine,
    engine_identity,
)
from naturalthoughts.engines.cached import SpendRecorder
from naturalthoughts.engines.config import EngineConfig
from naturalthoughts.engines.thinking import PhaseCallback
from naturalthoughts.errors import ConfigError, EngineFailure, Fix
from naturalthoughts.eval import contamination
from naturalthoughts.eval.compare import markdown_table
from naturalthoughts.eval.config import EvalConfig
from naturalthoughts.eval.models import model_name
from naturalthoughts.eval.opened import OpenedTemplateEngine
from naturalthoughts.eval.plan import Sample, build_plan, grade_options
from naturalthoughts.eval.records import full_output, record
from naturalthoughts.eval.resume import FinishedRecords
from naturalthoughts.eval.summary import SUMMARY_INPUT_COLUMNS, summarise
from naturalthoughts.names import check_name
from naturalthoughts.rundir import RunDir
from naturalthoughts.stage import Stage, StageContext, StageResult, Usage
from naturalthoughts.tables import EVAL_SAMPLES
from naturalthoughts.text.judge import read_verdict

if TYPE_CHECKING:
    from naturalthoughts.pipeline import PipelinePlan

SAMPLES = "samples.parquet"
SUMMARY = "summary.parquet"
SUMMARY_MD = "summary.md"


class EvalStage(Stage):
    """Evaluate one model (``config.engine``) under the name ``model_name`` (default: from the model's path)."""

    name = "eval"
    config_model = EvalConfig
    # for docs/architecture.md: what it reads and writes inside the run directory
    reads: ClassVar[tuple[str, ...]] = ("questions.parquet", "the model's files (models/NAME/)", "the judge's files")
    writes: ClassVar[tuple[str, ...]] = (f"eval/NAME/{SAMPLES}", f"eval/NAME/{SUMMARY}", f"eval/NAME/{SUMMARY_MD}")

    def __init__(
        self,
        config: EvalConfig | None = None,
        *,
        model_name: str | None = None,
        out: str | Path | None = None,
        resolve_model: Callable[[], str] | None = None,
    ) -> None:
        """``resolve_model``: what the engine's model really is (e.g. the untrained student, converted once from the
        bundled GGUF), found by :meth:`check` rather than here, so building the stage costs nothing."""
        config = config if config is not None else EvalConfig()
        name = _default_name(config) if model_name is None else check_name(model_name, "model name")
        super().__init__(config, model_name=name, out=str(Path(out).resolve()) if out is not None else None)
        self.config: EvalConfig = config
        self._resolve_model = resolve_model

    @classmethod
    def pipeline_stages(cls, plan: PipelinePlan) -> list[Stage]:
        """An evaluation of every trained student (when the plan evaluates them) and of the untrained one."""
        from naturalthoughts.eval.models import BASE_MODEL

        models = [s.name for s in plan.students if s.train is not None] if plan.evaluate else []
        models += [BASE_MODEL] if plan.evaluate_base else []
        return [eval_stage(plan.config, None if model == BASE_MODEL else model) for model in models]

    def resolve(self) -> EvalConfig:
        """The config with the model resolved (once)."""
        if self._resolve_model is not None:
            model, self._resolve_model = self._resolve_model(), None
            self.config = self.config.model_copy(update={"engine": self.config.engine.with_model(model)})
        return self.config

    def recorded_config(self) -> dict[str, Any]:
        self.resolve()
        return super().recorded_config()

    @property
    def model_name(self) -> str:
        return str(self.args["model_name"])

    @property
    def key(self) -> str:
        return f"eval:{self.model_name}"

    def out_dir(self, run: RunDir) -> Path:
        return Path(self.args["out"]) if self.args.get("out") else run.eval_dir / self.model_name

    def inputs(self, run: RunDir) -> list[Path]:
        """The questions (checked for contamination), benchmark files, and the model's and the judge's files (a
        retrained student makes its evaluation stale)."""
        config = self.config
        files = [Path(s) for s in config.sources.values() if not s.startswith("hf:") and Path(s).exists()]
        models = [*config.engine.model_files(), *(config.judge.model_files() if config.judge is not None else [])]
        return [run.questions, *files, *models]

    def outputs(self, run: RunDir) -> list[Path]:
        folder = self.out_dir(run)
        return [folder / SAMPLES, folder / SUMMARY]

    def check(self, run: RunDir) -> None:
        self.resolve()
        for name in self.config.benchmarks:
            benchmark = benchmarks.get(name)
            source = self.config.sources.get(name)
            if not benchmark.bundled and not source:
                hint = benchmark.source_hint or f"give its file or Hub id ({name}=FILE_OR_hf:ID)"
                raise ConfigError(f"benchmark {name} is not installed: {hint}")
            if source and not benchmark.accepts_source:
                raise ConfigError(f"benchmark {name} loads from its installed package and takes no file ({source})")
            if benchmark.kind == "judge" and self.config.judge is None:
                raise ConfigError(f"benchmark {name} is graded by a judge model: give one (eval.judge, or {{fix}})",
                                  fix=Fix("eval", judge_model="MODEL"))  # fmt: skip

    # ---- the work ----------------------------------------------------------------------------------------------
    def run(self, ctx: StageContext) -> StageResult:
        config = self.resolve()
        plan = build_plan(config)
        for note in plan.notes:
            ctx.progress.note(note)
        flagged, in_pool = self._contamination(ctx, plan.items)
        plan.samples = [sample for sample in plan.samples if sample.item.ref not in in_pool]
        folder = self.out_dir(ctx.run)
        folder.mkdir(parents=True, exist_ok=True)
        identity = engine_identity(config.engine)
        counter = _token_counter(config.tokenizer)
        counts = {"samples": 0, "errors": 0, "not_sent": 0, "correct": 0, "cached": 0, "resumed": 0}
        # Each finished sample's record is committed as it finishes; a rerun after a kill does only the rest.
        judged_by = engine_identity(config.judge) if config.judge is not None else None
        records = FinishedRecords(folder, self.config_fingerprint(), (identity, judged_by))  # a new model: afresh
        with ResponseCache(ctx.run.cache_db) as cache:
            spend = SpendRecorder(cache, self.key, ctx.record_id)  # a killed run's requests stay on record
            model = CachedEngine(config.engine.with_concurrency(config.concurrency), cache, spend=spend)
            judge = CachedEngine(config.judge, cache, spend=spend) if config.judge is not None else None
            try:
                with (
                    parquet_writer(folder / SAMPLES, EVAL_SAMPLES) as writer,
                    ctx.progress.task(
                        f"eval {self.model_name}", total=len(plan.samples), unit="samples",
                        tokens_per_item=_tokens_per_sample(plan.samples),
                    ) as task,
                ):  # fmt: skip
                    for budget, chunk in _chunks(plan.samples, config.chunk_size):
                        kept = {i: row for i, sample in enumerate(chunk) if (row := records.finished(sample))}
                        todo = [sample for i, sample in enumerate(chunk) if i not in kept]
                        _count_kept(counts, list(kept.values()))
                        task.advance(len(kept), stats=_stats(counts))
                        ready: dict[int, dict[str, Any]] = {}  # records made the moment their sample finished

                        def finished(index: int, result: ChatResult, todo: list[Sample] = todo, ready=ready) -> None:
                            sample = todo[index]
                            if sample.benchmark.judge is None and result.error is None:
                                ready[index] = self._record(sample, result, identity, flagged, counter)
                                records.put(sample, ready[index])
                            earlier = (result.reasoning_tokens or 0) if result.answer_tokens is not None else 0
                            task.advance(1, stats=_stats(counts), tokens=result.completion_tokens,
                                         earlier_phases=earlier, cached=result.cached)  # fmt: skip

                        def reasoned(index: int, name: str, tokens: int, cached: bool) -> None:
                            task.phase(name, tokens, cached)

                        engine = _budgeted(model, budget, todo[0].opened if todo else "", reasoned)
                        results = engine.generate([s.request for s in todo], finished, ctx.should_stop) if todo else []
                        new = iter(self._rows(todo, results, judge, identity, flagged, counter, ctx, ready, records))
                        rows = [kept[i] if i in kept else next(new) for i in range(len(chunk))]
                        writer.write_table(pa.Table.from_pylist(rows, schema=EVAL_SAMPLES))
                        _count(counts, [row for i, row in enumerate(rows) if i not in kept], results)
            finally:
                model.close()
                if judge is not None:
                    judge.close()
                records.close()
        usage = _usage(model, judge)
        _fail_if_mostly_errors(counts, config.engine)
        summary = summarise(
            pq.read_table(folder / SAMPLES, columns=SUMMARY_INPUT_COLUMNS).to_pylist(),
            frozenset(name for name in config.benchmarks if benchmarks.get(name).summarise_subsets),
        )
        write_parquet(summary, folder / SUMMARY)
        write_text(markdown_table(summary.to_pylist()) + "\n", folder / SUMMARY_MD)
        records.remove()  # samples.parquet holds every record now
        unfinished = counts["errors"] + counts["not_sent"]
        incomplete = (
            f"{unfinished} of {counts['samples']} samples not answered (the `error` column of "
            f"{folder / SAMPLES} says why; they are left out of accuracy)"
            if unfinished
            else None
        )
        return StageResult(
            counts={
                **{k: counts[k] for k in ("samples", "errors", "not_sent", "resumed")},
                "contaminated_items": len(flagged),
                "left_out_items": len(in_pool),
            },
            usage=usage,
            outputs=[folder / SAMPLES, folder / SUMMARY, folder / SUMMARY_MD],
            summary=_one_line(self.model_name, summary.to_pylist(), unfinished),
            extra={"model": self.model_name, "engine": identity},
            incomplete=incomplete,
            value=summary,
        )

    def _contamination(self, ctx: StageContext, items: dict[str, list[Any]]) -> tuple[frozenset[str], frozenset[str]]:
        """(items flagged as possibly in the pool: n-gram overlap, items left out: generated items that are
        questions of the pool)."""
        everything = [item for group in items.values() for item in group]
        templated = [item for item in everything if benchmarks.get(item.benchmark).templated]
        written = [item for item in everything if not benchmarks.get(item.benchmark).templated]
        n = self.config.contamination_ngram
        found = contamination.contaminated_refs(written, ctx.run.questions, n)
        if found:
            ctx.progress.note(contamination.warning(found, len(written), ctx.run.questions, n))
        in_pool = contamination.pool_refs(templated, ctx.run.questions)
        if in_pool:
            ctx.progress.note(
                f"{len(in_pool)} of {len(templated)} generated items are questions of the run's pool "
                f"({', '.join(sorted(in_pool)[:3])}{' ...' if len(in_pool) > 3 else ''}): left out of the evaluation "
                "(generate held-out items with another seed)"
            )
        return frozenset(found), frozenset(in_pool)

    def _rows(
        self,
        chunk: list[Sample],
        results: list[ChatResult],
        judge: Engine | None,
        identity: str,
        flagged: frozenset[str],
        counter: Any,
        ctx: StageContext,
        ready: dict[int, dict[str, Any]] | None = None,
        records: FinishedRecords | None = None,
    ) -> list[dict[str, Any]]:
        """The records of ``chunk`` (those in ``ready`` were made as their sample finished); the judged ones are
        kept in ``records`` once their verdict is in."""
        ready = ready or {}
        grades = [
            None if position in ready else _grade(sample, result, self.config)
            for position, (sample, result) in enumerate(zip(chunk, results, strict=True))
        ]
        verdicts = self._judge(chunk, grades, judge, ctx) if judge is not None else {}
        rows = []
        for position, (sample, result, grade) in enumerate(zip(chunk, results, grades, strict=True)):
            if position in ready:
                rows.append(ready[position])
                continue
            row = record(self.model_name, identity, sample, result, grade, sample.item.ref in flagged, counter)
            if position in verdicts:
                row["correct"], row["judge_output"], judged = verdicts[position]
                if records is not None and judged and result.error is None:
                    records.put(sample, row)
            rows.append(row)
        return rows

    def _record(
        self, sample: Sample, result: ChatResult, identity: str, flagged: frozenset[str], counter: Any
    ) -> dict[str, Any]:
        """The record of a sample graded without a judge."""
        grade = _grade(sample, result, self.config)
        return record(self.model_name, identity, sample, result, grade, sample.item.ref in flagged, counter)

    def _judge(
        self, chunk: list[Sample], grades: list[Grade | None], judge: Engine, ctx: StageContext
    ) -> dict[int, tuple[bool | None, str | None, bool]]:
        """Verdicts of the judge model for the judge-graded samples of ``chunk`` that have an answer: (verdict, the
        reply or its error, whether the judge answered)."""
        asked = [
            i
            for i, (sample, grade) in enumerate(zip(chunk, grades, strict=True))
            if sample.benchmark.judge is not None and grade is not None and grade.extracted is not None
        ]
        if not asked:
            return {}
        requests = [self._judge_request(chunk[i], grades[i]) for i in asked]
        replies = judge.generate(requests, should_stop=ctx.should_stop)
        verdicts: dict[int, tuple[bool | None, str | None, bool]] = {}
        for i, reply in zip(asked, replies, strict=True):
            verdict = None if reply.error else read_verdict(reply.text, reply.finish_reason)[0]
            verdicts[i] = (verdict, reply.text or reply.error, reply.error is None)
        return verdicts

    def _judge_request(self, sample: Sample, grade: Grade | None) -> ChatRequest:
        spec = sample.benchmark.judge
        assert spec is not None and grade is not None and grade.extracted is not None
        max_tokens = spec.reply.max_tokens(self.config.judge_max_tokens)
        return ChatRequest(
            messages=spec.messages(sample.item, grade.extracted),
            params=SamplingParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=0),
            json_schema=spec.reply.json_schema,
            json_schema_name=spec.reply.name,
        )


def eval_stage(config: Any, model: str | None) -> EvalStage:
    """The eval stage of the run's trained model ``model`` (``RUN/models/NAME``), or of the untrained student
    (None, evaluated as ``base``), with the config's ``eval`` section; ``config`` has ``run_dir``, ``eval`` and
    ``train`` (a pipeline or study file).

    Building it is cheap: the untrained student's weights folder (the bundled GGUF converted once) is resolved by
    the stage's ``check()``, not here."""
    import functools

    from naturalthoughts.config import validate
    from naturalthoughts.eval.models import BASE_MODEL, engine_for_folder, section_data
    from naturalthoughts.student import resolve_student, student_source

    run = RunDir(config.run_dir)
    section = section_data(config, "eval")
    resolve = None
    if model is None:
        student = section_data(config, "train").get("student")
        folder = str(student_source(student) or student)  # what the weights are made from, until resolved
        resolve = functools.partial(resolve_student, student)
    else:
        folder = str(run.models_dir / model)
    data = {**section, "engine": engine_for_folder(folder, section)}
    config_ = validate(EvalConfig, data, source="eval section")
    return EvalStage(config_, model_name=model or BASE_MODEL, resolve_model=resolve)


def _default_name(config: EvalConfig) -> str:
    return model_name(config.engine)


def _chunks(samples: list[Sample], size: int) -> Iterator[tuple[int | None, list[Sample]]]:
    """Consecutive pieces of at most ``size`` samples sharing one thinking budget."""
    start = 0
    while start < len(samples):
        budget = samples[start].budget
        end = start
        while end < len(samples) and end - start < size and samples[end].budget == budget:
            end += 1
        yield budget, samples[start:end]
        start = end


def _budgeted(model: Engine, budget: int | None, opened: str = "", on_phase: PhaseCallback | None = None) -> Engine:
    """The model, under a thinking budget when one is set (each phase goes through the response cache); a template
    that opens the reasoning itself (``opened``) gets the budget's pre-fills without that opener; ``on_phase`` hears
    of each finished reasoning phase (the progress bar)."""
    if budget is None:
        return model
    inner = OpenedTemplateEngine(model, opened) if opened else model
    return ThinkingEngine(inner, ThinkingBudget(budget=budget), on_phase)


def _tokens_per_sample(samples: list[Sample]) -> float | None:
    """The most tokens a sample may take, on average over ``samples`` (its reasoning budget plus its answer)."""
    if not samples:
        return None
    caps = [(sample.budget or 0) + sample.request.params.max_tokens for sample in samples]
    return sum(caps) / len(caps)


def _grade(sample: Sample, result: ChatResult, config: EvalConfig) -> Grade | None:
    if result.error is not None:
        return None
    grader = sample.benchmark.grade
    assert grader is not None
    options = grade_options(config, sample.seed, result.finish_reason, sample.mode)
    return grader(sample.item, full_output(sample, result), options)


def _token_counter(tokenizer: str | None) -> Any:
    if tokenizer is None:
        return None
    from naturalthoughts.text.tokens import count_tokens

    return lambda text: int(count_tokens(pa.array([text], pa.string()), tokenizer)[0].as_py())


def _count(counts: dict[str, int], rows: list[dict[str, Any]], results: list[ChatResult]) -> None:
    from naturalthoughts.engines import NOT_SENT

    for row, result in zip(rows, results, strict=True):
        counts["samples"] += 1
        counts["not_sent"] += result.error == NOT_SENT
        counts["errors"] += result.error is not None and result.error != NOT_SENT
        counts["correct"] += bool(row["correct"])
        counts["cached"] += result.cached


def _count_kept(counts: dict[str, int], rows: list[dict[str, Any]]) -> None:
    """Samples an interrupted run finished (their records were kept): counted, not done again."""
    counts["samples"] += len(rows)
    counts["resumed"] += len(rows)
    counts["correct"] += sum(bool(row["correct"]) for row in rows)


def _stats(counts: dict[str, int]) -> str:
    graded = counts["samples"] - counts["errors"] - counts["not_sent"]
    accuracy = f"{100.0 * counts['correct'] / graded:.1f}% correct so far" if graded else ""
    return " · ".join(part for part in (accuracy, f"{counts['errors']} errors" if counts["errors"] else "") if part)


def _usage(model: CachedEngine, judge: CachedEngine | None) -> Usage:
    total = Usage()
    for engine in (model, judge):
        if engine is not None:
            stats = engine.stats
            total = total + Usage(
                requests_sent=stats.requests_sent,
                cache_hits=stats.cache_hits,
                errors=stats.errors,
                prompt_tokens=stats.prompt_tokens,
                completion_tokens=stats.completion_tokens,
            )
    return total


def _fail_if_mostly_errors(counts: dict[str, int], engine: EngineConfig) -> None:
    sent = counts["samples"] - counts["not_sent"]
    if sent >= 4 and counts["errors"] > sent / 2:
        raise EngineFailure(
            f"{counts['errors']} of {sent} requests to {engine_identity(engine)} failed (the `error` column of "
            "samples.parquet says why); finished samples are cached: fix the engine and run the same command again."
        )


def _one_line(name: str, rows: list[dict[str, Any]], unfinished: int) -> str:
    parts = []
    for row in rows:
        if row["subset"] is not None or row["accuracy"] is None:
            continue
        budget = f"@{row['budget']}" if row["budget"] is not None else ""
        parts.append(f"{row['benchmark']} {row['mode']}{budget} {100 * row['accuracy']:.1f}%")
    tail = f"; {unfinished} samples unfinished" if unfinished else ""
    scores = ", ".join(parts[:6]) + (" ..." if len(parts) > 6 else "") if parts else "no graded samples"
    return f"{name}: {scores}{tail}"
