"""Answer extraction and grading, in one neutral place every stage can use (evaluation, annotation, selection).

Reasoning-aware: a model's *final* answer is the text after the last ``</think>``
(:func:`naturalthoughts.text.think.final_answer`); a thinking block that was opened and never closed (cut at
``max_tokens``) has **no** answer, so a tentative answer inside the reasoning is never graded.

Extraction then looks for the patterns models use, in a fixed order of trust:

option letters (:func:`extract_choice`), the question's letter range bounded to its options:
  1. the last ``\\boxed{...}`` (nested braces) holding a letter (``B``, ``(B)``, ``\\text{B}``, ``B. text``);
  2. the last anchored answer: ``Answer: B``, ``**Answer:** (b)``, ``the answer is (B)``, ``the correct option is B``;
  3. the last line that holds only a letter (``(C)``, ``**C**``, ``C.``);
  4. the text of exactly one option, written out as the whole answer;
  5. the last standing capital letter within the range (``... so B.``), never the pronoun "I" (``I think``,
     ``I'm``) or the article "A" (``A cell ...``).
  Lower-case letters count in 1-4 (``answer: b``), not in 5 (where "a" is an article). A letter found by 1-3
  outside the range (``Answer: E`` for four options) is an *invalid* answer: extracted, graded wrong, and counted
  apart from extraction failures; rule 5 only ever sees letters in range.

numbers (:func:`extract_number`, GSM8K and AIME): the last ``\\boxed{}``, else the last anchored answer
  (``Answer:``, ``the answer is``, GSM8K's ``####``), else the last number in the text; compared as decimals.

math (:func:`extract_math` and :func:`math_equal`, MATH-500): the last ``\\boxed{}``, else the last anchored
  answer, else the whole final answer; compared with math-verify, **gold first** (``verify`` is not symmetric),
  the gold wrapped in ``$...$`` (math-verify only reads LaTeX inside an environment), the known false positives
  handled (see :func:`math_equal`).

math-verify's timeouts use ``signal.alarm``, which only works in the main thread: inside other threads they are
turned off (``parsing_timeout=None``, ``timeout_seconds=None``), as math-verify's own advice says.

The annotate stage's correctness annotator uses the same functions (:func:`normalise`, :func:`exact_match`,
:func:`parse_reference`, :func:`math_verify`, :func:`is_mathematical`).
"""

from __future__ import annotations

import logging
import re
import string
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from naturalthoughts.text.think import final_answer

# math-verify warns once that its timeout is off when we turn it off in threads (the case it advises).
for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).setLevel(logging.ERROR)

LETTERS = string.ascii_uppercase
MAX_OPTIONS = 26


@dataclass(frozen=True)
class Extraction:
    """What was read from an answer: the value, the rule that found it, and whether it is a valid answer.

    ``value`` is None when nothing could be read (an extraction failure). ``valid`` is False for an option
    letter outside the question's range: the model answered, the answer is impossible.
    """

    value: str | None
    method: str | None = None
    valid: bool = True

    @property
    def found(self) -> bool:
        return self.value is not None


NOT_FOUND = Extraction(None)
NO_ANSWER = Extraction(None, "unclosed-thinking")


def answer_part(output: str | None) -> str | None:
    """The final answer of a model output: after the last ``</think>``; None when the thinking never closed."""
    return final_answer(output)


# ---- \boxed{...} -----------------------------------------------------------------------------------------------

_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")


