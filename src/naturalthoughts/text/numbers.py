"""Numbers in model answers: every LaTeX and prose form of a number read as one exact quantity.

A final answer's number is read from (in this order of trust) the last ``\\boxed{}`` or ``<answer>`` tag, the text after
the last answer anchor ("Answer:", "the answer is", "Final Answer", GSM8K's "####"), the last **bold** number, the last
line holding only a number, the value after the last "=" of the text, else the last number of the text (list numbers
at line starts excluded). The **whole** box or anchored clause is read as one quantity:

- LaTeX separators and spaces are normalised first: ``57,\\!500``, ``8{,}000``, ``2\\,000``, ``2\\,\\text{,}000``,
  ``1~000``, thin and narrow no-break spaces, ``1,000,000`` and Indian ``1,00,000`` groups; a unicode minus is a
  minus; ``\\dfrac``/``\\tfrac`` are ``\\frac``; ``\\text{}``, ``\\mathrm{}``, ``\\mbox{}`` ... are unwrapped;
- currency before or after the sign (``-\\$2,\\!350``, ``\\$-2350``, ``18\\$``, ``€5``), percent (``25\\%``, also
  accepted as 0.25), degrees (``45^\\circ``), units (``18 \\text{ cm}^2``, ``60 km/h``, ``5 hours``), a trailing
  period, ``x = 5`` / ``3 \\times 4 = 12`` (the value after the last ``=``), ``\\approx``, scale words
  (``1.5 million``, ``20k``: also accepted scaled), clock times (``2:00 \\text{ pm}`` is 2, or 14);
- fractions are exact: ``\\dfrac{8}{3}`` is 8/3 (never 3), ``\\frac{1}{2}`` equals 0.5, ``3\\frac{1}{2}`` and
  ``3 1/2`` are 7/2 (mixed numbers), ``1/4`` is 0.25;
- a box that names **several** numbers joined by commas, "and", "or" (``5 \\text{ and } 7``, ``2 hours and 30
  minutes``) is no answer to a one-number question (``ambiguous``); one with operators or LaTeX the number reader
  does not know (``2\\sqrt{3}``, ``2^{10}``) is an expression, compared by math equality
  (:mod:`naturalthoughts.text.mathcheck`).

Quantities compare exactly (:class:`fractions.Fraction`): ``18`` = ``18.00`` = ``018``; a fraction answer given for a
decimal gold matches when it rounds to the gold's decimals (``1/3`` for ``0.33``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from naturalthoughts.text.answers import (
    AMBIGUOUS,
    NO_ANSWER,
    NOT_FOUND,
    Extraction,
    after_last_anchor,
    last_slot,
    without_enumerators,
)


@dataclass(frozen=True)
class Quantity:
    """One number read from an answer: its exact value and the other values a careful grader accepts for it (25% is
    also 0.25; 1.5 million is also 1500000; 2:00 pm is also 14)."""

    value: Fraction
    alternatives: tuple[Fraction, ...] = ()
    decimals: int = 0  # decimal places as written (a gold's rounding)
    from_fraction: bool = False  # written as a fraction (may be compared rounded to a decimal gold)

    @property
    def candidates(self) -> tuple[Fraction, ...]:
        return (self.value, *self.alternatives)

    @property
    def text(self) -> str:
        """The value as text: ``18``, ``-2.5``, ``8/3``."""
        value = self.value
        if value.denominator == 1:
            return str(value.numerator)
        decimal = _finite_decimal(value)
        return decimal if decimal is not None else f"{value.numerator}/{value.denominator}"


@dataclass(frozen=True)
class Several:
    """Several numbers where one is expected (``5 \\text{ and } 7``): no answer to a one-number question."""

    text: str


@dataclass(frozen=True)
class Expression:
    """Not a plain number (``2\\sqrt{3}``, ``2^{10}``): compared by math equality."""

    text: str


Reading = Quantity | Several | Expression


def _finite_decimal(value: Fraction) -> str | None:
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return None
    return format(Decimal(value.numerator) / Decimal(value.denominator), "f")


# ---- normalisation ---------------------------------------------------------------------------------------------

THIN = "\u2009"  # every LaTeX or unicode thin space becomes this one, so digit groups can be joined across it
_UNICODE = str.maketrans(
    {
        "\u2212": "-", "\u2012": "-", "\ufe63": "-", "\uff0d": "-",  # unicode minus signs
        "\u00a0": " ", "\u202f": THIN, "\u2007": THIN, "\u2008": THIN, "\u200a": THIN, "\u2009": THIN,
        "\u00d7": " * ", "\u22c5": " * ", "\u2217": " * ",  # times signs: operators
        "\u00b0": " ° ", "\u2103": " ° C", "\u2109": " ° F",
        "\uff05": "%", "\u2248": " ", "\u2215": "/", "\u2044": "/",
    }
)  # fmt: skip
_LATEX_SPACES = re.compile(r"(?<!\\)(?:\\(?:,|;|:|>|thinspace|enspace|quad|qquad|medspace|thickspace)|\\ )|~")
_LATEX_DROPPED = re.compile(r"(?<!\\)\\(?:left|right|displaystyle|textstyle|!|big|Big|bigg|Bigg)(?![A-Za-z])")
_WRAPPERS = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|textsf|mathbf|mathrm|mathit|mathsf|mathtt|mbox|hbox|operatorname|"
    r"emph|boldsymbol|bm|underline|overline)\s*\{([^{}]*)\}"
)
_CURRENCY = re.compile(r"\\\$|\$|€|£|¥|₹|₩|\\(?:euro|pounds|yen|textdollar|textsterling|texteuro)(?![A-Za-z])")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree(?:s)?(?![A-Za-z])")
_APPROX = re.compile(r"\\(?:approx|sim|simeq|thickapprox)(?![A-Za-z])")
_TIMES = re.compile(r"\\(?:times|cdot|ast)(?![A-Za-z])")
_FRAC_COMMANDS = re.compile(r"\\[dt]frac(?![A-Za-z])")
_FRAC_SHORT = (  # \frac59, \frac 34, \frac{270}7, \frac9{19}: the braces LaTeX lets one leave out
    (re.compile(r"\\frac\s*(\d)\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\frac\s*(\{[^{}]*\})\s*(\d)"), r"\\frac\1{\2}"),
    (re.compile(r"\\frac\s*(\d)\s*(\{)"), r"\\frac{\1}\2"),
)
_NUMERIC_FRAC = re.compile(r"\\frac\s*\{\s*(-?)\s*(\d+(?:\.\d+)?)\s*\}\s*\{\s*(\d+(?:\.\d+)?)\s*\}")
_COMMA_GROUPS = re.compile(r"(?<![\d.,])(\d{1,3})((?:,\d{3})+)(?![\d]|,\d)")
_INDIAN_GROUPS = re.compile(r"(?<![\d.,])(\d{1,2})((?:,\d{2})+,\d{3})(?![\d]|,\d)")
_THIN_GROUPS = re.compile(rf"(?<![\d.])(\d{{1,3}})((?:{THIN}\d{{3}})+)(?![\d])")
_SPACE_GROUPS = re.compile(r"(?<![\d.])(\d{1,3})((?: \d{3})+)(?![\d./])")


def _unwrap(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, _WRAPPERS.sub(r" \1 ", text)
    return text


def normalise(text: str, group_spaces: bool = False) -> str:
    """``text`` with LaTeX number noise removed (see the module doc): separators joined, currency dropped, fractions
    written ``a/b``, wrappers unwrapped, ``\\%`` as ``%`` and degrees as ``°``. ``group_spaces``: plain spaces
    between digit groups join them too (``1 000``; inside a box, where a space is never a sentence break)."""
    text = text.translate(_UNICODE).replace("**", "").replace("\\%", "%")
    text = text.replace("\\text{,}", ",").replace("\\mathrm{,}", ",").replace("{,}", ",")
    text = re.sub(r",\s*\\!\s*(?=\d)", ",", text)  # 57,\!500 and 11,\! 111
    text = _LATEX_DROPPED.sub("", text)
    text = _LATEX_SPACES.sub(THIN, text)
    text = re.sub(rf",{THIN}*(?=\d)", ",", text)  # 57,\,500 and 2\,\text{,}000 forms
    text = re.sub(rf"{THIN}+,", ",", text)
    text = _DEGREES.sub(" ° ", text)
    text = _APPROX.sub(" ", text)
    text = _TIMES.sub(" * ", text)
    text = _FRAC_COMMANDS.sub(r"\\frac", text)
    for pattern, replacement in _FRAC_SHORT:
        text = pattern.sub(replacement, text)
    text = _unwrap(text)
    text = _CURRENCY.sub(" ", text)
    text = _NUMERIC_FRAC.sub(lambda m: f" {m.group(1)}{m.group(2)}/{m.group(3)} ", text)
    text = _INDIAN_GROUPS.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), text)
    text = _COMMA_GROUPS.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), text)
    text = _THIN_GROUPS.sub(lambda m: m.group(1) + m.group(2).replace(THIN, ""), text)
    if group_spaces:
        text = _SPACE_GROUPS.sub(lambda m: m.group(1) + m.group(2).replace(" ", ""), text)
    text = text.replace(THIN, " ")
    text = re.sub(r"(?<=\d)\s+(?=\.\d)", "", text)  # "3 .5" from a stray space
    return re.sub(r"[ \t]+", " ", text)


# ---- reading one quantity --------------------------------------------------------------------------------------

# A number atom: optional sign, an optional mixed-number whole part, a number, an optional "/ denominator".
_ATOM = re.compile(
    r"(?<![\w.])(?P<sign>[-+]\s?)?"
    r"(?:(?P<whole>\d+)\s+(?=\d+(?:\.\d+)?\s*/\s*\d))?"
    r"(?P<num>\d+(?:\.\d+)?|\.\d+)"
    r"(?:\s*/\s*(?P<den>\d+(?:\.\d+)?))?"
    r"(?![\d])"
)
_UNIT_EXPONENT = re.compile(r"(?<=[A-Za-zµΩ\]})])\s*\^\s*\{?\s*-?\d+\s*\}?")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::\d{2})?\s*(?:([ap])\.?\s?m\.?)?", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:[.'’-][^\W\d_]+)*\.?", re.UNICODE)
UNIT_LETTERS = frozenset("mgslLKAVWJNCFh")  # single-letter units; any other lone letter is a variable (5x)
_MATH_WORDS = frozenset({"pi", "sqrt", "root", "log", "ln", "sin", "cos", "tan", "inf", "infinity", "e", "i"})
_PERCENT_WORDS = frozenset({"percent", "pct", "percentage"})
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_SCALE_SUFFIX = re.compile(r"\s?(k|K|M|bn)(?![A-Za-z])")
_SUFFIX_WORDS = {"k": "thousand", "K": "thousand", "M": "million", "bn": "billion"}
_JOINERS = frozenset({"and", "or", "&"})
_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100}


def _number_word(word: str) -> int | None:
    """``eighteen`` -> 18, ``twenty-five`` -> 25 (whole-word answers up to ninety-nine, and hundred)."""
    parts = word.split("-")
    if len(parts) == 2 and parts[0] in _NUMBER_WORDS and parts[1] in _NUMBER_WORDS:
        tens, units = _NUMBER_WORDS[parts[0]], _NUMBER_WORDS[parts[1]]
        return tens + units if tens % 10 == 0 and 20 <= tens <= 90 and 0 < units < 10 else None
    return _NUMBER_WORDS.get(word)


def _atom_value(match: re.Match[str]) -> tuple[Fraction, int, bool]:
    """(value, decimals written, written as a fraction) of one number atom."""
    number = match.group("num")
    value = Fraction(Decimal(number))
    decimals = len(number.split(".")[1]) if "." in number else 0
    is_fraction = match.group("den") is not None
    if is_fraction:
        denominator = Fraction(Decimal(match.group("den")))
        if denominator == 0:
            raise ZeroDivisionError
        value /= denominator
    if match.group("whole"):
        value += int(match.group("whole"))
    sign = (match.group("sign") or "").strip()
    return (-value if sign == "-" else value), decimals, is_fraction


def _unit_words(rest: str) -> tuple[bool, list[str]]:
    """(whether ``rest`` is only unit-like words and punctuation, its lower-cased words)."""
    if re.search(r"[\\^_=+*<>{}|]", rest):
        return False, []
    words = [w.lower().rstrip(".") for w in _WORD.findall(rest)]
    leftover = _WORD.sub(" ", rest)
    if leftover.strip(" \t%°/().,:;'\"-!?[]"):
        return False, words
    for word in words:
        if word in _MATH_WORDS:
            return False, words
    if any(len(w) == 1 and w not in UNIT_LETTERS for w in _WORD.findall(rest)):
        return False, words  # a lone letter that is not a unit is a variable: 5x is not 5
    return True, words


def _quantity(match: re.Match[str], words: list[str], rest: str) -> Quantity:
    value, decimals, is_fraction = _atom_value(match)
    alternatives: list[Fraction] = []
    if "%" in rest or any(w in _PERCENT_WORDS for w in words) or ("per" in words and "cent" in words):
        alternatives.append(value / 100)
    alternatives += [value * _SCALES[w.rstrip("s")] for w in words if w.rstrip("s") in _SCALES]
    return Quantity(value, tuple(alternatives), decimals, is_fraction)


def _time(text: str) -> Quantity | None:
    match = _TIME.fullmatch(text.strip())
    if not match or int(match.group(2)) >= 60:
        return None
    hours = Fraction(int(match.group(1))) + Fraction(int(match.group(2)), 60)
    pm = (match.group(3) or "").lower() == "p" and hours < 12
    return Quantity(hours, (hours + 12,) if pm else ())


def _several(text: str, atoms: list[re.Match[str]]) -> bool:
    """True when the atoms are a list (only commas, semicolons, and/or and unit words between them)."""
    for before, after in itertools.pairwise(atoms):
        gap = text[before.end() : after.start()]
        if after.group("sign") and not gap.strip(" ,;"):
            return False  # "10 - 3": the sign is an operator
        unit_like, words = _unit_words(gap.replace(",", " ").replace(";", " "))
        if not unit_like or not ("," in gap or ";" in gap or any(w in _JOINERS for w in words)):
            return False
    return True


_VARIABLE_EQUALS = re.compile(r"^\s*[A-Za-z](?:_\{?\w+\}?)?\s*=(?!=)")


def read_quantity(text: str, group_spaces: bool = True, any_equation: bool = True) -> Reading | None:
    """``text`` (a box, an anchored clause, a gold answer) read as **one** quantity; :class:`Several` when it names
    several numbers, :class:`Expression` when it is not a plain number, None when it holds no number.

    An answer's value is after its last ``=`` (``x = 5``, ``9 * 2 = 18``); with ``any_equation=False`` (a gold
    answer) only a one-variable left side is dropped, so ``5x - 7y + 4 = 0`` stays an equation."""
    original = text.strip()
    text = normalise(text, group_spaces).strip().rstrip(".。").strip()
    if "=" in text and (any_equation or _VARIABLE_EQUALS.match(text)):
        text = text.rsplit("=", 1)[1].strip() or text
    if not text:
        return None
    time = _time(text)
    if time is not None:
        return time
    bare = _UNIT_EXPONENT.sub("", text)
    atoms = list(_ATOM.finditer(bare))
    if not atoms:
        words = [w.lower() for w in _WORD.findall(bare)]
        value = _number_word(words[0]) if 0 < len(words) <= 3 else None
        if value is not None and _unit_words(" ".join(words[1:]))[0]:
            return Quantity(Fraction(value))
        return None
    if len(atoms) == 1:
        rest = bare[: atoms[0].start()] + " " + bare[atoms[0].end() :]
        suffix = _SCALE_SUFFIX.match(bare, atoms[0].end())
        if suffix:  # 20k, 1.5M: a scale written as a letter right after the number
            rest = bare[: atoms[0].start()] + " " + bare[suffix.end() :] + f" {_SUFFIX_WORDS[suffix.group(1)]}"
        unit_like, words = _unit_words(rest)
        if unit_like:
            try:
                return _quantity(atoms[0], words, rest)
            except ZeroDivisionError:
                return Expression(original)
        return Expression(original)
    return Several(original) if _several(bare, atoms) else Expression(original)


def read_gold(gold: str) -> Quantity | None:
    """A gold answer that is one plain number (``18``, ``1,234``, ``\\frac{1}{2}``, ``19 MPa``), else None."""
    reading = read_quantity(gold, any_equation=False)
    return reading if isinstance(reading, Quantity) else None


# ---- where the number of an answer sits -------------------------------------------------------------------------

# Where the leading clause of an anchored answer ends: "18 dollars, which is ..." is 18.
_CLAUSE_END = re.compile(
    r"[,;]\s|\.(?:\s|$)|\s[(\[]|\s[-–—]\s|\s(?:which|because|since|so|as|but|while|where|when|if|that|then|with|"
    r"from|after|before|for|to|in|on|at|of|she|he|it|they|we)\b|\s(?:and|or)\s(?![-+]?\s?[\d.])",
    re.IGNORECASE,
)
_COPULA = re.compile(r"(?:\b(?:is|are|was|were|equals?|be|gives|makes|totals?|comes\s+to|remains?)\b|=|:)\s*", re.I)
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n|;\s")
_BOLD = re.compile(r"\*\*([^*\n]{1,80})\*\*")
# An answer that works its result out in arithmetic ("6 - 2 = 4", "3 * 4 = 12 = 12"): the value is after the last "="
# of the chain (the clause rule alone would stop at " - " and read 6).
_WORKED_OUT = re.compile(r"[-+]?\s?\(?\s?\d[\d\s.,+\-*/×÷()^]*[+\-*/×÷^][\d\s.,+\-*/×÷()^=]*=\s*(?=[-+]?\s?\d)")


def _leading_clause(text: str) -> str:
    end = _CLAUSE_END.search(text)
    return text[: end.start()] if end else text


def _starts_with_number(text: str) -> bool:
    return bool(re.match(r"[\s*_$(\\[]*[-+]?\s?(?:\d|\.\d)", text))


def _read_anchored(rest: str) -> Reading | None:
    """The quantity an anchored answer states: its leading clause when it starts with a number ("18 dollars, which
    is 2 more"), else the clause after the sentence's last copula ("The GCD of 617 and 228 is 1."), else the last
    number of its first sentence."""
    text = normalise(rest).strip(" *_:=")
    if _starts_with_number(text):
        worked = _WORKED_OUT.match(text)
        return read_quantity(_leading_clause(text[worked.end() :] if worked else text))
    end = _SENTENCE_END.search(text)
    sentence = text[: end.start()] if end else text
    for copula in reversed(list(_COPULA.finditer(sentence))):
        after = sentence[copula.end() :]
        if _starts_with_number(after):
            return read_quantity(_leading_clause(after))
    atoms = list(_ATOM.finditer(sentence))
    if _REFUSAL.search(sentence):
        return None  # "there is no solution ... the LCM of 1 and 11": the numbers are the question's, not an answer
    if atoms:
        return read_quantity(_leading_clause(sentence[atoms[-1].start() :]))
    return read_quantity(_leading_clause(text))  # "eighteen dollars"


def _read_bold(answer: str) -> Reading | None:
    for content in reversed(_BOLD.findall(answer)):
        reading = read_quantity(content)
        if isinstance(reading, Quantity):
            return reading
    return None


def _read_number_line(answer: str) -> Reading | None:
    """The last line that holds only a number (with its unit): "5" above a numbered explanation."""
    for line in reversed(answer.strip().splitlines()):
        text = line.strip(" \t*_#>")
        starts_as_number = re.match(r"[-+\u2212$€£\\(.\d]", text) and not re.match(r"\d{1,2}[.)]\s", text)
        if starts_as_number and len(text) <= 40:
            reading = read_quantity(text)
            if isinstance(reading, Quantity):
                return reading
    return None


_EQUALS = re.compile(r"=\s*")
# A sentence that declines to answer: its numbers restate the question.
_REFUSAL = re.compile(
    r"\b(?:no (?:solution|answer|way)|impossible|cannot|can't|can ?not|unable|not possible|undefined|does not exist)\b",
    re.IGNORECASE,
)


def _read_equation(answer: str) -> Reading | None:
    """The value after the last "=" of prose that works a result out ("7 * 5 = 30, which is the GCD of 16 and 16."
    answers 30, not the 16 the sentence ends with)."""
    text = normalise(answer)
    for equals in reversed(list(_EQUALS.finditer(text))):
        after = text[equals.end() :]
        if _starts_with_number(after):
            reading = read_quantity(_leading_clause(after))
            return reading if isinstance(reading, Quantity) else None
    return None


def _read_last(answer: str) -> Reading | None:
    text = without_enumerators(normalise(answer))
    atoms = list(_ATOM.finditer(_UNIT_EXPONENT.sub("", text)))
    if not atoms:
        return None
    bare = _UNIT_EXPONENT.sub("", text)
    sentence_start = max(bare.rfind(". ", 0, atoms[-1].start()), bare.rfind("\n", 0, atoms[-1].start()))
    sentence_end = _SENTENCE_END.search(bare, atoms[-1].end())
    if _REFUSAL.search(bare[sentence_start + 1 : sentence_end.start() if sentence_end else len(bare)]):
        return None
    reading = read_quantity(_leading_clause(bare[atoms[-1].start() :]))
    if isinstance(reading, Quantity):
        return reading
    value, decimals, is_fraction = _atom_value(atoms[-1])
    return Quantity(value, (), decimals, is_fraction)


def read_number(answer: str | None) -> tuple[Extraction, Reading | None]:
    """The number a final answer gives, and how it was found (see the module doc)."""
    if answer is None:
        return NO_ANSWER, None
    slot = last_slot(answer)
    if slot is not None:
        return _as_extraction(read_quantity(slot.content), slot.content, slot.method)
    rest = after_last_anchor(answer)
    if rest:
        reading = _read_anchored(rest)
        if reading is not None:
            return _as_extraction(reading, rest, "answer-anchor")
    for read, method in ((_read_bold, "bold"), (_read_number_line, "number-line"), (_read_equation, "equation")):
        reading = read(answer)
        if reading is not None:
            return _as_extraction(reading, "", method)
    try:
        reading = _read_last(answer)
    except ZeroDivisionError:
        reading = None
    return _as_extraction(reading, "", "last-number") if reading is not None else (NOT_FOUND, None)


def _as_extraction(reading: Reading | None, source: str, method: str) -> tuple[Extraction, Reading | None]:
    if isinstance(reading, Quantity):
        return Extraction(reading.text, method), reading
    if isinstance(reading, Several):
        return AMBIGUOUS, reading
    if isinstance(reading, Expression):
        return Extraction(reading.text, method), reading
    text = source.strip()
    return (Extraction(text, method), None) if text else (NOT_FOUND, None)


def same_number(gold: Quantity, answer: Quantity) -> bool:
    """Exact equality of any accepted reading; a fraction given for a decimal gold is rounded to its decimals."""
    if any(a == g for a in answer.candidates for g in gold.candidates):
        return True
    if answer.from_fraction and gold.decimals and answer.value.denominator != 1:
        rounded = round(answer.value, gold.decimals)
        return bool(rounded == gold.value)
    return False
