"""The one answer checker (naturalthoughts.text.grading and its readers) on outputs written for the test, known answers.

The regression corpus (tests/data/grading_corpus.yaml, test_grading_corpus.py) holds the real-style cases with their
verdicts; this file checks the mechanisms: the final answer, each reader's rules, the published readings, math-verify
outside the main thread, batches in processes, the kind of a reference.
"""

from __future__ import annotations

import random
import threading

import pytest

from naturalthoughts.text import mathcheck
from naturalthoughts.text.answers import Extraction, all_boxed, last_boxed, slots
from naturalthoughts.text.choices import (
    extract_choice,
    extract_choice_mmlu_pro_official,
    extract_choice_simple_evals,
    mmlu_pro_official_guess,
)
from naturalthoughts.text.grading import (
    CheckRequest,
    answer_part,
    check,
    check_many,
    check_output,
    check_request,
    kind_of,
    question_options,
    read_math,
    same_answer,
)
from naturalthoughts.text.numbers import read_number


def choice(output: str, n: int = 4, options: tuple[str, ...] | None = None) -> Extraction:
    return extract_choice(answer_part(output), n, options)


# ---- the final answer ------------------------------------------------------------------------------------------


def test_unclosed_thinking_has_no_answer_even_when_it_names_one() -> None:
    found = choice("<think>\nThe answer is B. Let me double-check the")
    assert found.value is None and found.method == "unclosed-thinking"
    assert read_number(answer_part("<think>so 18 eggs"))[0].value is None
    assert read_math(answer_part("<think>\\boxed{5}")).value is None


def test_a_reply_cut_before_closing_its_reasoning_has_no_answer_whatever_its_tags() -> None:
    tagless = "9 eggs at $2 each, so the answer is 18 and then"
    cut = check_output("number", "18", tagless, finish_reason="length", thinking=True)
    assert (cut.correct, cut.extracted, cut.method) == (False, None, "unclosed-thinking")
    # the same text finished normally, or in no-think mode, is graded from its text
    assert check_output("number", "18", tagless, finish_reason="stop", thinking=True).correct
    assert check_output("number", "18", tagless, finish_reason="length", thinking=False).correct
    # reasoning closed, then the answer cut short: the stated answer counts
    closed = "<think>r</think>\nThe answer is 18 because"
    assert check_output("number", "18", closed, finish_reason="length", thinking=True).correct


def test_tentative_answers_inside_the_reasoning_are_ignored_and_stray_closing_tags_are_not_the_end() -> None:
    assert choice("<think>\nMaybe (B)... no.\n</think>\n\nThe answer is (C).").value == "C"
    assert choice("<think>a</think> Answer: A <think>b</think> Answer: D").value == "D"
    assert answer_part("<think>r</think>\nThe answer is 5.\n</think>\n") == "The answer is 5."
    assert answer_part("<think>r</think>\n \n</think>") == ""
    assert answer_part("plain reply") == "plain reply"


# ---- option letters --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "n", "expected", "method"),
    [
        ("Answer: B", 4, "B", "answer-anchor"),
        ("answer: b", 4, "B", "answer-anchor"),
        ("The correct answer is (d).", 4, "D", "answer-anchor"),
        ("**Answer:** (C)", 4, "C", "answer-anchor"),
        ("Final answer: **A**", 4, "A", "answer-anchor"),
        ("the correct option is J", 10, "J", "answer-anchor"),
        ("I'd go with option C.", 4, "C", "answer-anchor"),
        ("(B) is correct.", 4, "B", "answer-anchor"),
        ("Option A is tempting but \\boxed{C}", 4, "C", "boxed"),
        ("so \\boxed{A} ... on reflection \\boxed{\\text{D}}", 4, "D", "boxed"),
        ("<answer>C</answer>", 4, "C", "answer-tag"),
        ("After all that:\n\n(B)", 4, "B", "letter-line"),
        ("We get B because of the sign.", 4, "B", "last-line"),
        ("A cell divides. So the final choice: D", 4, "D", "answer-anchor"),
    ],
)
def test_choice_patterns(text: str, n: int, expected: str, method: str) -> None:
    found = choice(text, n)
    assert (found.value, found.method, found.valid) == (expected, method, True)


