"""The one place annotators are registered: name -> method -> class, run in :data:`ANNOTATOR_NAMES` order.

Order matters once: ``length`` runs first so the strategy annotators can divide by ``reasoning_tokens``
(``requires = ("length",)``: :func:`with_requirements` adds it when its columns are missing or stale).
"""

from __future__ import annotations

from collections.abc import Collection

from naturalthoughts.annotate.base import AnnotateContext, Annotator
from naturalthoughts.annotate.config import ANNOTATOR_NAMES, AnnotateConfig
from naturalthoughts.annotate.correctness import CorrectnessAnnotator
from naturalthoughts.annotate.disagree import DisagreeAnnotator
from naturalthoughts.annotate.domain_llm import LLMDomainAnnotator
from naturalthoughts.annotate.domain_zero_shot import ZeroShotDomainAnnotator
from naturalthoughts.annotate.embeddings import EmbeddingsAnnotator
from naturalthoughts.annotate.length import LengthAnnotator
from naturalthoughts.annotate.pass_rate import PassRateAnnotator
from naturalthoughts.annotate.strategies_lexical import LexicalStrategiesAnnotator
from naturalthoughts.annotate.strategies_llm import LLMStrategiesAnnotator
from naturalthoughts.annotate.verbosity_llm import LLMVerbosityAnnotator
from naturalthoughts.annotate.verbosity_proxy import ProxyVerbosityAnnotator
from naturalthoughts.errors import ConfigError

ANNOTATORS: dict[str, dict[str, type[Annotator]]] = {
    "length": {"default": LengthAnnotator},
    "domain": {"zero-shot": ZeroShotDomainAnnotator, "llm": LLMDomainAnnotator},
    "strategies": {"lexical": LexicalStrategiesAnnotator, "llm": LLMStrategiesAnnotator},
    "verbosity": {"proxy": ProxyVerbosityAnnotator, "llm": LLMVerbosityAnnotator},
    "correctness": {"default": CorrectnessAnnotator},
    "pass_rate": {"default": PassRateAnnotator},
    "disagree": {"default": DisagreeAnnotator},
    "embeddings": {"default": EmbeddingsAnnotator},
}
assert tuple(ANNOTATORS) == ANNOTATOR_NAMES


def method_of(name: str, config: AnnotateConfig) -> str:
    """The configured method of an annotator (``default`` for those with one method)."""
    section = getattr(config, name, None)
    return getattr(section, "method", "default")


def resolve(names: list[str] | None, config: AnnotateConfig) -> list[str]:
    """Validate ``names`` (``--only`` or the config) and put them in run order."""
    wanted = list(config.annotators if names is None else names)
    unknown = [n for n in wanted if n not in ANNOTATORS]
    if unknown:
        raise ConfigError(f"unknown annotator(s) {', '.join(unknown)}; choose from {', '.join(ANNOTATORS)}")
    if not wanted:
        raise ConfigError(f"no annotator selected; choose from {', '.join(ANNOTATORS)}")
    return [n for n in ANNOTATORS if n in wanted]


def with_requirements(
    names: list[str], config: AnnotateConfig, current: Collection[str]
) -> tuple[list[str], list[str]]:
    """``names`` plus the annotators they require that are not ``current`` (computed from these traces), in run
    order; and the ones added."""
    wanted = set(names)
    for name in names:
        for required in annotator_class(name, method_of(name, config)).requires:
            if required not in wanted and required not in current:
                wanted.add(required)
    ordered = [n for n in ANNOTATORS if n in wanted]
    return ordered, [n for n in ordered if n not in names]


def annotator_class(name: str, method: str) -> type[Annotator]:
    methods = ANNOTATORS[name]
    if method not in methods:
        raise ConfigError(f"{name}.method={method!r} is not one of {', '.join(methods)}")
    return methods[method]


def build(names: list[str], ctx: AnnotateContext) -> list[Annotator]:
    return [annotator_class(name, method_of(name, ctx.config))(ctx) for name in names]
