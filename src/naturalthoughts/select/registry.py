"""The one place selection methods are registered: add a module under ``methods/`` and a line here."""

from __future__ import annotations

from naturalthoughts.select.base import Method
from naturalthoughts.select.methods import (
    difficulty,
    disagree,
    length,
    random,
    semantic,
    short_ref,
    strategy,
    topic,
    verbosity,
)

METHODS: dict[str, Method] = {
    m.METHOD.name: m.METHOD
    for m in (random, topic, semantic, strategy, length, verbosity, disagree, difficulty, short_ref)
}