def all_boxed(text: str) -> list[str]:
    """The contents of every ``\\boxed{...}`` / ``\\fbox{...}`` in order, braces balanced (unclosed ones dropped)."""
    found = []
    for match in _BOX_OPEN.finditer(text):
        depth, start = 1, match.end()
        for position in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            if depth == 0:
                found.append(text[start:position].strip())
                break
    return found


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (several boxed answers: the last one is the answer)."""
    boxed = all_boxed(text)
    return boxed[-1] if boxed else None


_LATEX_WRAPPERS = re.compile(r"\\(?:text|textbf|mathbf|mathrm|textrm|mbox)\s*\{([^{}]*)\}")


def unwrap_latex(text: str) -> str:
    """``\\text{B}`` -> ``B`` (repeatedly, for nested wrappers), ``$`` removed."""
    previous = None
    while previous != text:
        previous, text = text, _LATEX_WRAPPERS.sub(r"\1", text)
    return text.replace("$", "").strip()


# ---- option letters --------------------------------------------------------------------------------------------

# Words that may follow a bare answer letter ("B because ...") without making "A"/"I" an article or a pronoun.
_CONNECTORS = frozenset({"because", "since", "as", "and", "or", "is", "which", "with", "for", "so", "then", "here"})
_OPEN_WRAP = r"(?:\*\*|__|\$|\\boxed\{|\\text\{|\\textbf\{|\\mathbf\{|\\mathrm\{|[(\[{])*"
_CLOSE_WRAP = r"((?:\*\*|__|\$|[)\]}])*)"
_LETTER_TOKEN = rf"\s*{_OPEN_WRAP}\s*([A-Za-z])(?![A-Za-z0-9'’]){_CLOSE_WRAP}"
_ANCHOR = (
    r"(?:\b(?:the\s+)?(?:final\s+|correct\s+|best\s+|right\s+)?(?:answer|option|choice)"
    r"(?:\s+(?:choice|option|letter))?[\s*_]*(?:is|would\s+be|will\s+be|should\s+be|=|:)[\s*_:]*"
    r"(?:option\s+|choice\s+|letter\s+)?)"
)
_ANCHORED = re.compile(_ANCHOR + _LETTER_TOKEN, re.IGNORECASE)
_LETTER_LINE = re.compile(
    r"^[\s>*_#-]*(?:answer[\s*_]*:?[\s*_]*)?" + _OPEN_WRAP + r"\s*([A-Za-z])\s*(?:\*\*|__|\$|[)\]}.:])*[\s*_]*$",
    re.IGNORECASE | re.MULTILINE,
)
_STANDING = re.compile(r"(?<![A-Za-z0-9'’\\.])([A-Z])(?![A-Za-z0-9'’])")
_BOXED_LETTER = re.compile(r"^[(\[]?\s*([A-Za-z])\s*[)\].:]*(?:\s|$)")


def letter_range(n_options: int) -> str:
    if not 1 <= n_options <= MAX_OPTIONS:
        raise ValueError(f"an option question has 1 to {MAX_OPTIONS} options, not {n_options}")
    return LETTERS[:n_options]


def _next_word(text: str, position: int) -> str:
    match = re.match(r"\s+([A-Za-z]+)", text[position:])
    return match.group(1) if match else ""


def _reads_as_word(text: str, match: re.Match[str], wrapped: bool) -> bool:
    """True when the matched letter is the pronoun "I", the article "A"/"a" or a lower-case word start."""
    letter = match.group(1)
    if wrapped:
        return False
    following = _next_word(text, match.end())
    if not following or following.lower() in _CONNECTORS:
        return False
    return letter in "AI" or letter.islower()


def _wrapped(match: re.Match[str]) -> bool:
    """A closing wrapper right after the letter (``(B)``, ``**B**``, ``\\text{B}``): it is an answer, not a word."""
    return bool(match.group(2))


def _as_choice(letter: str, allowed: str, method: str) -> Extraction:
    letter = letter.upper()
    return Extraction(letter, method, valid=letter in allowed)


def _from_boxed(answer: str, allowed: str) -> Extraction | None:
    boxed = last_boxed(answer)
    if boxed is None:
        return None
    match = _BOXED_LETTER.match(unwrap_latex(boxed))
    return _as_choice(match.group(1), allowed, "boxed") if match else None


def _from_anchor(answer: str, allowed: str) -> Extraction | None:
    chosen = None
    for match in _ANCHORED.finditer(answer):
        if not _reads_as_word(answer, match, _wrapped(match)):
            chosen = match
    return _as_choice(chosen.group(1), allowed, "answer-anchor") if chosen else None


def _from_letter_line(answer: str, allowed: str) -> Extraction | None:
    matches = list(_LETTER_LINE.finditer(answer))
    return _as_choice(matches[-1].group(1), allowed, "letter-line") if matches else None


def _from_option_text(answer: str, options: tuple[str, ...] | None, allowed: str) -> Extraction | None:
    if not options:
        return None
    target = normalise(unwrap_latex(last_boxed(answer) or answer))
    hits = [i for i, option in enumerate(options) if target and normalise(option) == target]
    return Extraction(allowed[hits[0]], "option-text") if len(hits) == 1 else None


def _from_standing_letter(answer: str, allowed: str) -> Extraction | None:
    for match in reversed(list(_STANDING.finditer(answer))):
        letter = match.group(1)
        if letter not in allowed:
            continue
        following = _next_word(answer, match.end())
        if letter in "AI" and following and following[0].islower() and following.lower() not in _CONNECTORS:
            continue  # "I think", "A cell": a pronoun or an article, not an option
        return Extraction(letter, "last-letter")
    return None


def extract_choice(answer: str | None, n_options: int, options: tuple[str, ...] | None = None) -> Extraction:
    """The option letter of a final answer (see the module doc for the rules and their order)."""
    if answer is None:
        return NO_ANSWER
    allowed = letter_range(n_options)
    text = answer.strip()
    for rule in (_from_boxed, _from_anchor, _from_letter_line):
        found = rule(text, allowed)
        if found is not None:
            return found
    return _from_option_text(text, options, allowed) or _from_standing_letter(text, allowed) or NOT_FOUND


def grade_choice(gold: str, extraction: Extraction) -> bool:
    return extraction.valid and extraction.value is not None and extraction.value == gold.strip().upper()


# MMLU-Pro's official cascade, exactly as TIGER-AI-Lab/MMLU-Pro's scripts run it (first match of each pattern).
_MMLU_PRO_OFFICIAL = (
    ("official-answer-is", re.compile(r"answer is \(?([A-J])\)?")),
    ("official-answer-colon", re.compile(r".*[aA]nswer:\s*([A-J])")),
    ("official-last-letter", re.compile(r"\b[A-J]\b(?!.*\b[A-J]\b)", re.DOTALL)),
)


def extract_choice_mmlu_pro_official(answer: str | None, n_options: int) -> Extraction:
    """MMLU-Pro's official three-step cascade, applied to the final answer (after ``</think>``)."""
    if answer is None:
        return NO_ANSWER
    allowed = letter_range(n_options)
    for method, pattern in _MMLU_PRO_OFFICIAL:
        match = pattern.search(answer)
        if match:
            letter = match.group(1) if pattern.groups else match.group(0)
            return _as_choice(letter, allowed, method)
    return NOT_FOUND


