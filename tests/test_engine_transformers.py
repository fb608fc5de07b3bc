"""The transformers engine on a tiny random Llama with the SmolLM2 tokenizer (CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from naturalthoughts.engines import (
    NOT_SENT,
    ChatRequest,
    SamplingParams,
    TransformersEngineConfig,
    create_engine,
    engine_identity,
)
from naturalthoughts.engines.transformers_local import TransformersEngine, cut_at_stop
from naturalthoughts.errors import ConfigError


def ask(content: str, **params: object) -> ChatRequest:
    return ChatRequest(
        messages=({"role": "user", "content": content},),
        params=SamplingParams(**{"max_tokens": 6, "temperature": 0.0, **params}),
    )


@pytest.fixture(scope="module")
def tiny_engine(tiny_llama_dir: Path) -> TransformersEngine:
    engine = create_engine(TransformersEngineConfig(model=str(tiny_llama_dir), device="cpu", batch_size=4))
    assert isinstance(engine, TransformersEngine)
    return engine


def test_batched_generation_matches_one_at_a_time(tiny_engine: TransformersEngine) -> None:
    """Left padding is right: a prompt decodes the same alone and beside longer and shorter prompts."""
    requests = [ask("Hi"), ask("Tell me about the history of the Roman empire in detail."), ask("2+2?")]
    batched = tiny_engine.generate(requests)
    alone = [tiny_engine.generate([request])[0] for request in requests]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert len({r.text for r in batched}) == 3  # the outputs depend on the prompt, so the comparison means something
    for request, result in zip(requests, batched, strict=True):
        assert result.ok and result.finish_reason in ("stop", "length")
        assert result.completion_tokens is not None and 0 < result.completion_tokens <= 6
        prompt = tiny_engine.tokenizer.apply_chat_template(
            list(request.messages), add_generation_prompt=True, tokenize=False
        )
        assert result.prompt_tokens == len(tiny_engine.tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert batched[1].prompt_tokens > batched[0].prompt_tokens  # type: ignore[operator]


def test_a_row_that_ends_early_leaves_the_batch_and_the_other_decodes_as_alone(
    tiny_engine: TransformersEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finished rows leave the batch (THIN_AT): ``generate`` is called again for the row still going, on its own
    key/value cache, and every reply is what the request gives alone."""
    prompts = ["Hi", "Tell me about the history of the Roman empire in detail."]
    free = [r.text for r in tiny_engine.generate([ask(p, max_tokens=16) for p in prompts])]
    # a stop string early in the first reply and nowhere in the second: the first row ends, the second goes on
    stop = next(free[0][i : i + 3] for i in range(1, 8) if free[0][i : i + 3] not in free[1])
    requests = [ask(p, max_tokens=16, stop=(stop,)) for p in prompts]
    alone = [tiny_engine.generate([request])[0] for request in requests]

    calls: list[int] = []
    generate = tiny_engine.model.generate

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(len(kwargs["input_ids"]))  # type: ignore[arg-type]
        return generate(*args, **kwargs)

    monkeypatch.setattr(tiny_engine.model, "generate", counted)
    batched = tiny_engine.generate(requests)
    assert calls == [2, 1]  # the whole batch, then the row still going
    assert [r.text for r in batched] == [r.text for r in alone]
    assert batched[0].text == free[0][: free[0].index(stop)] and batched[1].text == free[1]
    assert [r.completion_tokens for r in batched] == [r.completion_tokens for r in alone]
    assert [r.finish_reason for r in batched] == ["stop", alone[1].finish_reason]


def test_batches_are_as_few_and_as_even_as_batch_size_allows(tiny_engine: TransformersEngine) -> None:
    requests = [ask("x" * length) for length in range(1, 6)] + [ask("other", max_tokens=3)]
    batches = list(tiny_engine.batches(requests))  # batch_size 4: five requests share their parameters, one does not
    assert [len(batch) for batch in batches] == [3, 2, 1]
    assert batches[0] == [4, 3, 2]  # longest prompt first
    assert sorted(index for batch in batches for index in batch) == list(range(6))


def test_sampling_with_a_seed_repeats(tiny_engine: TransformersEngine) -> None:
    request = ask("Pick a word.", temperature=1.0, top_p=0.95, seed=7, max_tokens=5)
    first, second = tiny_engine.generate([request]), tiny_engine.generate([request])
    assert first[0].text == second[0].text and first[0].completion_tokens == 5


def test_should_stop_and_streaming(tiny_engine: TransformersEngine) -> None:
    requests = [ask("a", max_tokens=2), ask("b", max_tokens=3)]  # different params: two batches
    seen: list[int] = []
    results = tiny_engine.generate(requests, on_result=lambda i, _r: seen.append(i), should_stop=lambda: bool(seen))
    assert sorted(seen) == [0, 1]
    assert results[0].ok and results[1].error == NOT_SENT


def test_a_batch_that_cannot_be_rendered_is_error_rows_and_the_rest_is_answered(
    tiny_engine: TransformersEngine,
) -> None:
    broken = ChatRequest(messages=({"role": "user", "content": None},), params=ask("x").params)  # type: ignore[dict-item]
    requests = [ask("fine", max_tokens=3), broken, ask("also fine", max_tokens=3)]  # batches: [0, 2] and [1]
    results = tiny_engine.generate(requests)
    assert results[0].ok and results[2].ok
    assert results[1].error is not None and results[1].error.startswith("transformers failed: ")


def test_identity_follows_the_checkpoint(tiny_llama_dir: Path, tmp_path: Path) -> None:
    config = TransformersEngineConfig(model=str(tiny_llama_dir))
    assert engine_identity(config) == engine_identity(config)
    assert engine_identity(config).startswith(f"transformers:{tiny_llama_dir.name}@")
    assert engine_identity(TransformersEngineConfig(model="org/model")) == "transformers:org/model@main:auto"


def test_missing_checkpoint_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="could not load model"):
        create_engine(TransformersEngineConfig(model=str(tmp_path / "nothing-here")))


def test_cut_at_stop() -> None:
    assert cut_at_stop("one, two. three", [".", ","]) == ("one", True)
    assert cut_at_stop("one", ["x"]) == ("one", False)


def test_a_student_runs_in_bfloat16_only_where_the_cpu_computes_it(
    tiny_llama_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Emulated bfloat16 is several times slower than float32 on a CPU without AMX or AVX512-BF16 (measured in
    benchmarks/README.md): the student engine takes float32 there, and a bfloat16 engine asked for by hand says so."""
    import torch

    from naturalthoughts.eval.models import student_section
    from naturalthoughts.resources import bf16_native

    if torch.cuda.is_available():
        pytest.skip("the student section targets the GPU here; this test is about the CPU's number format")
    native = bf16_native("cpu")
    section = student_section(tiny_llama_dir)
    with create_engine(TransformersEngineConfig(**{**section, "device": "cpu"})) as engine:
        assert isinstance(engine, TransformersEngine)
        assert engine.model.dtype == (torch.bfloat16 if native else torch.float32)
    caplog.set_level("WARNING", logger="naturalthoughts.engines")
    with create_engine(TransformersEngineConfig(model=str(tiny_llama_dir), device="cpu", dtype="bfloat16")) as engine:
        assert engine.generate([ask("Hi")])[0].ok
    warned = [r.getMessage() for r in caplog.records if "emulates" in r.getMessage()]
    assert bool(warned) == (not native), warned
    if warned:
        assert "dtype to float32" in warned[0]
