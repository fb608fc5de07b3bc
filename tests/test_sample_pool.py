"""The built-in question pool ``builtin:sample`` shipped inside the package."""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib.resources import files

import pytest

SUPERGPQA_DOMAINS = {
    "Engineering",
    "Philosophy",
    "Medicine",
    "Economics",
    "Science",
    "Law",
    "History",
    "Education",
    "Management",
    "Literature and Arts",
    "Agronomy",
    "Sociology",
    "Military Science",
}
ANSWER_TYPES = {"single_word", "short", "long", "none"}
ROW_KEYS = {"question", "reference_answer", "domain", "field", "answer_type", "responses"}
RESPONSE_KEYS = {"response_model", "response"}


def _normalise(question: str) -> str:
    # Case, punctuation and spacing differences must not hide a duplicate.
    return re.sub(r"\W+", " ", question.lower()).strip()


@pytest.fixture(scope="module")
def pool() -> list[dict]:
    resource = files("naturalthoughts") / "data" / "sample_questions.jsonl"
    rows = []
    # Reading bytes and decoding strictly fails the test on any invalid UTF-8.
    for line_no, line in enumerate(resource.read_bytes().decode("utf-8").splitlines(), start=1):
        assert line.strip(), f"line {line_no} is blank"
        row = json.loads(line)
        assert isinstance(row, dict), f"line {line_no} is not a JSON object"
        rows.append(row)
    return rows


def test_pool_size_and_domain_coverage(pool: list[dict]) -> None:
    assert len(pool) >= 130
    per_domain = Counter(row["domain"] for row in pool)
    assert set(per_domain) == SUPERGPQA_DOMAINS
    thin = {domain: n for domain, n in per_domain.items() if n < 10}
    assert not thin, f"domains with fewer than 10 questions: {thin}"


def test_rows_have_the_schema(pool: list[dict]) -> None:
    for line_no, row in enumerate(pool, start=1):
        assert set(row) == ROW_KEYS, f"line {line_no}: keys {sorted(row)}"
        assert isinstance(row["question"], str) and row["question"].strip(), f"line {line_no}: empty question"
        assert isinstance(row["reference_answer"], str), f"line {line_no}: reference_answer is not a string"
        assert isinstance(row["field"], str) and row["field"].strip(), f"line {line_no}: empty field"
        assert row["answer_type"] in ANSWER_TYPES, f"line {line_no}: answer_type {row['answer_type']!r}"


def test_answer_type_matches_reference_answer(pool: list[dict]) -> None:
    for line_no, row in enumerate(pool, start=1):
        has_answer = bool(row["reference_answer"].strip())
        assert has_answer == (row["answer_type"] != "none"), f"line {line_no}: answer_type vs reference_answer"
        if row["answer_type"] == "single_word":
            assert len(row["reference_answer"].split()) == 1, f"line {line_no}: single_word answer has spaces"


def test_answer_mix_resembles_natural_reasoning(pool: list[dict]) -> None:
    types = Counter(row["answer_type"] for row in pool)
    assert set(types) == ANSWER_TYPES
    assert types["none"] / len(pool) >= 0.10
    # NaturalReasoning is dominated by long answers; short and single-word ones must still be present.
    assert types["long"] == max(types.values())
    assert types["short"] >= 0.10 * len(pool) and types["single_word"] >= 0.05 * len(pool)


def test_no_duplicate_questions(pool: list[dict]) -> None:
    seen: dict[str, int] = {}
    for line_no, row in enumerate(pool, start=1):
        key = _normalise(row["question"])
        assert key not in seen, f"line {line_no} duplicates line {seen[key]}"
        seen[key] = line_no


def test_responses_are_well_formed(pool: list[dict]) -> None:
    with_response = 0
    for line_no, row in enumerate(pool, start=1):
        assert isinstance(row["responses"], list), f"line {line_no}: responses is not a list"
        for response in row["responses"]:
            assert set(response) == RESPONSE_KEYS, f"line {line_no}: response keys {sorted(response)}"
            assert response["response_model"].strip() and response["response"].strip(), f"line {line_no}"
        with_response += bool(row["responses"])
    # Enough rows carry another model's answer for the models-disagree signal to be exercised.
    assert with_response >= 20