# ---- numbers ---------------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.])-?\d(?:[\d,]*\d)?(?:\.\d+)?(?![\d])")
_NUMBER_ANCHOR = re.compile(r"(?:####|\banswer[\s*_]*(?:is|:|=))", re.IGNORECASE)


def _numbers(text: str) -> list[str]:
    return [match.group(0).replace(",", "") for match in _NUMBER.finditer(text.replace("**", ""))]


def extract_number(answer: str | None) -> Extraction:
    """A numeric final answer: the last boxed number, else the number after the last answer anchor, else the last
    number in the text. Thousands separators are dropped (``1,234`` -> ``1234``)."""
    if answer is None:
        return NO_ANSWER
    boxed = last_boxed(answer)
    if boxed is not None:
        numbers = _numbers(unwrap_latex(boxed))
        return Extraction(numbers[-1], "boxed") if numbers else Extraction(unwrap_latex(boxed) or None, "boxed")
    anchors = list(_NUMBER_ANCHOR.finditer(answer))
    if anchors:
        numbers = _numbers(answer[anchors[-1].end() :].split("\n\n")[0])
        if numbers:
            return Extraction(numbers[0], "answer-anchor")
    numbers = _numbers(answer)
    return Extraction(numbers[-1], "last-number") if numbers else NOT_FOUND


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "").strip().rstrip("."))
    except (InvalidOperation, ValueError):
        return None


