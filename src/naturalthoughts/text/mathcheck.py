"""Math equality of two answers (gold first), with math-verify where nothing simpler decides, and its timeouts kept
in every thread.

:func:`math_equal` is the one math-equality entry point (evaluation and annotation both reach it through
:func:`naturalthoughts.text.grading.check`). In order:

1. both sides are tidied the same way (``\\$``, ``\\left``/``\\right``, spacing, ``\\dfrac``, ``\\frac59``, degrees,
   percent, units after a number, ``x \\in``, a one-variable ``x =`` when the other side has no equation);
2. equal text is equal (no math-verify call: the common case of a correct answer costs microseconds);
3. base subscripts are kept: ``1011_2`` equals ``1011_2`` or ``1011``, never ``1011_3`` (math-verify drops them);
4. text answers (``\\text{Evelyn}``, ``\\text{(C)}``) compare as text, never as products of symbols;
5. plain numbers compare exactly (:mod:`naturalthoughts.text.numbers`: ``1\\frac{4}{5}`` is 9/5);
6. a gold *list* (``1,-2``, ``3, 5, 7``, ``\\{1\\pm\\sqrt{5},-2\\}``, ``1 \\pm \\sqrt{19}``) is compared as a multiset
   with the answer's list (one box per root counts: the caller joins the boxes);
7. math-verify (``verify(gold, answer)``, gold first: it is not symmetric), with the half-parse guard: when either
   side's parse has unbalanced braces, math-verify compared a fragment, and both must also agree as text.

math-verify's timeouts use ``signal.alarm``, which works only in a process's main thread. In the main thread they
are on (5 s to parse, 5 s to verify); in any other thread the comparison runs in a worker process, where it is the
main thread again, and a hard deadline on the result covers a worker that hangs anyway. :func:`warm_pool` /
:func:`shutdown_pool` start and stop that process (started lazily otherwise).
"""

from __future__ import annotations

import cmath
import functools
import logging
import math
import re
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from fractions import Fraction
from typing import Any

from naturalthoughts.text.answers import unwrap_latex
from naturalthoughts.text.numbers import Quantity, read_quantity, same_number

