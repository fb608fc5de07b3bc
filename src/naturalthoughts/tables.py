"""Typed tables exchanged between stages through the run directory.

Each schema lists its columns with a one-line description in the field metadata; ``docs/architecture.md``
shows the same columns. Stages that add tables keep their schema here so one file answers
"what columns does X have?".
"""

from __future__ import annotations

import pyarrow as pa


def _f(name: str, typ: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, typ, nullable=nullable, metadata={"doc": doc})


QUESTIONS = pa.schema(
    [
        _f("id", pa.string(), "stable hash of the normalised question text", nullable=False),
        _f("question", pa.string(), "the question text", nullable=False),
        _f("reference_answer", pa.string(), "reference answer; null when the source has none"),
        _f("source", pa.string(), "where the row came from: a file path, hf:ID, builtin:sample, reasoning-gym:TASK"),
        _f("source_row", pa.int64(), "1-based line (JSONL/CSV) or row (Parquet/JSON array) in the source"),
        _f("other_answer", pa.string(), "another model's answer shipped with the source (models-disagree signal)"),
        _f("other_model", pa.string(), "the model that wrote other_answer"),
        _f("domain", pa.string(), "domain label carried by the source (builtin:sample), else null"),
    ]
)

REJECTED = pa.schema(
    [
        _f("source", pa.string(), "file or source id the row came from"),
        _f("source_row", pa.int64(), "1-based line or row in the source"),
        _f("kind", pa.string(), "invalid | duplicate | near_duplicate | contaminated"),
        _f("reason", pa.string(), "what is wrong, in words"),
        _f("question", pa.string(), "the question text when it could be read"),
        _f("matched", pa.string(), "kept question id (duplicates) or benchmark:item id (contaminated)"),
        _f("raw", pa.string(), "invalid rows: the line (JSONL, CSV) or row as JSON (JSON, Parquet) as read; else null"),
    ]
)

TRACES = pa.schema(
    [
        _f("trace_id", pa.string(), "hash of question_id, sample and teacher", nullable=False),
        _f("question_id", pa.string(), "questions.id", nullable=False),
        _f("sample", pa.int32(), "sample index (0..samples-1)", nullable=False),
        _f("teacher", pa.string(), "engine:model identity of the teacher"),
        _f("reasoning", pa.string(), "text inside <think>...</think> or the server's reasoning field"),
        _f("answer", pa.string(), "text after </think>"),
        _f("finish_reason", pa.string(), "stop | length | error | ..."),
        _f("complete", pa.bool_(), "closing tag present, finished by stop, non-empty reasoning and answer"),
        _f("forced", pa.bool_(), "the toolkit closed the reasoning (thinking budget spent), not the model"),
        _f(
            "reasoning_tokens",
            pa.int64(),
            "tokens in the reasoning, counted as `tokenizer` says: generated, the server's count of the reasoning "
            "phase under a thinking budget, else completion_tokens split by character share; imported, the "
            "teacher's tokenizer when named and installed, else characters / 4 (the length annotator recounts)",
        ),
        _f("answer_tokens", pa.int64(), "tokens in the answer, counted as reasoning_tokens is"),
        _f(
            "completion_tokens",
            pa.int64(),
            "the server's count of every token it generated for the response (both phases under a thinking budget)",
        ),
        _f("reasoning_phase_tokens", pa.int64(), "server count of the reasoning phase; null without a thinking budget"),
        _f("answer_phase_tokens", pa.int64(), "server count of the answer phase; null without a thinking budget"),
        _f("prompt_tokens", pa.int64(), "prompt tokens reported by the server (summed over phases)"),
        _f("latency_s", pa.float64(), "seconds from request to full response"),
        _f("error", pa.string(), "why the request failed; null on success"),
        _f(
            "response_hash",
            pa.string(),
            "first 16 hex of sha256 of the JSON [text, reasoning, finish_reason, error] of the response the row "
            "was built from (RunDir.traces_fingerprint hashes it: a content hash of the pool, for provenance)",
        ),
        _f("origin", pa.string(), "generated (the generate stage) | imported (the ingest stage, a source with traces)"),
        _f("source", pa.string(), "imported: the file or hf:ID the trace was read from; generated: null"),
        _f("source_row", pa.int64(), "imported: 1-based line (JSONL/CSV) or row (Parquet/JSON/hf:) in source"),
        _f("system_prompt", pa.string(), "the system turn the teacher answered under; null: none"),
        _f(
            "source_correct",
            pa.bool_(),
            "correctness flag or verifier verdict shipped with an imported trace (e.g. OpenR1-Math's "
            "correctness_math_verify); null when the source has none (always for generated traces)",
        ),
        _f(
            "tokenizer",
            pa.string(),
            "what counted reasoning_tokens and answer_tokens: server:completion_tokens (split by character share) "
            "| server:phases (thinking budget) | a tokenizer name | approx:chars/4",
        ),
    ]
)

