"""Answer extraction and grading (naturalthoughts.text.grading) on outputs written for the test, known answers."""

from __future__ import annotations

import threading

import pytest

from naturalthoughts.text import grading
from naturalthoughts.text.grading import (
    Extraction,
    all_boxed,
    answer_part,
    exact_match,
    extract_choice,
    extract_choice_mmlu_pro_official,
    extract_math,
    extract_number,
    grade_choice,
    grade_math,
    is_mathematical,
    last_boxed,
    math_equal,
    math_verify,
    normalise,
    numbers_equal,
)


def choice(output: str, n: int = 4, options: tuple[str, ...] | None = None) -> Extraction:
    return extract_choice(answer_part(output), n, options)


# ---- the thinking block ----------------------------------------------------------------------------------------


def test_unclosed_thinking_has_no_answer_even_when_it_names_one() -> None:
    found = choice("<think>\nThe answer is B. Let me double-check the")
    assert found.value is None and found.method == "unclosed-thinking" and not grade_choice("B", found)
    assert extract_number(answer_part("<think>so 18 eggs")).value is None
    assert extract_math(answer_part("<think>\\boxed{5}")).value is None


def test_tentative_answer_inside_thinking_is_ignored_for_the_final_one() -> None:
    output = "<think>\nMaybe the answer is (B)... no, B is wrong.\n</think>\n\nThe answer is (C)."
    assert choice(output).value == "C"
    assert extract_number(answer_part("<think>I get 12. Wait, 18.</think>\nAnswer: 18")).value == "18"
    math = "<think>\\boxed{3}? no</think>\nSo the result is $\\boxed{\\frac{1}{2}}$."
    assert extract_math(answer_part(math)).value == "\\frac{1}{2}"
    # the last closing tag wins when a model writes several
    assert choice("<think>a</think> Answer: A <think>b</think> Answer: D").value == "D"


def test_no_thinking_block_at_all_grades_the_whole_text() -> None:
    assert choice("Answer: D").value == "D"


# ---- option letters --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "n", "expected", "method"),
    [
        ("Answer: B", 4, "B", "answer-anchor"),
        ("answer: b", 4, "B", "answer-anchor"),  # lower case
        ("The correct answer is (d).", 4, "D", "answer-anchor"),
        ("**Answer:** (C)", 4, "C", "answer-anchor"),
        ("Final answer: **A**", 4, "A", "answer-anchor"),
        ("the correct option is J", 10, "J", "answer-anchor"),
        ("Option A is tempting but \\boxed{C}", 4, "C", "boxed"),
        ("so \\boxed{A} ... on reflection \\boxed{\\text{D}}", 4, "D", "boxed"),  # several boxed: the last
        ("\\boxed{(b)}", 4, "B", "boxed"),
        ("\\boxed{B. 42 kg}", 4, "B", "boxed"),
        ("After all that:\n\n(B)", 4, "B", "letter-line"),
        ("c", 4, "C", "letter-line"),
        ("We get B because of the sign.", 4, "B", "last-letter"),
        ("A cell divides. So the final choice: D", 4, "D", "answer-anchor"),  # the article "A" is not an answer
    ],
)
def test_choice_patterns(text: str, n: int, expected: str, method: str) -> None:
    found = choice(text, n)
    assert (found.value, found.method, found.valid) == (expected, method, True)


def test_pronoun_i_in_a_ten_option_question() -> None:
    # "I" is option I of ten, but "I think" / "I'm" / "I am" are the pronoun
    assert choice("I think it is the third one. I'm fairly sure. I am done.", 10).value is None
    assert choice("**Answer:** I think C", 10).value == "C"
    assert choice("I considered all of them; the answer is I.", 10).value == "I"
    assert choice("Answer: I", 10) == Extraction("I", "answer-anchor", True)
    assert choice("The answer is (I)", 10).value == "I"


def test_options_out_of_range_are_invalid_answers_not_failures() -> None:
    found = choice("Answer: E", 4)
    assert (found.value, found.valid) == ("E", False) and not grade_choice("E", found)
    assert choice("Answer: I", 4).valid is False  # option I does not exist among four
    assert choice("\\boxed{F}", 5).valid is False
    # the last standing letter only ever considers letters in range
    assert choice("It is G, or maybe B", 4).value == "B"
    with pytest.raises(ValueError):
        extract_choice("A", 27)


def test_option_text_written_out() -> None:
    options = ("London", "Paris", "Rome", "Oslo")
    assert choice("Paris", 4, options) == Extraction("B", "option-text")
    assert choice("\\boxed{\\text{Rome}}", 4, options).value == "C"
    assert choice("Somewhere in France", 4, options).value is None