@pytest.mark.parametrize(
    "text",
    [
        "Answer: C or D",
        "The answers are (A) and (C).",
        "(A) and (C)",
        "I would go with C, though D is also plausible.",
        "Answer: B, but D could also be correct.",
        "\\boxed{B \\text{ or } C}",
        "Answer: B/C",
    ],
)
def test_two_letters_or_a_hedge_are_no_answer(text: str) -> None:
    assert choice(text) == Extraction(None, "ambiguous")


def test_letters_in_prose_are_not_answers_but_rejected_letters_do_not_hedge() -> None:
    assert choice("The field B is zero inside the conductor.").value is None
    assert choice("This points to Vitamin D deficiency.").value is None
    assert choice("Answer: B, since A is wrong.").value == "B"
    assert choice("Answer: B, not D.").value == "B"


def test_pronoun_i_in_a_ten_option_question() -> None:
    assert choice("I think it is the third one. I'm fairly sure. I am done.", 10).value is None
    assert choice("**Answer:** I think C", 10).value == "C"
    assert choice("I considered all of them; the answer is I.", 10).value == "I"
    assert choice("The answer is (I)", 10).value == "I"


def test_options_out_of_range_are_invalid_answers_not_failures() -> None:
    found = choice("Answer: E", 4)
    assert (found.value, found.valid) == ("E", False)
    assert not check("choice", "E", "Answer: E", n_options=4).correct
    assert choice("\\boxed{F}", 5).valid is False
    with pytest.raises(ValueError):
        extract_choice("A", 27)


def test_an_option_named_by_its_text_or_its_value() -> None:
    options = ("London", "Paris", "Rome", "Oslo")
    assert choice("Paris", 4, options) == Extraction("B", "option-text")
    assert choice("\\boxed{\\text{Rome}}", 4, options).value == "C"
    assert choice("Somewhere in France", 4, options).value is None
    energies = ("1.6 eV", "3.2 eV", "13.2 eV", "6.4 eV")
    assert choice("So the photon carries... Answer: 3.2 eV", 4, energies).value == "B"
    assert choice("Answer: 13.2 eV", 4, energies).value == "C"
    assert choice("Answer: 6.4", 4, energies).value == "D"


def test_mmlu_pro_official_cascade_strips_bold_and_takes_first_matches() -> None:
    text = "<think>the answer is (A)</think> I believe the answer is (C), but Answer: D"
    found = extract_choice_mmlu_pro_official(answer_part(text), 10)
    assert (found.value, found.method) == ("C", "official-answer-is")
    assert extract_choice_mmlu_pro_official("answer: B then\nAnswer: C", 10).value == "B"
    # "**" is removed first, as evaluate_from_api.py does: otherwise stage 3 would pick the last letter, D
    assert extract_choice_mmlu_pro_official("The answer is **(C)**. Option D is tempting.", 10).value == "C"
    assert extract_choice_mmlu_pro_official("Between B and D, I", 10).value == "I"  # a known flaw, kept
    assert extract_choice_mmlu_pro_official(None, 10).method == "unclosed-thinking"


def test_mmlu_pro_official_guess_is_reseeded_before_every_draw() -> None:
    for n in (4, 7, 10):
        official = random.Random(12345)  # the scripts: random.seed(12345); random.randint(0, len(options) - 1)
        assert mmlu_pro_official_guess(n) == "ABCDEFGHIJ"[official.randint(0, n - 1)]
    verdict = check("choice", mmlu_pro_official_guess(10), "no idea", n_options=10, style="mmlu-pro-official")
    assert (verdict.correct, verdict.guess_correct) == (False, True)
    assert check("choice", "A", "no idea", n_options=10).guess_correct is None


def test_simple_evals_strict_reading() -> None:
    assert extract_choice_simple_evals("Answer: B\nthen\nAnswer: C", 4).value == "B"  # first match
    assert extract_choice_simple_evals("Answer:$D$", 4).value == "D"
    assert extract_choice_simple_evals("The answer is (B)", 4).value is None
    assert extract_choice_simple_evals("Answer: E", 4).value is None  # [A-D] only
    lower = check("choice", "B", "answer: b", n_options=4, style="simple-evals")
    assert (lower.extracted, lower.correct) == ("b", False)  # compared as written, as simple-evals does
    assert check("choice", "B", "answer: b", n_options=4).correct


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
        ("\\boxed{\\dfrac{8}{3}}", "8/3", "boxed"),
        ("\\boxed{\\$57,\\!500}", "57500", "boxed"),
        ("The GCD is <answer>1</answer>", "1", "answer-tag"),
        ("5\n\n1. First add.\n2. Then check 2 and 3.", "5", "number-line"),
    ],
)
def test_number_patterns(text: str, expected: str, method: str) -> None:
    assert read_number(text)[0] == Extraction(expected, method)