SELECTION = pa.schema(
    [
        _f("trace_id", pa.string(), "traces.trace_id", nullable=False),
        _f("rank", pa.int64(), "0-based order of selection (earlier = preferred)", nullable=False),
        _f("score", pa.float64(), "the method's score for this trace (higher = preferred); null if none"),
        _f("method", pa.string(), "the method (stage of the expression) that picked this trace"),
    ]
)


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def describe(schema: pa.Schema) -> list[tuple[str, str, str]]:
    """(name, type, doc) for each column: used by docs and ``--help``."""
    return [(f.name, str(f.type), (f.metadata or {}).get(b"doc", b"").decode()) for f in schema]


STRATEGY_COUNT = pa.struct([pa.field("strategy", pa.string()), pa.field("count", pa.int32())])

# One row per trace. Columns of annotators that were not run are null. Every model-backed
# annotator writes a ``<name>_error`` column: null when it succeeded, else the reason it gave up.
ANNOTATIONS = pa.schema(
    [
        _f("trace_id", pa.string(), "traces.trace_id", nullable=False),
        _f("question_id", pa.string(), "questions.id", nullable=False),
        _f("response_hash", pa.string(), "traces.response_hash of the trace this row was last annotated against"),
        _f("domain", pa.string(), "one of the 13 SuperGPQA domains"),
        _f("field", pa.string(), "a field beneath the domain (naturalthoughts.annotate.taxonomy)"),
        _f("domain_method", pa.string(), "which annotator decided: llm:MODEL | zero-shot:EMBEDDER"),
        _f("domain_error", pa.string(), "why the domain is null"),
        _f("strategies", pa.list_(pa.string()), "distinct meta-reasoning strategies in the trace (docs/strategies.md)"),
        _f("strategy_counts", pa.list_(STRATEGY_COUNT), "each strategy with how often it occurs"),
        _f("n_strategies", pa.int32(), "number of distinct strategies"),
        _f(
            "strategy_density",
            pa.float64(),
            "strategy occurrences (sum of strategy_counts, not distinct strategies) per 1,000 reasoning_tokens",
        ),
        _f("strategies_method", pa.string(), "lexical | llm:MODEL"),
        _f("strategies_error", pa.string(), "why strategies are null"),
        _f("verbosity", pa.float64(), "rambling score 0 (tight) .. 10 (rambling)"),
        _f("verbosity_method", pa.string(), "llm:MODEL | proxy:trigram-repetition"),
        _f("verbosity_error", pa.string(), "why verbosity is null"),
        _f("reasoning_tokens", pa.int64(), "tokens in the reasoning, counted as `tokenizer` says"),
        _f("answer_tokens", pa.int64(), "tokens in the answer (text after the reasoning), counted as `tokenizer` says"),
        _f(
            "response_tokens",
            pa.int64(),
            "tokens in the whole response (reasoning + answer + thinking tags), counted as `tokenizer` says; "
            "the server's completion_tokens when `tokenizer` is server:completion_tokens",
        ),
        _f(
            "tokenizer",
            pa.string(),
            "what counted the three lengths: a tokenizer (the teacher's own by default, e.g. SmolLM2-135M-Instruct), "
            "server:completion_tokens (the teacher's server; reasoning/answer split per phase or by characters) or "
            "approx:chars/4",
        ),
        _f("correct", pa.bool_(), "answer matches the reference; null when there is no reference"),
        _f(
            "correct_method",
            pa.string(),
            "the one checker's answer kind (number | math | choice | text), reasoning-gym:TASK (the task's scorer), "
            "llm:MODEL, or source (the imported trace's own flag)",
        ),
        _f("correct_error", pa.string(), "why correctness is null despite a reference"),
        _f("pass_rate", pa.float64(), "share of the question's samples verified correct (every trace of it)"),
        _f("pass_samples", pa.int64(), "the question's samples with a correctness verdict (pass_rate's denominator)"),
        _f("disagree", pa.bool_(), "the teacher's and the second final answers differ (checker's or judge's verdict)"),
        _f(
            "disagree_method",
            pa.string(),
            "where the second answer came from: pool:other_answer (MODEL) (the paper's cross-model signal) | "
            "self:second-sample (MODEL, T, seed) (the teacher sampled again) | engine:second-answer (MODEL, T, seed)",
        ),
        _f(
            "disagree_raw",
            pa.string(),
            'the judge\'s raw reply (JSON {"same_final_answer": bool}), or the two answers '
            "as the checker read them (A | B; (no answer) where a task's scorer read nothing)",
        ),
        _f("disagree_judge", pa.string(), "judge model identity, or checker:METHOD where the answer checker decided"),
        _f("disagree_error", pa.string(), "why disagree is null"),
    ]
)


