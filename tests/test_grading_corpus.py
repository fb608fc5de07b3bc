"""The grading regression corpus (tests/data/grading_corpus.yaml): real-style model replies written for the project,
each with a careful human's verdict and the reason, graded by the one checker."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from naturalthoughts.text.grading import KINDS, check_output

CORPUS = Path(__file__).parent / "data" / "grading_corpus.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))


def grade(case: dict[str, Any]):
    return check_output(
        case["kind"],
        case["gold"],
        case["output"],
        finish_reason=case.get("finish_reason", "stop"),
        thinking=case.get("thinking", False),
        options=tuple(case["options"]) if case.get("options") else None,
        n_options=case.get("n_options"),
        style=case.get("style", "default"),
    )


def test_the_corpus_is_large_varied_and_explained() -> None:
    assert len(CASES) >= 200
    assert len({case["id"] for case in CASES}) == len(CASES), "case ids are unique"
    for case in CASES:
        assert case["kind"] in KINDS and isinstance(case["verdict"], bool), case["id"]
        assert case["reason"].strip(), f"{case['id']} has no reason for its verdict"
    groups = Counter(case["id"].split("-")[0] for case in CASES)
    assert groups["number"] >= 60 and groups["math"] >= 50 and groups["choice"] >= 30 and groups["think"] >= 12
    verdicts = Counter(case["verdict"] for case in CASES)
    assert verdicts[True] >= 60 and verdicts[False] >= 60, "right and wrong answers both well represented"


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    verdict = grade(case)
    assert bool(verdict.correct) is case["verdict"], (
        f"{case['reason']} (read {verdict.extracted!r} by {verdict.method})"
    )
    if "method" in case:
        assert verdict.method == case["method"]
