"""One staleness authority: the runner's fingerprints of a stage's config (volatile fields left out at any depth,
declared where the fields are) and of everything the stage reads.

The stages are the production ones, run through the production runner on real files.
"""

from __future__ import annotations

from naturalthoughts.annotate.config import AnnotateConfig
from naturalthoughts.annotate.stage import AnnotateStage
from naturalthoughts.config import volatile_fields, volatile_paths
from naturalthoughts.engines.config import OpenAIEngineConfig
from naturalthoughts.eval.config import EvalConfig
from naturalthoughts.eval.stage import EvalStage
from naturalthoughts.generate.config import GenerateConfig
from naturalthoughts.generate.stage import GenerateStage
from naturalthoughts.runner import _changed_keys


def _endpoint(**fields: object) -> OpenAIEngineConfig:
    return OpenAIEngineConfig(**{"base_url": "http://127.0.0.1:9/v1", "model": "m", **fields})  # type: ignore[arg-type]


def test_an_engines_throughput_fields_are_volatile_at_any_depth() -> None:
    config = AnnotateConfig(annotator_engine=_endpoint(concurrency=4))
    assert "annotator_engine.concurrency" in volatile_paths(config)
    assert "annotator_engine.concurrency" in volatile_fields(AnnotateConfig)  # what the docs list
    faster = config.model_copy(update={"annotator_engine": _endpoint(concurrency=64, timeout_s=5, max_retries=1)})
    assert AnnotateStage(faster).config_fingerprint() == AnnotateStage(config).config_fingerprint()
    other_model = config.model_copy(update={"annotator_engine": _endpoint(model="other")})
    assert AnnotateStage(other_model).config_fingerprint() != AnnotateStage(config).config_fingerprint()
    before, after = AnnotateStage(config), AnnotateStage(other_model)
    assert _changed_keys(before.recorded_config(), after.recorded_config(), after.volatile_paths()) == [
        "annotator_engine.model"
    ]


def test_every_stage_with_an_engine_ignores_its_concurrency() -> None:
    generate = GenerateConfig(engine=_endpoint())
    assert (
        GenerateStage(generate).config_fingerprint()
        == GenerateStage(
            generate.model_copy(update={"engine": _endpoint(concurrency=99), "concurrency": 3})
        ).config_fingerprint()
    )
    evaluation = EvalConfig(engine=_endpoint())
    assert (
        EvalStage(evaluation, model_name="m").config_fingerprint()
        == EvalStage(
            evaluation.model_copy(update={"engine": _endpoint(concurrency=2), "concurrency": 5}), model_name="m"
        ).config_fingerprint()
    )