def test_mmlu_pro_official_cascade_takes_first_matches_after_the_thinking_block() -> None:
    text = "<think>the answer is (A)</think> I believe the answer is (C), but Answer: D"
    found = extract_choice_mmlu_pro_official(answer_part(text), 10)
    assert (found.value, found.method) == ("C", "official-answer-is")  # first "answer is", as the official script
    assert extract_choice_mmlu_pro_official("answer: B then\nAnswer: C", 10).value == "B"
    # stage 3: the last standalone capital A-J, which picks up the pronoun (a known flaw, kept for fidelity)
    assert extract_choice_mmlu_pro_official("Between B and D, I", 10).value == "I"
    assert extract_choice_mmlu_pro_official("no letters here", 10).value is None
    assert extract_choice_mmlu_pro_official(None, 10).method == "unclosed-thinking"


# ---- numbers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "method"),
    [
        ("She earns 9 * 2 = $18 a day.\nThe answer is 18.", "18", "answer-anchor"),
        ("3 + 4 = 7 and then\n#### 1,234", "1234", "answer-anchor"),
        ("\\boxed{70}", "70", "boxed"),
        ("\\boxed{12} hmm no \\boxed{\\$1,500}", "1500", "boxed"),
        ("I got 5 apples, then 12", "12", "last-number"),
        ("**Answer:** $-3.5$", "-3.5", "answer-anchor"),
    ],
)
def test_number_patterns(text: str, expected: str, method: str) -> None:
    assert extract_number(text) == Extraction(expected, method)


def test_numbers_compare_as_decimals() -> None:
    assert numbers_equal("18", "18.00") and numbers_equal("70", "070") and not numbers_equal("18", "17")
    assert not numbers_equal("18", None)
    assert numbers_equal("0.5", "\\frac{1}{2}")  # not a plain number: math-verify decides
    assert extract_number("no digits") == Extraction(None)


# ---- math (math-verify) ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "output", "correct"),
    [
        ("\\frac{14}{3}", "First \\boxed{3}, then correcting: \\boxed{\\frac{14}{3}}", True),  # several boxed
        ("\\frac{14}{3}", "\\boxed{\\frac{14}{3}} was wrong, it is \\boxed{3}", False),
        ("\\dfrac{9}{7}", "so it is $\\frac{9}{7}$", True),  # gold outside an environment (#70)
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "\\boxed{(3,\\frac{\\pi}{2})}", True),
        ("1-\\frac{1}{\\mathrm{e}}", "\\boxed{1+\\frac{1}{\\mathrm{e}}}", False),  # half-parsed LaTeX (PR #82)
        ("1-\\frac{1}{\\mathrm{e}}", "\\boxed{1-\\frac{1}{e}}", True),
        ("3x-y+13=0", "\\boxed{3x+4y+14=0}", False),  # equations (#60)
        ("1331, 1728", "\\boxed{1728}", False),  # multi-answer gold (#47)
        ("73", "The answer is **73**", True),  # bold markdown (#76)
        ("5", "I tried 3 and finally 5", True),
        ("3", "I tried 3 and finally 5", False),  # prose: the last number, not any number
        ("\\text{Monday}", "\\boxed{\\text{Monday}}", True),
        ("\\text{Monday}", "Monday", False),  # prose alone is no answer (extraction failure)
        ("10", "", False),
    ],
)
def test_math_grading_with_known_pitfalls(gold: str, output: str, correct: bool) -> None:
    assert grade_math(gold, extract_math(output)) is correct


def test_math_equal_puts_gold_first_and_works_inside_threads() -> None:
    assert math_equal("\\frac{1}{2}", "0.5") and not math_equal("\\frac{1}{2}", None)
    results: list[bool] = []
    worker = threading.Thread(target=lambda: results.append(math_equal("\\sqrt{2}", "\\sqrt 2")))
    worker.start()
    worker.join()
    assert results == [True]  # signal-based timeouts would raise "signal only works in main thread"


def test_boxed_helpers_balance_nested_braces() -> None:
    text = r"so $\boxed{\frac{1}{2}}$ and then \boxed{x^{2}+1} and \boxed{open"
    assert all_boxed(text) == [r"\frac{1}{2}", "x^{2}+1"] and last_boxed(text) == "x^{2}+1"
    assert last_boxed("no box") is None


# ---- the neutral versions of the annotate stage's helpers ------------------------------------------------------


def test_reference_answers_for_annotation() -> None:
    assert math_verify("19 MPa", "The stress is 19 MPa.") and is_mathematical("19 MPa")
    assert math_verify("x^2+1", "so $x^2+1$") and not math_verify("x^2+1", "so $x^2-1$")
    assert math_verify("1331, 1728", "\\boxed{1331} and \\boxed{1728}")  # several boxed parts together
    assert not math_verify("3x-y+13=0", "\\boxed{3x+4y+14=0}")
    assert not is_mathematical("the mitochondria")
    assert normalise("The  Mitochondria!") == "mitochondria"
    assert exact_match("Paris", "The answer is Paris.") and exact_match("Paris", "\\boxed{\\text{Paris}}")
    assert not exact_match("Paris", "London") and not exact_match("", "anything")


def test_module_uses_the_shared_thinking_split() -> None:
    assert grading.answer_part("<think>x</think>\n y ") == "y"