def test_numbers_compare_exactly_with_accepted_readings() -> None:
    assert check("number", "18", "\\boxed{18.00}").correct and check("number", "70", "\\boxed{070}").correct
    assert not check("number", "18", "\\boxed{17}").correct
    assert check("number", "0.5", "\\boxed{\\frac{1}{2}}").correct
    assert check("number", "0.25", "\\boxed{25\\%}").correct and check("number", "25", "\\boxed{25\\%}").correct
    assert check("number", "0.33", "\\boxed{1/3}").correct  # a fraction rounds to the gold's decimals
    assert not check("number", "0.33", "\\boxed{0.333}").correct  # a decimal is taken as written
    assert check("number", "1024", "\\boxed{2^{10}}").correct  # an expression: math equality
    none = check("number", "5", "no digits here")
    assert (none.correct, none.extracted) == (False, None)


# ---- math ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "output", "correct"),
    [
        ("\\frac{14}{3}", "First \\boxed{3}, then correcting: \\boxed{\\frac{14}{3}}", True),
        ("\\dfrac{9}{7}", "so it is $\\frac{9}{7}$", True),  # gold outside an environment (math-verify #70)
        ("1-\\frac{1}{\\mathrm{e}}", "\\boxed{1+\\frac{1}{\\mathrm{e}}}", False),  # half-parsed LaTeX (PR #82)
        ("3x-y+13=0", "\\boxed{3x+4y+14=0}", False),  # equations (#60)
        ("1331, 1728", "\\boxed{1728}", False),  # multi-answer gold (#47)
        ("1331, 1728", "\\boxed{1331} and \\boxed{1728}", True),  # one box per answer
        ("73", "The answer is **73**", True),  # bold markdown (#76)
        ("\\cot x", "\\boxed{\\frac{\\cos x}{\\sin x}}", True),  # math-verify decides
        ("\\text{Monday}", "Monday", True),  # a one-word final answer
        ("\\text{Monday}", "I think it might be Monday, but let me check the calendar again to be sure.", False),
        ("1011_2", "\\boxed{1011_3}", False),  # base subscripts are kept
        ("10", "", False),
    ],
)
def test_math_grading_with_known_pitfalls(gold: str, output: str, correct: bool) -> None:
    assert check("math", gold, output).correct is correct


def test_a_plain_number_gold_is_checked_as_a_number_whatever_the_kind() -> None:
    for answer in (
        "\\boxed{18 \\text{ eggs}}",
        "Answer: 18 dollars, which is 2 more",
        "\\boxed{5, 18}",
        "\\boxed{x=18}",
    ):
        assert check("math", "18", answer) == check("number", "18", answer)


def test_closed_forms_and_structures_are_decided_without_math_verify() -> None:
    before = mathcheck.CALLS["math-verify"]
    assert check("math", "3\\sqrt{13}", "\\boxed{\\sqrt{117}}").correct
    assert check("math", "(a+5)(b+2)", "\\boxed{ab+2a+5b+10}").correct
    assert not check("math", "2k+2", "\\boxed{2k+3}").correct
    assert check("math", "6 - 5i", "\\boxed{6-5i}").correct and not check("math", "6 - 5i", "\\boxed{6+5i}").correct
    assert check("math", "(-\\infty, 0]", "\\boxed{(-\\infty,0]}").correct
    assert not check("math", "(-\\infty, 0]", "\\boxed{(-\\infty, 0)}").correct
    assert not check("math", "\\frac{3}{2}", "\\boxed{(1, 2)}").correct  # a number is not a point
    assert mathcheck.CALLS["math-verify"] == before