def numbers_equal(gold: str, value: str | None) -> bool:
    """Decimal equality (``18`` == ``18.00``); a non-numeric value falls back to :func:`math_equal`."""
    if value is None:
        return False
    left, right = _decimal(gold), _decimal(value)
    if left is not None and right is not None:
        return left == right
    return math_equal(gold, value)


# ---- math (math-verify) ----------------------------------------------------------------------------------------

# A last resort for prose without a box or an anchor: the last inline formula, else the last number (math-verify
# would otherwise compare every number it finds in a sentence, any of them matching).
_MATH_SPAN = re.compile(r"\$([^$]+)\$|\\\((.+?)\\\)")
_MATH_ANCHOR = re.compile(r"(?:final\s+answer|the\s+answer\s+is|\banswer\s*:)\s*:?\s*", re.IGNORECASE)


def extract_math(answer: str | None) -> Extraction:
    """The mathematical final answer: the last ``\\boxed{}``, else the rest of the last line after an answer anchor,
    else the last inline formula or the last number of the final answer (prose alone is no answer)."""
    if answer is None:
        return NO_ANSWER
    boxed = last_boxed(answer)
    if boxed is not None:
        return Extraction(boxed, "boxed")
    anchors = list(_MATH_ANCHOR.finditer(answer))
    if anchors:
        rest = answer[anchors[-1].end() :].strip().split("\n")[0].strip().rstrip(".")
        if rest:
            return Extraction(rest, "answer-anchor")
    spans = [dollar or paren for dollar, paren in _MATH_SPAN.findall(answer) if (dollar or paren).strip()]
    if spans:
        return Extraction(spans[-1].strip(), "last-math")
    numbers = _numbers(answer)
    return Extraction(numbers[-1], "last-number") if numbers else NOT_FOUND


def _timeouts() -> dict[str, Any]:
    """math-verify's signal-based timeouts work only in the main thread; elsewhere they must be off."""
    main = threading.current_thread() is threading.main_thread()
    return {"parse": 5 if main else None, "verify": 5 if main else None}


def _clean_math(text: str) -> str:
    # **73** becomes '73**' in math-verify (issue #76); \mathrm{e} breaks LaTeX parsing and numbers inside the
    # formula are then compared on their own (1-1/e "equals" 1+1/e, PR #82).
    text = text.replace("**", "")
    return re.sub(r"\\mathrm\{e\}", "e", text)


def parse_math(text: str) -> list[Any]:
    """math-verify's ``parse`` with the thread-safe timeout setting and the known text fixes."""
    from math_verify import parse

    return parse(_clean_math(text), parsing_timeout=_timeouts()["parse"])


def _environment(text: str) -> str:
    return text if ("$" in text or "\\boxed" in text or "\\[" in text or "\\(" in text) else f"${text}$"


def parse_gold(gold: str) -> list[Any]:
    """A gold answer as math-verify reads it: wrapped in ``$...$`` when it is bare LaTeX (``\\dfrac{9}{7}`` alone
    parses to nothing, issue #70), and as ``\\boxed{}`` if that still fails."""
    return parse_math(_environment(gold)) or parse_math(f"\\boxed{{{gold}}}") or parse_math(gold)


def _parsed_whole(parsed: list[Any]) -> bool:
    """False when math-verify's extracted string has unbalanced braces: its LaTeX parse failed half-way and what
    it compares is a fragment (the ``1-\\frac{1}{\\mathrm{e}}`` -> ``1`` false positive)."""
    strings = [p for p in parsed if isinstance(p, str)]
    return all(s.count("{") == s.count("}") for s in strings)