def embeddings_schema(dim: int) -> pa.Schema:
    """``embeddings.parquet``: one float32 vector per trace (of the question, or of the trace)."""
    return pa.schema(
        [
            _f("trace_id", pa.string(), "traces.trace_id", nullable=False),
            _f("question_id", pa.string(), "questions.id", nullable=False),
            _f("embedding", pa.list_(pa.float32(), dim), f"L2-normalised float32 vector, dim {dim}"),
        ],
        metadata={"model": "", "dim": str(dim)},
    )


CHAT_MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])

# sft/NAME/train.parquet: a Hugging Face dataset of `messages` (load_dataset("parquet", data_files=...)).
SFT_EXAMPLES = pa.schema(
    [
        _f("trace_id", pa.string(), "traces.trace_id the example was built from", nullable=False),
        _f("question_id", pa.string(), "questions.id", nullable=False),
        _f("rank", pa.int64(), "the trace's rank in the selection"),
        _f("mode", pa.string(), "system-2 (<think> reasoning </think> answer) | system-1 (empty block, answer)"),
        _f("instruction", pa.string(), "mode instruction in the system message: think | no-think | adaptive (none)"),
        _f("messages", pa.list_(CHAT_MESSAGE), "chat turns: [system instruction], user question, assistant target"),
        _f("chat_template_kwargs", pa.string(), "JSON chat-template keywords of the mode (enable_thinking); or null"),
        _f("tokens", pa.int64(), "tokens of the whole example under the training chat template"),
        _f("completion_tokens", pa.int64(), "trained tokens: the assistant turn with its end-of-turn tokens"),
        _f("reasoning_tokens", pa.int64(), "reasoning tokens (student tokenizer; length:T decides on it)"),
    ]
)

# sft/NAME/dropped.parquet: selected traces that did not become examples, and why.
SFT_DROPPED = pa.schema(
    [
        _f("trace_id", pa.string(), "traces.trace_id", nullable=False),
        _f("reason", pa.string(), "incomplete | too_long | no_question"),
        _f("tokens", pa.int64(), "tokens of the full (System-2) example, for too_long; else null"),
    ]
)