def test_math_verify_keeps_its_timeouts_outside_the_main_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a thread, math-verify runs in a worker process (its main thread: signal timeouts work there); a worker
    that does not answer by the deadline is stopped, and the answers count as unequal."""
    results: list[object] = []

    def grade(gold: str, output: str) -> None:
        results.append(check("math", gold, output).correct)

    equivalent = threading.Thread(target=grade, args=("\\cot x", "\\boxed{\\frac{\\cos x}{\\sin x}}"))
    equivalent.start()
    equivalent.join(timeout=300)
    assert results == [True], "math-verify answered from the worker process"
    # a comparison that takes math-verify longer than the deadline: the thread still gets its verdict
    monkeypatch.setattr(mathcheck, "WORKER_DEADLINE_S", 1.0)
    slow = threading.Thread(target=grade, args=("(x+e)^{1500}", "\\boxed{(x+2e)^{1500}}"))
    slow.start()
    slow.join(timeout=300)
    assert not slow.is_alive() and results == [True, False]
    mathcheck.shutdown_pool()


# ---- explicit answer slots, batches, the kind of a reference ----------------------------------------------------


def test_answer_slots_balance_braces_skip_empty_boxes_and_read_answer_tags() -> None:
    text = r"so $\boxed{\frac{1}{2}}$ and \boxed{} then \boxed{x^{2}+1} and \boxed{open"
    assert all_boxed(text) == [r"\frac{1}{2}", "x^{2}+1"] and last_boxed(text) == "x^{2}+1"
    assert [(s.content, s.method) for s in slots("\\boxed{1} <answer> 2 </answer>")] == [
        ("1", "boxed"), ("2", "answer-tag")]  # fmt: skip
    assert last_boxed("no box") is None


def test_many_outputs_in_processes_get_the_verdicts_of_one_by_one() -> None:
    requests = [
        CheckRequest("number", str(n), f"<think>r</think>\\boxed{{{n + (n % 3 == 0)}}}", thinking=True)
        for n in range(30)
    ] + [CheckRequest("choice", "B", "Answer: B or C", n_options=4), CheckRequest("math", "x=5", "\\boxed{5}")]
    serial = [check_request(request) for request in requests]
    assert check_many(requests, workers=2, chunk=8) == serial
    assert [v.correct for v in serial[:4]] == [False, True, True, False] and serial[-2].method == "ambiguous"


@pytest.mark.parametrize(
    ("reference", "question", "kind"),
    [
        ("18", None, "number"),
        ("19 MPa", None, "number"),
        ("\\frac{1}{2}", None, "number"),
        ("x^2+1", None, "math"),
        ("p - q", None, "math"),
        ("\\text{Evelyn}", None, "math"),
        ("1,-2", None, "math"),
        ("Paris", None, "text"),
        ("Yes", None, "text"),
        ("C", "Which one?\nA) red\nB) blue\nC) green\nD) black", "choice"),
        ("C", "What is the speed of light in vacuum, c?", "text"),
    ],
)
def test_the_kind_of_a_reference(reference: str, question: str | None, kind: str) -> None:
    assert kind_of(reference, question) == kind


def test_options_laid_out_in_a_question() -> None:
    assert question_options("Q?\n(A) one\n(B) two\n(C) three") == ("one", "two", "three")
    assert len(question_options("Q?\nA. one\nB. two\nC. three\nD. four\nE. five") or ()) == 5
    assert question_options("No options here. A cat sat.") is None


@pytest.mark.parametrize(
    ("kind", "gold", "first", "second", "same"),
    [
        ("number", "42", "The answer is 42.", "42", True),  # both right
        ("number", "42", "The answer is 42.", "41", False),  # one right
        ("number", "42", "41", "forty-two", None),  # nothing read in the second: a judge must tell
        ("number", "42", "So 40.", "The answer is $40$.", True),  # both wrong, the same value
        ("number", "42", "So 40.", "So 39.", False),
        ("text", "Yes", "No, it does not follow.", "No.", True),  # yes/no: two wrong answers are the same one
        ("choice", "B", "The answer is C.", "Answer: C", True),
        ("choice", "B", "The answer is C.", "Answer: D", False),
    ],
)
def test_same_answer_by_the_checker(kind: str, gold: str, first: str, second: str, same: bool | None) -> None:
    options = ("a", "b", "c", "d") if kind == "choice" else None
    verdicts = [check(kind, gold, answer, options=options) for answer in (first, second)]
    assert same_answer(*verdicts, kind) is same


def test_under_a_tasks_scorer_an_answer_and_nothing_read_differ() -> None:
    """``scored``: the checker is the task's own scorer, so nothing read is no answer; without one, an unread
    "forty-two" may be 42 and only a judge can tell. Two non-answers are for the judge either way."""
    answered, unread, silent = (check("number", "42", text) for text in ("41", "forty-two", "I cannot tell."))
    assert same_answer(answered, unread, "number") is None
    assert same_answer(answered, unread, "number", scored=True) is False
    assert same_answer(unread, answered, "number", scored=True) is False
    assert same_answer(unread, silent, "number", scored=True) is None