def _latex_key(text: str) -> str:
    text = unwrap_latex(_clean_math(text))
    text = re.sub(r"\\(?:left|right|displaystyle|,|;|!|quad)", "", text)
    return re.sub(r"\s+", "", text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")).rstrip(".")


def _equal(gold_parsed: list[Any], gold: str, prediction: str) -> bool:
    from math_verify import verify

    predicted = parse_math(_environment(prediction)) or parse_math(prediction)
    if not gold_parsed or not predicted:
        return _latex_key(gold) == _latex_key(prediction)
    same = bool(verify(gold_parsed, predicted, timeout_seconds=_timeouts()["verify"]))
    if same and not (_parsed_whole(gold_parsed) and _parsed_whole(predicted)):
        return _latex_key(gold) == _latex_key(prediction)
    return same


def math_equal(gold: str, prediction: str | None) -> bool:
    """math-verify equivalence of the expression ``prediction`` to the LaTeX ``gold`` (gold first), with the known
    false positives handled:

    - gold or prediction only half parsed (unbalanced braces in what math-verify kept): both must then also agree
      as normalised LaTeX text;
    - multi-answer golds ("1331 and 1728"): math-verify 0.9 compares them as sets (fixed upstream, issue #47);
    - equations (``3x-y+13=0`` vs ``3x+4y+14=0``): math-verify 0.9 compares them as ``Eq`` (issue #60).
    """
    if prediction is None or not prediction.strip():
        return False
    return _equal(parse_gold(gold), gold, prediction)


def grade_math(gold: str, extraction: Extraction, parsed_gold: list[Any] | None = None) -> bool:
    """Grade an :func:`extract_math` result (``parsed_gold`` saves re-parsing one gold for many samples)."""
    if extraction.value is None:
        return False
    gold_parsed = parse_gold(gold) if parsed_gold is None else parsed_gold
    return _equal(gold_parsed, gold, extraction.value)


def math_verify(reference: str, answer: str) -> bool:
    """Is ``answer`` (a final answer in prose) mathematically equal to ``reference`` (read as written first, so
    "19 MPa" is 19)? The last boxed expression wins; several boxed parts are compared together when the
    reference has several parts."""
    gold_parsed = parse_reference(reference)
    if grade_math(reference, extract_math(answer), gold_parsed):
        return True
    boxed = all_boxed(answer)
    return len(boxed) > 1 and "," in reference and _equal(gold_parsed, reference, ", ".join(boxed))


_NUMBER_WITH_UNIT = re.compile(r"^\s*[-+]?\d[\d,]*(?:\.\d+)?\s*(?:[A-Za-z%°µΩ/]+\^?\d*\s*)*$")


def parse_reference(reference: str) -> list[Any]:
    """math-verify's reading of a reference: a number with a unit as written ("19 MPa" -> 19; as LaTeX it would be
    19*M*P*a), anything else as LaTeX (``x^2+1``, ``3x-y+13=0``: read as written, an equation parses to a number)."""
    if _NUMBER_WITH_UNIT.match(reference):
        return parse_math(reference) or parse_gold(reference)
    return parse_gold(reference)


_MATH_HINT = re.compile(r"[\d$\\^=]")


def is_mathematical(reference: str) -> bool:
    """A short reference with digits or LaTeX that math-verify can parse (graded with :func:`math_verify`)."""
    return len(reference) <= 60 and bool(_MATH_HINT.search(reference)) and bool(parse_reference(reference))


# ---- normalised exact match ------------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_ANSWER_IS = re.compile(r"(?:final answer|answer)\s*(?:is|:)\s*(.+)", re.IGNORECASE)


def normalise(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD-style)."""
    text = text.lower().replace("**", "")
    text = "".join(" " if ch in string.punctuation else ch for ch in text)
    return " ".join(_ARTICLES.sub(" ", text).split())


def final_answer_candidates(answer: str) -> list[str]:
    """Where a short answer may sit in a reply: boxed parts, text after "answer is"/"answer:", the last line,
    the whole reply."""
    candidates = [unwrap_latex(b) for b in all_boxed(answer)]
    candidates += [m.group(1) for m in _ANSWER_IS.finditer(answer)]
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    if lines:
        candidates.append(lines[-1])
    candidates.append(answer)
    return candidates


def exact_match(reference: str, answer: str) -> bool:
    """Normalised exact match of ``reference`` against any candidate final answer in ``answer``."""
    target = normalise(reference)
    return bool(target) and any(normalise(c) == target for c in final_answer_candidates(answer))