# models/NAME/loss.parquet: one row per logged optimizer step (the report plots it).
LOSS_LOG = pa.schema(
    [
        _f("step", pa.int64(), "optimizer step (continues across a resume)", nullable=False),
        _f("epoch", pa.float64(), "fractional epoch"),
        _f("loss", pa.float64(), "mean loss per trained token over the logging interval"),
        _f("learning_rate", pa.float64(), "learning rate at the step"),
        _f("grad_norm", pa.float64(), "gradient norm before clipping"),
        _f("tokens", pa.int64(), "cumulative tokens seen (no padding: batches are padding-free)"),
        _f("mean_token_accuracy", pa.float64(), "share of trained tokens predicted exactly"),
        _f("elapsed_s", pa.float64(), "training wall time up to the step, summed over resumed sessions"),
        _f("session", pa.int32(), "0 for the first run, +1 for each resume from a checkpoint"),
    ]
)

# eval/NAME/samples.parquet: one row per (benchmark, item, mode, thinking budget, seed) of `nt eval`.
EVAL_SAMPLES = pa.schema(
    [
        _f("model", pa.string(), "the evaluated model's name (the eval:NAME key)", nullable=False),
        _f("engine", pa.string(), "engine:model identity that answered (part of every cache key)"),
        _f("benchmark", pa.string(), "benchmark name (naturalthoughts.benchmarks.REGISTRY)", nullable=False),
        _f("item_id", pa.string(), "the benchmark's item id", nullable=False),
        _f("seed", pa.int64(), "sampling seed; one repeat per seed (GPQA-Diamond: its own option order)"),
        _f("mode", pa.string(), "think | no-think | adaptive (naturalthoughts.text.modes)", nullable=False),
        _f("budget", pa.int64(), "thinking budget in tokens (reasoning closed there, then answered); null: none"),
        _f("subset", pa.string(), "MATH-500 level, MMLU subject, MMLU-Pro category, GPQA domain...; else null"),
        _f("prompt", pa.string(), "the user turn as sent (the mode instruction is the system turn)"),
        _f("prefill", pa.string(), "text the assistant turn was started with (think: <think>, no-think: empty block)"),
        _f("output", pa.string(), "the whole assistant turn: prefill + generated text"),
        _f("reasoning_tokens", pa.int64(), "tokens of the reasoning (see docs/evaluation.md for the count used)"),
        _f("answer_tokens", pa.int64(), "tokens after </think>"),
        _f("completion_tokens", pa.int64(), "the server's count of generated tokens (all phases)"),
        _f("prompt_tokens", pa.int64(), "prompt tokens reported by the server"),
        _f("extracted", pa.string(), "the answer read from the final answer; null: extraction failed"),
        _f("extraction", pa.string(), "the rule that found it (boxed, answer-anchor, ..., unclosed-thinking)"),
        _f("valid", pa.bool_(), "false for an option letter outside the question's range (graded wrong)"),
        _f("gold", pa.string(), "the gold answer as graded (GPQA-Diamond: its letter in this seed's order)"),
        _f("correct", pa.bool_(), "graded correct; null when the request failed or the judge gave no verdict"),
        _f("guess_correct", pa.bool_(), "MMLU-Pro official cascade only: its random guess for a failed extraction"),
        _f("score", pa.float64(), "reasoning-gym: the task's own scorer on the answer (partial credit, 0..1)"),
        _f("judge_output", pa.string(), "open-ended only: the judge's raw reply"),
        _f("finish_reason", pa.string(), "stop | length (truncated) | ..."),
        _f("forced", pa.bool_(), "the thinking budget closed the reasoning (not the model)"),
        _f("contaminated", pa.bool_(), "the item shares word n-grams with the run's questions.parquet"),
        _f("error", pa.string(), "why the request failed (a rerun retries it); null on success"),
        _f("latency_s", pa.float64(), "seconds from request to full response (as first answered, cache or not)"),
    ]
)

