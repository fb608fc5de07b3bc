"""Every benchmark's prompt and grader, on outputs written for the test with known answers; GPQA-Diamond's shuffle."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from naturalthoughts import benchmarks
from naturalthoughts.benchmarks import BenchmarkItem, GradeOptions
from naturalthoughts.benchmarks.choice import permutation, shuffled
from naturalthoughts.text.choices import mmlu_pro_official_guess
from naturalthoughts.text.judge import judge_messages, read_verdict

TEN = tuple(f"option {c}" for c in "ABCDEFGHIJ")


def item(name: str, answer: str, choices: tuple[str, ...] | None = None, **metadata: object) -> BenchmarkItem:
    return BenchmarkItem(name, "t1", "What is asked?", answer, choices, metadata=dict(metadata))


def grade(name: str, it: BenchmarkItem, output: str | None, official: bool = False, seed: int = 0):
    entry = benchmarks.get(name)
    assert entry.grade is not None
    return entry.grade(it, output, GradeOptions(seed=seed, official=official))


CHOICE_CASES = [
    ("<think>\nIt could be A.\n</think>\n\nAnswer: C", "C", True),
    ("<think>\nAnswer: C, surely", None, False),  # unclosed thinking: no answer
    ("<think>x</think>\nanswer: c", "C", True),  # lower case
    ("<think>x</think>\nFirst \\boxed{A}, then \\boxed{C}", "C", True),  # several boxed
    ("<think>x</think>\nAnswer: F", "F", False),  # out of range for four options
    ("<think>x</think>\nI think it is the last one.", None, False),  # the pronoun is no answer
]


@pytest.mark.parametrize("name", ["gpqa_diamond", "mmlu", "arc_challenge", "medqa", "supergpqa", "mmlu_pro"])
@pytest.mark.parametrize(("output", "extracted", "correct"), CHOICE_CASES)
def test_choice_graders(name: str, output: str, extracted: str | None, correct: bool) -> None:
    it = item(name, "C", ("w", "x", "y", "z"))
    result = grade(name, it, output)
    assert (result.extracted, result.correct) == (extracted, correct)
    assert result.valid is (extracted != "F")


@pytest.mark.parametrize("name", ["mmlu_pro", "supergpqa"])
def test_ten_option_graders_read_option_i_but_not_the_pronoun(name: str) -> None:
    it = item(name, "I", TEN)
    assert grade(name, it, "<think>x</think>\nThe answer is (I)").correct
    assert grade(name, it, "<think>x</think>\nI believe it must be I.").extracted == "I"
    assert grade(name, it, "<think>x</think>\nI am not sure.").extracted is None
    assert grade(name, it, "<think>x</think>\nAnswer: K").valid is False  # beyond J


def test_mmlu_pro_official_cascade_reports_the_random_guess_apart() -> None:
    it = item("mmlu_pro", "B", TEN[:4])
    hit = grade("mmlu_pro", it, "<think>the answer is (A)</think>\nthe answer is (B)", official=True)
    assert (hit.extracted, hit.correct, hit.guess_correct) == ("B", True, None)
    miss = grade("mmlu_pro", it, "<think>x</think>\nno idea", official=True)
    assert miss.extracted is None and miss.correct is False
    # the official scripts re-seed 12345 before every guess: the guess depends only on the number of options
    assert miss.guess_correct == (mmlu_pro_official_guess(4) == "B")
    other = grade("mmlu_pro", replace(it, id="t2", answer=mmlu_pro_official_guess(4)), "no idea", official=True, seed=3)
    assert other.guess_correct is True
    default = grade("mmlu_pro", it, "<think>x</think>\nno idea")
    assert default.guess_correct is None, "the project's extraction never guesses"


def test_mmlu_pro_prompts() -> None:
    it = item("mmlu_pro", "B", TEN, category="physics")
    entry = benchmarks.get("mmlu_pro")
    assert entry.prompt is not None
    plain = entry.prompt(it, GradeOptions())
    assert "where LETTER is one of ABCDEFGHIJ" in plain and "J) option J" in plain
    official = entry.prompt(it, GradeOptions(official=True))
    assert official.startswith("The following are multiple choice questions (with answers) about physics.")
    assert 'format of "The answer is (X)"' in official and official.endswith("Answer: Let's think step by step.")


def test_supergpqa_uses_its_official_zero_shot_prompt() -> None:
    entry = benchmarks.get("supergpqa")
    assert entry.prompt is not None
    text = entry.prompt(item("supergpqa", "A", TEN), GradeOptions())
    assert "There is only one correct answer." in text
    assert "where LETTER is one of A, B, C, D, E, F, G, H, I, or J." in text and "\nA) option A\n" in text


def test_gpqa_prompt_is_simple_evals_word_for_word() -> None:
    entry = benchmarks.get("gpqa_diamond")
    assert entry.prompt is not None
    text = entry.prompt(item("gpqa_diamond", "A", ("w", "x", "y", "z")), GradeOptions())
    assert text == (
        "Answer the following multiple choice question. The last line of your response should be of the following "
        "format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by step before "
        "answering.\n\nWhat is asked?\n\nA) w\nB) x\nC) y\nD) z"
    )


@pytest.mark.parametrize(
    ("name", "gold", "output", "extracted", "correct"),
    [
        ("gsm8k", "18", "<think>16 - 3 - 4 = 9; 9 * 2 = 18</think>\nShe makes $18.\n#### 18", "18", True),
        ("gsm8k", "18", "<think>maybe 18</think>\nThe answer is 20.", "20", False),
        ("gsm8k", "1234", "<think>x</think>\n\\boxed{1,234}", "1234", True),
        ("gsm8k", "18", "<think>The answer is 18", None, False),
        ("aime2025", "70", "<think>x</think>\n\\boxed{070}", "70", True),  # the number read, as a number
        ("aime2025", "70", "<think>x</think>\n\\boxed{16} then \\boxed{70}", "70", True),
        ("math500", "\\frac{14}{3}", "<think>x</think>\n$\\boxed{\\dfrac{14}{3}}$", "14/3", True),
        (
            "math500",
            "\\left( 3, \\frac{\\pi}{2} \\right)",
            "<think>x</think>\n\\boxed{(3, \\frac{\\pi}{2})}",
            "(3, \\frac{\\pi}{2})",
            True,
        ),
        ("math500", "3", "<think>\\boxed{3}</think>\nI could not finish.", None, False),
    ],
)
def test_math_graders(name: str, gold: str, output: str, extracted: str | None, correct: bool) -> None:
    result = grade(name, item(name, gold), output)
    assert (result.extracted, result.correct) == (extracted, correct)


def test_math_prompts_ask_for_a_box() -> None:
    for name in ("gsm8k", "aime2025", "math500"):
        entry = benchmarks.get(name)
        assert entry.prompt is not None
        assert entry.prompt(item(name, "1"), GradeOptions()).startswith("Solve the following math problem.")


def test_gpqa_gold_letters_spread_over_a_to_d_across_items_and_seeds() -> None:
    items = benchmarks.load("gpqa_diamond")
    golds = Counter(shuffled(it, seed).answer for it in items for seed in range(4))
    assert set(golds) == set("ABCD")
    assert min(golds.values()) > 0.18 * sum(golds.values()), f"gold letters are lopsided: {golds}"
    # every seed on its own spreads them too (one seed shared by every item would put them under one letter)
    for seed in range(4):
        assert len({shuffled(it, seed).answer for it in items}) == 4
    # and one item gets a fresh permutation per seed (a new repeat), the same one on every call
    first = items[0]
    orders = {tuple(permutation(first, seed)) for seed in range(24)}
    assert len(orders) > 6 and permutation(first, 3) == permutation(first, 3)
    asked = shuffled(first, 5)
    assert asked.answer_text == first.answer_text and sorted(asked.choices or ()) == sorted(first.choices or ())
    assert benchmarks.get("gpqa_diamond").variant(first, 5) == asked


def test_open_ended_verdicts_go_through_the_one_judge_path() -> None:
    assert read_verdict('{"correct": true}') == (True, None)
    assert read_verdict('noise {"correct": false} noise') == (False, None)
    assert read_verdict('{"correct": "yes"}')[0] is None  # a string is not a boolean
    assert read_verdict('{"correct": tr')[0] is None and read_verdict(None)[0] is None
    cut = read_verdict('{"correct": true}', finish_reason="length")
    assert cut == (None, "the judge's reply was cut at max_tokens")
    entry = benchmarks.get("open_ended")
    assert entry.judge is not None and entry.judge.reply.json_schema["required"] == ["correct"]
    it = item("open_ended", "Water boils at 100 degrees Celsius at sea level.")
    messages = entry.judge.messages(it, "At 100 C.")
    assert "Water boils at 100" in messages[-1]["content"] and "At 100 C." in messages[-1]["content"]
    # the chat annotate's correctness judge sends for the same question, reference and answer
    assert messages == judge_messages(it.question, it.answer, "At 100 C.")
    assert grade("open_ended", it, "<think>hmm</think>\nAt 100 C.").extracted == "At 100 C."
    assert grade("open_ended", it, "<think>hmm").extracted is None


def test_open_ended_loads_a_file_and_names_bad_rows(tmp_path: Path) -> None:
    from naturalthoughts.errors import BadInputError

    good = tmp_path / "qa.jsonl"
    rows = [{"id": "q1", "question": "Why is the sky blue?", "reference_answer": "Rayleigh scattering"},
            {"question": "2+2?", "answer": "4"}]  # fmt: skip
    good.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    loaded = benchmarks.load("open_ended", str(good))
    assert [(i.id, i.answer) for i in loaded] == [("q1", "Rayleigh scattering"), ("2", "4")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "no reference"}) + "\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="row 1 has no a reference answer"):
        benchmarks.load("open_ended", str(bad))


def test_every_registered_benchmark_can_prompt_and_grade() -> None:
    for name, entry in benchmarks.REGISTRY.items():
        assert entry.prompt is not None and entry.grade is not None and entry.extraction, name
        assert (entry.kind == "judge") == (entry.judge is not None), name
    assert benchmarks.PAPER == ("gpqa_diamond", "math500", "mmlu_pro", "supergpqa")
    assert {n: benchmarks.get(n).paper_repeats for n in benchmarks.PAPER} == {
        "gpqa_diamond": 24, "math500": 16, "mmlu_pro": 1, "supergpqa": 1}  # fmt: skip


def test_simple_evals_reading_for_choice_benchmarks() -> None:
    from naturalthoughts.eval.config import EvalConfig
    from naturalthoughts.eval.plan import grade_options

    it = item("gpqa_diamond", "B", ("w", "x", "y", "z"))
    output = "<think>x</think>\nAnswer: B\nOn reflection...\nAnswer: C"
    assert grade("gpqa_diamond", it, output).extracted == "C"  # the project's reading: the last anchor
    options = grade_options(EvalConfig(simple_evals=True), 0)
    strict = benchmarks.get("gpqa_diamond").grade(it, output, options)  # type: ignore[misc]
    assert (strict.extracted, strict.correct, strict.method) == ("B", True, "simple-evals")
