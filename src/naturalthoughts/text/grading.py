"""The one answer checker: every consumer (annotate's correctness, evaluation, selection filters) grades with
:func:`check`, so the same answer and gold get the same verdict everywhere.

Two steps:

1. **The final answer** (:func:`answer_part`): the text after the last ``</think>``; none when a thinking block was
   opened and never closed, and none when the model was asked to reason (think and adaptive modes, a reasoning
   teacher) and the reply was cut at the token limit without closing its reasoning, whatever its tags
   (``unclosed-thinking``). A tentative answer inside the reasoning is never graded, nor anything after a made-up
   next turn (a chat-template token, "User:", "You are correct, the answer is yes.": not the model's answer).
2. **A comparison by answer kind**:

   - ``number`` (GSM8K, AIME, any plain-number gold): :mod:`naturalthoughts.text.numbers` reads the answer's number
     as one exact quantity (LaTeX separators, currency, percent, units, fractions);
   - ``math`` (MATH-500): a gold that is a plain number is checked as ``number`` (so the two kinds cannot disagree);
     otherwise :mod:`naturalthoughts.text.mathcheck` (math-verify with its pitfalls handled);
   - ``choice``: :mod:`naturalthoughts.text.choices` (the project's reading, or simple-evals' / MMLU-Pro's exactly);
   - ``text``: a short reference by normalised exact match (a yes/no reference by the answer's yes or no); a long
     one needs a judge (:mod:`naturalthoughts.text.judge`): the verdict's ``correct`` is then None.

A :class:`Verdict` holds the verdict, what was read and how (``boxed``, ``answer-anchor``, ``last-number``, ...,
``unclosed-thinking``, ``ambiguous``), and whether the answer is a valid one (an option letter in range).
:func:`kind_of` picks the kind of a reference answer for annotation, where no benchmark declares it.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import string
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Literal

from naturalthoughts.text import choices, mathcheck, numbers
from naturalthoughts.text.answers import (
    NO_ANSWER,
    NOT_FOUND,
    Extraction,
    after_anchors,
    after_last_anchor,
    all_boxed,
    before_made_up_turn,
    last_slot,
    normalise,
    slots,
    unwrap_latex,
    without_enumerators,
)
from naturalthoughts.text.tasks import Scorer
from naturalthoughts.text.think import final_answer

AnswerKind = Literal["number", "math", "choice", "text"]
ChoiceStyle = Literal["default", "simple-evals", "mmlu-pro-official"]
KINDS: tuple[AnswerKind, ...] = ("number", "math", "choice", "text")


@dataclass(frozen=True)
class Verdict:
    """The grade of one answer.

    ``correct`` is None only when nothing local can decide (a long free-text reference: a judge must). ``extracted``
    is None when there is no answer (an extraction failure, ``unclosed-thinking`` or ``ambiguous``: wrong).
    ``guess_correct`` is MMLU-Pro's official random guess for a failed extraction (reported apart, never folded in).
    ``score`` is a task scorer's partial score in [0, 1] (reasoning-gym), when one graded.
    """

    correct: bool | None
    extracted: str | None
    method: str | None
    valid: bool = True
    guess_correct: bool | None = None
    score: float | None = None  # a task scorer's (partial) score, when a scorer graded


def answer_part(output: str | None, finish_reason: str | None = None, thinking: bool = False) -> str | None:
    """The final answer of a model output (see the module doc); None when it has none."""
    answer = final_answer(output, finish_reason, thinking)
    return None if answer is None else before_made_up_turn(answer)


def check(
    kind: AnswerKind,
    gold: str,
    answer: str | None,
    *,
    options: tuple[str, ...] | None = None,
    n_options: int | None = None,
    style: ChoiceStyle = "default",
    scorer: Scorer | None = None,
) -> Verdict:
    """Grade the final answer ``answer`` (None: there is none) against ``gold`` as an answer of ``kind``.

    ``choice`` needs the option count (``n_options``, or ``options``, whose texts also let an answer name its
    option by text); ``style`` picks a published letter reading instead of the project's. ``scorer``: a task's own
    scorer (:mod:`naturalthoughts.text.tasks`) decides instead of the comparison (see :func:`_check_with_scorer`)."""
    answer = None if answer is None else before_made_up_turn(answer)  # annotate passes a trace's answer column
    if scorer is not None:
        return _check_with_scorer(kind, gold, answer, scorer)
    if kind in ("number", "math"):
        gold_number = numbers.read_gold(gold)
        if gold_number is not None:
            return _check_number(gold_number, gold, answer)
        return _check_math(gold, answer)
    if kind == "choice":
        count = n_options if n_options is not None else len(options or ())
        return _check_choice(gold, answer, count, options, style)
    if kind == "text":
        return _check_text(gold, answer)
    raise ValueError(f"unknown answer kind {kind!r}; known: {', '.join(KINDS)}")


def same_answer(first: Verdict, second: Verdict, kind: AnswerKind, scored: bool = False) -> bool | None:
    """Whether two answers graded against the same reference say the same thing (models-disagree decided by the
    checker): a right and a wrong one differ, two right ones agree, two wrong ones are compared by what was read
    (``kind``'s comparison, a choice letter as text, the first answer as the reference). ``scored``: the checker is
    the task's own scorer, so an answer it reads nothing in gives no answer, and an answer and no answer differ. None
    (only a judge can tell) when neither says anything read, or, without a scorer, when either does not (an
    unread "forty-two" may still be 42) or a verdict is undecided."""
    if first.correct is None or second.correct is None:
        return None
    read = (bool(first.extracted), bool(second.extracted))
    if not all(read):
        return False if scored and any(read) else None
    if first.correct != second.correct:
        return False
    if first.correct:
        return True
    return check("text" if kind == "choice" else kind, first.extracted, second.extracted).correct


def check_output(
    kind: AnswerKind,
    gold: str,
    output: str | None,
    *,
    finish_reason: str | None = None,
    thinking: bool = False,
    options: tuple[str, ...] | None = None,
    n_options: int | None = None,
    style: ChoiceStyle = "default",
    scorer: Scorer | None = None,
) -> Verdict:
    """:func:`check` on a whole model output (its final answer taken first, see :func:`answer_part`; :func:`check`
    ends it at a made-up turn)."""
    answer = final_answer(output, finish_reason, thinking)
    return check(kind, gold, answer, options=options, n_options=n_options, style=style, scorer=scorer)


@dataclass(frozen=True)
class CheckRequest:
    """One output to grade (the arguments of :func:`check_output`), for :func:`check_many`."""

    kind: AnswerKind
    gold: str
    output: str | None
    finish_reason: str | None = None
    thinking: bool = False
    options: tuple[str, ...] | None = None
    n_options: int | None = None
    style: ChoiceStyle = "default"


def check_request(request: CheckRequest) -> Verdict:
    return check_output(
        request.kind,
        request.gold,
        request.output,
        finish_reason=request.finish_reason,
        thinking=request.thinking,
        options=request.options,
        n_options=request.n_options,
        style=request.style,
    )


def _check_chunk(requests: list[CheckRequest]) -> list[Verdict]:
    return [check_request(request) for request in requests]


def check_many(requests: Sequence[CheckRequest], workers: int | None = None, chunk: int = 2000) -> list[Verdict]:
    """Grade many outputs, in ``workers`` processes (default: one per CPU). Each process grades in its main thread
    (math-verify's timeouts hold) and keeps its own caches; outputs are grouped by gold so a gold is read once per
    process. Verdicts come back in the order of ``requests``."""
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1 or len(requests) <= chunk:
        return _check_chunk(list(requests))
    order = sorted(range(len(requests)), key=lambda i: (requests[i].kind, requests[i].gold))
    pieces = [order[start : start + chunk] for start in range(0, len(order), chunk)]
    verdicts: list[Verdict | None] = [None] * len(requests)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        graded = pool.map(_check_chunk, [[requests[i] for i in piece] for piece in pieces])
        for piece, results in zip(pieces, graded, strict=True):
            for i, verdict in zip(piece, results, strict=True):
                verdicts[i] = verdict
    return [verdict for verdict in verdicts if verdict is not None]


def _check_with_scorer(kind: AnswerKind, gold: str, answer: str | None, scorer: Scorer) -> Verdict:
    """A task's scorer grades what the answer says: the text of the last ``<answer>`` tag or box as written, and the
    kind's reading of it (``57,\\!500`` read as 57500, "Yes, it does follow." as Yes); the higher score counts.
    Correct means a full score (1.0); the partial score is kept."""
    if answer is None:
        return Verdict(False, None, NO_ANSWER.method, score=0.0)
    verdict = check(kind, gold, answer)
    candidates = [verdict.extracted] if verdict.extracted is not None else []
    slot = last_slot(answer)
    if slot is not None:
        candidates.insert(0, slot.content)
    if not candidates:
        return Verdict(False, None, verdict.method, score=0.0)
    scored = [(scorer(candidate), candidate) for candidate in dict.fromkeys(candidates)]
    score, extracted = max(scored, key=lambda pair: pair[0])
    method = slot.method if slot is not None and extracted == slot.content else verdict.method
    return Verdict(score >= 1.0, extracted, method, score=score)


def _verdict(correct: bool | None, extraction: Extraction, guess: bool | None = None) -> Verdict:
    return Verdict(correct, extraction.value, extraction.method, extraction.valid, guess)


# ---- numbers and math ------------------------------------------------------------------------------------------


def _check_number(gold: numbers.Quantity, gold_text: str, answer: str | None) -> Verdict:
    extraction, reading = numbers.read_number(answer)
    if isinstance(reading, numbers.Quantity):
        return _verdict(numbers.same_number(gold, reading), extraction)
    if extraction.value is not None:  # an expression, or a box without a number: math equality decides
        return _verdict(mathcheck.math_equal(gold_text, extraction.value), extraction)
    return _verdict(False, extraction)


MAX_WHOLE_ANSWER_CHARS = 40
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$([^$]+)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)


def read_math(answer: str | None, several: bool = False) -> Extraction:
    """The mathematical final answer: the last ``\\boxed{}`` or ``<answer>`` (all of them, joined, when ``several``
    answers are expected: one box per root), else the rest of the line after the last answer anchor, else the last
    inline formula, else the last number of the text ("The probability is 1/4." is 1/4), else a final answer of one
    short line as a whole ("Monday"). Longer prose alone is no answer."""
    if answer is None:
        return NO_ANSWER
    found = slots(answer)
    if found:
        contents = [slot.content for slot in found]
        return Extraction(", ".join(contents) if several and len(found) > 1 else contents[-1], found[-1].method)
    rest = after_last_anchor(answer)
    if rest:
        spans = _spans(rest)
        return Extraction(spans[-1] if spans else rest.strip().rstrip(".").strip(), "answer-anchor")
    spans = _spans(answer)
    if spans:
        return Extraction(spans[-1], "last-math")
    extraction, reading = numbers.read_number(answer)
    if isinstance(reading, numbers.Quantity):
        return Extraction(extraction.value, "last-number")
    whole = answer.strip().rstrip(".").strip()
    if whole and "\n" not in whole and len(whole) <= MAX_WHOLE_ANSWER_CHARS:
        return Extraction(whole, "whole-answer")  # a one-line final answer is its own answer ("Monday")
    return NOT_FOUND


def _spans(text: str) -> list[str]:
    found = []
    for match in _MATH_SPAN.finditer(text):
        span = next(group for group in match.groups() if group is not None).strip()
        if span:
            found.append(span)
    return found


def _check_math(gold: str, answer: str | None) -> Verdict:
    extraction = read_math(answer, several=len(mathcheck.list_items(gold)) > 1)
    return _verdict(mathcheck.math_equal(gold, extraction.value), extraction)


# ---- option letters --------------------------------------------------------------------------------------------


def _check_choice(
    gold: str, answer: str | None, n_options: int, options: tuple[str, ...] | None, style: ChoiceStyle
) -> Verdict:
    if style == "simple-evals":
        extraction = choices.extract_choice_simple_evals(answer, n_options)
        return _verdict(choices.grade_choice_simple_evals(gold, extraction), extraction)
    if style == "mmlu-pro-official":
        extraction = choices.extract_choice_mmlu_pro_official(answer, n_options)
        guess = None if extraction.found else choices.mmlu_pro_official_guess(n_options) == gold.strip().upper()
        return _verdict(choices.grade_choice(gold, extraction), extraction, guess)
    extraction = choices.extract_choice(answer, n_options, options)
    return _verdict(choices.grade_choice(gold, extraction), extraction)


# ---- short free text -------------------------------------------------------------------------------------------

_POLARITY = {"yes": "yes", "no": "no", "true": "true", "false": "false"}
# A leading yes/no that answers: followed by punctuation, the end, or words that go on answering ("No, it does not",
# "Yes the conclusion follows"); not the quantifier of a restated statement ("No scientists are animals").
_LEADING_POLARITY = re.compile(
    r"^[\W_]*(yes|no|true|false)\b(?=\s*(?:$|[^\w\s]|(?:it|this|that|the|they|we|i|because|since|as|so|there|"
    r"indeed|not|definitely|correct|right)\b))",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"[,;:]\s|\.(?:\s|$)|\s[-–—]\s|\s\(")


def final_answer_candidates(answer: str) -> list[str]:
    """Where a short answer may sit in a reply: boxed parts, the text after the last answer anchor, the last and the
    first line, the whole reply; each also cut at its first clause break ("Paris, the capital" is "Paris")."""
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    rest = after_last_anchor(answer)
    places = [unwrap_latex(b) for b in all_boxed(answer)]
    places += [rest] if rest else []
    places += [lines[-1], lines[0]] if lines else []
    places.append(answer)
    candidates = []
    for place in places:
        candidates.append(place)
        cut = _CLAUSE_BREAK.search(place)
        if cut:
            candidates.append(place[: cut.start()])
    return candidates


def exact_match(reference: str, answer: str) -> bool:
    """Normalised exact match of ``reference`` against any candidate final answer in ``answer``."""
    target = normalise(reference)
    return bool(target) and any(normalise(c) == target for c in final_answer_candidates(answer))


def read_polarity(answer: str) -> str | None:
    """The yes/no (true/false) an answer gives, capitalised (``Yes``): its box, the text after its answer anchors (the
    last first), the start of its last line, the start of its first line ("Yes, it does follow. 1. ... 2. ..." is
    yes; a list number before it is skipped: "2. No."), then the start of any other line, the last first ("Conclusion\n
    Yes, it logically follows ..."); None when none says."""
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    places = [unwrap_latex(b) for b in all_boxed(answer)][-1:]
    places += [rest for rest in after_anchors(answer) if rest]
    places += [lines[-1], lines[0], *reversed(lines[1:-1])] if lines else []
    for place in places:
        leading = _LEADING_POLARITY.match(without_enumerators(place.replace("**", "")))
        if leading:
            return leading.group(1).capitalize()
    return None


def _check_text(gold: str, answer: str | None) -> Verdict:
    if answer is None:
        return _verdict(False, NO_ANSWER)
    polarity = _POLARITY.get(normalise(gold))
    if polarity is not None:
        said = read_polarity(answer)
        right = said is not None and said.lower() == polarity
        return _verdict(right, Extraction(said, "polarity") if said else NOT_FOUND)
    match = next((c for c in final_answer_candidates(answer) if normalise(c) == normalise(gold)), None)
    if match is not None:
        return Verdict(True, match.strip(), "exact")
    return Verdict(False, answer.strip() or None, "exact" if answer.strip() else None)


# ---- which kind a reference answer is (annotation: no benchmark declares it) ------------------------------------

_OPTION_LETTER = re.compile(r"\(?([A-Z])\)?\.?")
_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])[).:]\s+(.+?)\s*$", re.MULTILINE)
_MATH_HINT = re.compile(r"[\d\\^_=+*/<>]|^[A-Za-z]{1,2}(?:\s*[-+*/^]\s*[A-Za-z0-9]{1,2})+$")
MAX_MATH_CHARS = 80


def question_options(question: str | None) -> tuple[str, ...] | None:
    """The options a question lays out ("A) ...", "(B) ...", "C. ..." lines, from A on), None when it lays out none."""
    found: dict[str, str] = {}
    for letter, text in _OPTION_LINE.findall(question or ""):
        found.setdefault(letter, text)
    count = 0
    while string.ascii_uppercase[count] in found:
        count += 1
        if count == len(string.ascii_uppercase):
            break
    return tuple(found[letter] for letter in string.ascii_uppercase[:count]) if count >= 2 else None


def kind_of(reference: str, question: str | None = None, max_words: int = 6) -> AnswerKind:
    """The answer kind of a reference: ``choice`` for a letter when the question lays out options, ``number`` for a
    plain number, ``math`` for a short formula, ``text`` otherwise (and for any reference of more than
    ``max_words`` words: prose that mentions a number is not a number)."""
    text = reference.strip()
    if _OPTION_LETTER.fullmatch(text) and question_options(question):
        return "choice"
    if len(re.findall(r"[A-Za-z]{2,}", text)) > max_words:
        return "text"
    if numbers.read_gold(text) is not None:
        return "number"
    if len(text) <= MAX_MATH_CHARS and _MATH_HINT.search(text):
        return "math"
    return "text"