# math-verify logs every failed parse and every timeout; a failed parse is an answer it cannot read (False).
for _name in ("math_verify", "math_verify.parser", "math_verify.grader", "latex2sympy2_extended"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

PARSE_TIMEOUT_S = 5
VERIFY_TIMEOUT_S = 5
WORKER_DEADLINE_S = 30  # a worker that has not answered by then is stopped and the answers count as unequal
CALLS: Counter[str] = Counter()  # comparisons that reached math-verify in this process (benchmarks read it)

# ---- tidying both sides ----------------------------------------------------------------------------------------

_DROPPED = re.compile(
    r"(?<!\\)\\(?:left|right|displaystyle|textstyle|!|,|;|:|>|quad|qquad|thinspace|enspace|big|Big|bigg|Bigg)(?![A-Za-z])"
    r"|(?<!\\)\\ |~|\*\*|\\\$|\$|\\\(|\\\)|\\\[|\\\]"
)
_DEGREES = re.compile(
    r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree(?:s)?(?![A-Za-z])|°|\\text\{\s*degrees?\s*\}|\bdegrees?\b"
)
_UNITS = re.compile(  # \text{ cm}^2, \mbox{ inches}^2 right after a number or a closing brace
    r"(?<=[\d}])\s*\\(?:text|mbox|mathrm|textrm)\s*\{(?!\s*(?:and|or)\s*\})\s*[A-Za-z][A-Za-z .]*\}"
    r"(?:\s*\^\s*\{?\d\}?)?"
)
_IN_PREFIX = re.compile(r"^\s*[A-Za-z]\s*\\in\s*")
_ONE_VARIABLE = re.compile(r"^\s*[A-Za-z](?:_\{?\w+\}?)?\s*=\s*(?=\S)")
_SHORT_FRACS = (
    (re.compile(r"\\[dt]?frac\s*(\d)\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\[dt]?frac\s*(\{[^{}]*\})\s*(\d)"), r"\\frac\1{\2}"),
    (re.compile(r"\\[dt]?frac\s*(\d)\s*(\{)"), r"\\frac{\1}\2"),
    (re.compile(r"\\[dt]frac(?![A-Za-z])"), r"\\frac"),
)
_SQRT_SHORT = re.compile(r"\\sqrt\s*(\d+|[A-Za-z])")
_GROUP_SEPARATORS = re.compile(r"(?<=\d)(?:\{,\}|,\\!\s*|\\text\{,\})(?=\d{3})")


def tidy(text: str) -> str:
    """The answer as both sides are compared: presentation removed, mathematics kept."""
    text = text.strip().replace("\\mathrm{e}", "e")
    text = _GROUP_SEPARATORS.sub(",", text)
    text = _DEGREES.sub("", text)
    text = _UNITS.sub("", text)
    text = _DROPPED.sub(" ", text).replace("\\%", "").replace("%", "")
    for pattern, replacement in _SHORT_FRACS:
        text = pattern.sub(replacement, text)
    text = _SQRT_SHORT.sub(r"\\sqrt{\1}", text)
    text = _IN_PREFIX.sub("", text)
    return re.sub(r"\s+", " ", text).strip().rstrip(".").strip()


def key(text: str) -> str:
    """Text equality after tidying, spaces ignored."""
    return re.sub(r"\s+", "", text)


# ---- what kind of answer a side is -----------------------------------------------------------------------------

_BASE = re.compile(r"^([0-9A-Za-z]+)_\{?(\d+)\}?$")
# A word answer (a name, "even", "ellipse") or an option label "(C)"; single letters are variables, not words.
_TEXTUAL = re.compile(r"^(?=.*[A-Za-z]{3})[A-Za-z][A-Za-z .'’-]*$|^\([A-Z]\)$")
_MATH_WORDS = frozenset({"sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "sqrt", "infty", "inf", "pi"})


def _base_form(text: str) -> tuple[str, str] | None:
    match = _BASE.match(key(text))
    return (match.group(1).upper(), match.group(2)) if match else None


def _text_form(text: str, strict: bool = True) -> str | None:
    """A text answer (a name, a word, an option label) as compared: lower case, no brackets or spaces. ``strict``
    (the gold): only word answers qualify; otherwise (the answer) anything without digits or LaTeX commands."""
    plain = unwrap_latex(text)
    if "\\" in plain or re.search(r"\d", plain):
        return None
    if strict and (not _TEXTUAL.match(plain) or plain.strip().lower() in _MATH_WORDS):
        return None
    return re.sub(r"[\s().'’-]", "", plain).lower()


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets: ``1, -2`` is a list, ``(1, -2)`` one point."""
    parts, depth, start = [], 0, 0
    i = 0
    while i < len(text):
        if text.startswith(("\\{", "\\left\\{"), i):
            depth += 1
        elif text.startswith("\\}", i):
            depth -= 1
        elif text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
        elif text[i] == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


_SET_BRACES = re.compile(r"^\\\{(.*)\\\}$")
_LIST_WORDS = re.compile(r"\\text\{\s*(?:and|or)\s*\}|\s(?:and|or)\s|;")
_PLUS_MINUS = re.compile(r"\\pm|±")


def list_items(text: str) -> list[str]:
    """The items of an answer that lists several (``1,-2``; ``x=1 \\text{ or } x=-2``; ``\\{a, b\\}``); a ``\\pm``
    item counts as its two values."""
    text = _ONE_VARIABLE.sub("", tidy(text))
    braces = _SET_BRACES.match(key(text)) if text.startswith("\\{") else None
    if braces:
        text = braces.group(1)
    items = []
    for part in _split_top_level(_LIST_WORDS.sub(",", text)):
        part = _ONE_VARIABLE.sub("", part)
        if len(_PLUS_MINUS.findall(part)) == 1:
            items += [_PLUS_MINUS.sub("+", part), _PLUS_MINUS.sub("-", part)]
        else:
            items.append(part)
    return items


# ---- a fast numeric reading of closed forms (3\sqrt{13}, \frac{\pi}{6}, 18+2\pi) -----------------------------------

_TOKEN = re.compile(
    r"\s*(\d+(?:\.\d+)?|\.\d+|\\sqrt|\\frac|\\pi|\\cdot|\\times|[-+*/^(){}\[\]]|[A-DF-HJ-Za-df-hj-z]|i)"
)
# One-letter variables: not e (Euler's number, left to math-verify) and not i (the imaginary unit).
_VARIABLE = re.compile(r"(?<![\\A-Za-z])[A-DF-HJ-Za-df-hj-z](?![A-Za-z])")
# Two assignments of the variables (a negative value in the second, so sqrt{x^2} is not x): closed forms that
# agree on both are the same expression (polynomials and rational functions in practice).
_POINTS = (lambda name: 0.5 + (ord(name) % 17) / 13.0, lambda name: -0.3 - (ord(name) % 11) / 7.0)


Number = float | complex


class _Unreadable(Exception):
    """Outside the small closed-form grammar: math-verify decides."""


class _Closed:
    """A recursive-descent reading of numbers, one-letter variables (given values), +, -, *, /, ^, ``\\frac``,
    ``\\sqrt`` (and ``\\sqrt[n]``), ``\\pi``, brackets and implicit products. Anything else (i, e, a function, a
    set, an equation) is unreadable here."""

    def __init__(self, text: str, point: int = 0) -> None:
        self.assign = _POINTS[point]
        self.tokens: list[str] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if not match:
                if text[position:].strip():
                    raise _Unreadable
                break
            self.tokens.append(match.group(1))
            position = match.end()
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise _Unreadable
        self.at += 1
        return token

    def value(self) -> Number:
        result = self.sum()
        if self.peek() is not None:
            raise _Unreadable
        return result

    def sum(self) -> Number:
        total = self.product()
        while self.peek() in ("+", "-"):
            total = total + self.product() if self.take() == "+" else total - self.product()
        return total

    def product(self) -> Number:
        total = self.signed()
        while True:
            token = self.peek()
            if token in ("*", "\\cdot", "\\times", "/"):
                self.take()
                right = self.signed()
                total = total / right if token == "/" else total * right
            elif token is not None and token not in ("+", "-", ")", "}", "]", "^"):
                total *= self.signed()  # implicit product: 3\sqrt{13}, 2\pi
            else:
                return total

    def signed(self) -> Number:
        if self.peek() in ("+", "-"):
            return -self.signed() if self.take() == "-" else self.signed()
        return self.power()

    def power(self) -> Number:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exponent = self.atom()
            if isinstance(exponent, complex) or abs(exponent) > 64:
                raise _Unreadable
            if not isinstance(base, complex) and base < 0 and exponent != int(exponent):
                raise _Unreadable
            return base ** (int(exponent) if exponent == int(exponent) else exponent)
        return base

    def group(self, opening: str, closing: str) -> Number:
        self.take(opening)
        inside = self.sum()
        self.take(closing)
        return inside

    def atom(self) -> Number:
        token = self.peek()
        if token is None:
            raise _Unreadable
        if token == "(":
            return self.group("(", ")")
        if token == "{":
            return self.group("{", "}")
        self.take()
        if token == "\\pi":
            return math.pi
        if token == "\\frac":
            numerator = self.group("{", "}")
            return numerator / self.group("{", "}")
        if token == "\\sqrt":
            degree = self.group("[", "]") if self.peek() == "[" else 2.0
            radicand = self.group("{", "}")
            if isinstance(radicand, complex) or isinstance(degree, complex) or radicand < 0 or degree == 0:
                raise _Unreadable
            return float(radicand ** (1.0 / degree))
        if token[0].isdigit() or token[0] == ".":
            return float(token)
        if token == "i":
            return 1j
        if token.isalpha():
            return self.assign(token)
        raise _Unreadable


@functools.lru_cache(maxsize=65536)
def closed_form_value(text: str, point: int = 0) -> Number | None:
    """The value of a closed-form answer (tidied LaTeX: numbers, one-letter variables at assignment ``point``,
    operations, roots, pi); None outside that grammar. Lets most comparisons skip math-verify."""
    try:
        value = _Closed(key(text).replace("\\left", "").replace("\\right", ""), point).value()
    except (_Unreadable, ZeroDivisionError, OverflowError, ValueError):
        return None
    return value if cmath.isfinite(value) else None


def variables(text: str) -> frozenset[str]:
    return frozenset(_VARIABLE.findall(text))


def closed_forms_equal(gold: str, prediction: str) -> bool | None:
    """Whether two closed forms are equal: the same variables (an expression in x is never a number, nor one in y)
    and the same value at two assignments of them; None when either is outside the grammar (math-verify decides)."""
    if variables(gold) != variables(prediction):
        readable = closed_form_value(gold) is not None and closed_form_value(prediction) is not None
        return False if readable else None
    for point in range(len(_POINTS) if variables(gold) else 1):
        left, right = closed_form_value(gold, point), closed_form_value(prediction, point)
        if left is None or right is None:
            return None
        if not same_value(left, right):
            return False
    return True


def same_value(left: Number, right: Number) -> bool:
    return cmath.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12)


# ---- equality --------------------------------------------------------------------------------------------------


def math_equal(gold: str, prediction: str | None) -> bool:
    """Whether ``prediction`` is mathematically the answer ``gold`` (see the module doc for the order of checks)."""
    if prediction is None or not prediction.strip():
        return False
    gold_items = list_items(gold)
    predicted_items = list_items(prediction)
    if len(gold_items) > 1:
        return _same_multiset(gold_items, predicted_items)
    if len(predicted_items) > 1:  # several answers for one: only a point written without its brackets
        return _shape(gold) == "tuple or interval" and _equal_one(tidy(gold), f"({', '.join(predicted_items)})")
    return _equal_one(tidy(gold), tidy(prediction))


def _same_multiset(gold: list[str], prediction: list[str]) -> bool:
    if len(gold) != len(prediction):
        return False
    left = list(prediction)
    for item in gold:
        match = next((i for i, candidate in enumerate(left) if _equal_one(tidy(item), tidy(candidate))), None)
        if match is None:
            return False
        left.pop(match)
    return True


def _without_equation(gold: str, prediction: str) -> tuple[str, str]:
    """``x = 5`` against ``5`` (or the reverse): the one-variable left side is presentation."""
    if "=" not in gold:
        prediction = _ONE_VARIABLE.sub("", prediction)
    if "=" not in prediction:
        gold = _ONE_VARIABLE.sub("", gold)
    return gold, prediction


def _equal_one(gold: str, prediction: str) -> bool:
    gold, prediction = _without_equation(gold, prediction)
    if key(gold) == key(prediction) and gold:
        return True
    base = _base_form(gold)
    if base is not None:
        digits, _radix = base
        theirs = _base_form(prediction)
        plain = key(prediction).upper()
        return (theirs == base) or (theirs is None and plain == digits)
    text = _text_form(gold)
    if text is not None:
        return _text_form(prediction, strict=False) == text
    if _text_form(prediction) is not None:
        return False  # a word is not a formula
    gold_number, answer_number = read_quantity(gold, any_equation=False), _number_of(prediction)
    if isinstance(gold_number, Quantity) and isinstance(answer_number, Quantity):
        return same_number(gold_number, answer_number)
    for decide in (closed_forms_equal, _structures_equal):
        decided = decide(gold, prediction)
        if decided is not None:
            return decided
    shapes = _shape(gold), _shape(prediction)
    if None not in shapes and shapes[0] != shapes[1]:
        return False  # a number is not an interval, a point, a matrix, a set or an equation
    return verify(gold, prediction)


def _number_of(text: str) -> object:
    """The plain number an answer states; a base-subscript numeral (``52_8``) by its value."""
    base = _base_form(text)
    if base is not None:
        try:
            return Quantity(Fraction(int(base[0], int(base[1]))))
        except ValueError:
            return None
    return read_quantity(text, any_equation=False)


# ---- intervals, points, matrices: compared part by part ---------------------------------------------------------

_MATRIX = re.compile(r"^\\begin\{([pbv]?matrix)\}(.*)\\end\{\1\}$")


def _parts(text: str) -> tuple[str, list[str]] | None:
    """(outline, parts) of an interval or a union of them, a point, a matrix: ``(a,b]`` -> ("(,]", [a, b])."""
    compact = key(text)
    matrix = _MATRIX.match(compact)
    if matrix:
        rows = matrix.group(2).split("\\\\")
        cells = [row.split("&") for row in rows]
        return f"{matrix.group(1)}:{[len(row) for row in cells]}", [cell for row in cells for cell in row]
    outline, parts = [], []
    for piece in compact.split("\\cup"):
        if not (piece[:1] in "([" and piece[-1:] in ")]"):
            return None
        items = _split_top_level(piece[1:-1])
        if len(items) < 2:
            return None
        outline.append(piece[0] + "," * (len(items) - 1) + piece[-1])
        parts += items
    return "u".join(outline), parts


def _structures_equal(gold: str, prediction: str) -> bool | None:
    """Intervals, unions, points and matrices: the same outline and equal parts; None when either is not one."""
    left, right = _parts(gold), _parts(prediction)
    if left is None or right is None:
        return None
    if left[0] != right[0]:
        return False
    return all(_equal_one(tidy(a), tidy(b)) for a, b in zip(left[1], right[1], strict=True))


def _shape(text: str) -> str | None:
    """What kind of object an answer is, when plain to see: scalar, matrix, set, equation, tuple or interval."""
    compact = key(text)
    if closed_form_value(compact) is not None:
        return "scalar"
    if "\\begin{pmatrix}" in compact or "\\begin{bmatrix}" in compact:
        return "matrix"
    if compact.startswith("\\{"):
        return "set"
    if "=" in compact:
        return "equation"
    if compact[:1] in "([" and compact[-1:] in ")]" and len(_split_top_level(compact[1:-1])) > 1:
        return "tuple or interval"
    if "\\cup" in compact:
        return "tuple or interval"
    return None


# ---- math-verify, with timeouts in every thread ----------------------------------------------------------------


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@functools.lru_cache(maxsize=8192)
def _parse(text: str) -> tuple[Any, ...]:
    from math_verify import parse

    try:
        return tuple(parse(f"${text}$", parsing_timeout=PARSE_TIMEOUT_S))
    except Exception:
        return ()


def _whole(parsed: tuple[Any, ...]) -> bool:
    """False when math-verify's extracted string has unbalanced braces: its LaTeX parse failed half-way and what it
    compares is a fragment (the ``1-\\frac{1}{\\mathrm{e}}`` -> ``1`` false positive)."""
    return all(s.count("{") == s.count("}") for s in parsed if isinstance(s, str))


@functools.lru_cache(maxsize=65536)
def _verify_here(gold: str, prediction: str) -> bool:
    """math-verify in this process's main thread (its signal-based timeouts work here)."""
    from math_verify import verify

    CALLS["math-verify"] += 1
    gold_parsed, predicted = _parse(gold), _parse(prediction)
    if not gold_parsed or not predicted:
        return False
    try:
        same = bool(verify(list(gold_parsed), list(predicted), timeout_seconds=VERIFY_TIMEOUT_S))
    except Exception:
        return False
    if same and not (_whole(gold_parsed) and _whole(predicted)):
        return False  # the keys differ (checked first), so a half-parsed match is no match
    return same


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _worker_pool() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            import multiprocessing

            _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return _pool


def warm_pool() -> None:
    """Start the worker process now (it imports math-verify and sympy: about a second)."""
    _worker_pool().submit(_verify_here, "1", "1").result(timeout=120)


def shutdown_pool() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None


def _stop_hung_pool() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            for process in list(getattr(_pool, "_processes", {}).values()):
                process.terminate()  # a worker stuck past every timeout: stop it, the next call starts another
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None


def verify(gold: str, prediction: str) -> bool:
    """math-verify's ``verify(parse(gold), parse(prediction))`` with its timeouts honoured in any thread."""
    if _main_thread():
        return _verify_here(gold, prediction)
    future = _worker_pool().submit(_verify_here, gold, prediction)
    try:
        return future.result(timeout=WORKER_DEADLINE_S)
    except FutureTimeout:
        _stop_hung_pool()
        return False