# eval/NAME/summary.parquet: one row per (benchmark, subset, mode, budget); subset null = the whole benchmark.
EVAL_SUMMARY = pa.schema(
    [
        _f("model", pa.string(), "the evaluated model's name", nullable=False),
        _f("benchmark", pa.string(), "benchmark name", nullable=False),
        _f("subset", pa.string(), "null for the whole benchmark; MATH-500: level 1..5"),
        _f("mode", pa.string(), "think | no-think | adaptive", nullable=False),
        _f("budget", pa.int64(), "thinking budget in tokens; null: none"),
        _f("items", pa.int64(), "distinct items"),
        _f("seeds", pa.int64(), "repeats per item (distinct seeds)"),
        _f("samples", pa.int64(), "graded samples (failed requests excluded)"),
        _f("accuracy", pa.float64(), "mean over seeds of the seed's accuracy (0..1); extraction failures are wrong"),
        _f("accuracy_stderr", pa.float64(), "standard error of the mean over seeds; null with one seed"),
        _f("accuracy_with_guess", pa.float64(), "MMLU-Pro official cascade: accuracy if failed extractions guessed"),
        _f("answered_accuracy", pa.float64(), "accuracy among the samples that gave an answer (a valid one)"),
        _f("mean_score", pa.float64(), "reasoning-gym: mean of the task scorer's partial scores"),
        _f("mean_tokens", pa.float64(), "mean reasoning + answer tokens per sample"),
        _f("mean_reasoning_tokens", pa.float64(), "mean reasoning tokens per sample"),
        _f("mean_answer_tokens", pa.float64(), "mean answer tokens per sample"),
        _f("truncation_rate", pa.float64(), "share of samples with finish_reason length"),
        _f(
            "extraction_failure_rate",
            pa.float64(),
            "the no-answer rate: share of samples with no extracted answer (unclosed and ambiguous included)",
        ),
        _f("unclosed_rate", pa.float64(), "share of samples whose thinking never closed (no answer)"),
        _f("invalid_rate", pa.float64(), "share of samples answering an impossible option letter"),
        _f("forced_rate", pa.float64(), "share of samples whose reasoning the thinking budget closed"),
        _f("errors", pa.int64(), "failed requests (not graded; a rerun retries them)"),
        _f("judge_failures", pa.int64(), "open-ended: samples the judge gave no readable verdict for"),
        _f("contaminated_items", pa.int64(), "items sharing word n-grams with the run's questions"),
    ]
)

# The tables as documented in docs/architecture.md (regenerate with `python -m naturalthoughts.tables`).
DOCUMENTED = {
    "questions.parquet": QUESTIONS,
    "rejected.parquet": REJECTED,
    "traces.parquet": TRACES,
    "annotations.parquet": ANNOTATIONS,
    "embeddings.parquet": embeddings_schema(384),
    "selections/NAME.parquet": SELECTION,
    "sft/NAME/train.parquet": SFT_EXAMPLES,
    "sft/NAME/dropped.parquet": SFT_DROPPED,
    "models/NAME/loss.parquet": LOSS_LOG,
    "eval/NAME/samples.parquet": EVAL_SAMPLES,
    "eval/NAME/summary.parquet": EVAL_SUMMARY,
}


def markdown() -> str:
    """Markdown tables of every documented table's columns."""
    parts = []
    for filename, schema in DOCUMENTED.items():
        parts.append(f"#### `{filename}`\n\n| column | type | meaning |\n|---|---|---|")
        for name, typ, doc in describe(schema):
            cell = doc.replace("|", "\\|")  # a bare pipe would end the markdown cell
            parts.append(f"| `{name}` | `{typ}` | {cell} |")
        parts.append("")
    return "\n".join(parts)


if __name__ == "__main__":
    print(markdown())
