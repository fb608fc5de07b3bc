"""Option letters in model answers: the project's reading, and two published ones reproduced exactly.

The project's reading (:func:`extract_choice`), on the final answer, letters bounded to the question's options; the
first rule that finds something decides:

1. the last ``\\boxed{...}`` holding a letter (``B``, ``(B)``, ``\\text{B}``, ``B. text``);
2. the last anchored answer: ``Answer: B``, ``**Answer:** (b)``, ``the answer is (B)``, ``the correct option is B``,
   ``I would go with B``, ``(B) is correct``, ``B is the correct answer``;
3. the last line that holds only a letter (``(C)``, ``**C**``, ``C.``);
4. an option's text: the whole answer, or after an answer anchor (``Answer: 3.2 eV``, also by its value);
5. on the **last line** only, a letter standing as an answer: wrapped (``(B)``, ``**B**``), an option label
   (``B) 42 kg``), or after a word of choosing (``so B.``, ``We get B because ...``, ``I think C``). A capital in
   prose is not an answer ("The field B is zero", "Vitamin D deficiency").

Two different letters joined by "or"/"and"/","/"/" ("Answer: C or D", "(A) and (C)"), or hedged ("I would go with
C, though D is also plausible") are **no answer** (``ambiguous``), whatever rule found the first. Lower case counts
in rules 1-4 (``answer: b``), never as an article or a pronoun ("a cell", "I think"). A letter beyond the options
(``Answer: E`` of four) is an *invalid* answer: extracted, wrong, counted apart from extraction failures.

Published readings, for comparing with published numbers (docs/evaluation.md says which gives which):

- :func:`extract_choice_simple_evals`: openai/simple-evals' GPQA extraction,
  ``(?i)Answer[ \\t]*:[ \\t]*\\$?([A-D])\\$?``, first match, compared case-sensitively as simple-evals does;
- :func:`extract_choice_mmlu_pro_official`: TIGER-AI-Lab's MMLU-Pro cascade (``**`` removed first, then the first
  "answer is (X)", the first "answer: X", the last standalone A-J) and its re-seeded random guess
  (:func:`mmlu_pro_official_guess`) when nothing is found.
"""

from __future__ import annotations

import random
import re
import string

from naturalthoughts.text.answers import (
    AMBIGUOUS,
    NO_ANSWER,
    NOT_FOUND,
    Extraction,
    after_last_anchor,
    last_boxed,
    last_slot,
    normalise,
    unwrap_latex,
)

LETTERS = string.ascii_uppercase
MAX_OPTIONS = 26


def letter_range(n_options: int) -> str:
    if not 1 <= n_options <= MAX_OPTIONS:
        raise ValueError(f"an option question has 1 to {MAX_OPTIONS} options, not {n_options}")
    return LETTERS[:n_options]


def _as_choice(letter: str, allowed: str, method: str) -> Extraction:
    letter = letter.upper()
    return Extraction(letter, method, valid=letter in allowed)


# ---- several letters: a list or a hedge is no answer -----------------------------------------------------------

_JOINED = re.compile(
    r"^\s*(?:[)\]}*_$.]|\\\)|\}\$)*\s*(?:,|/|&|\band\b|\bor\b|\bor\s+possibly\b|\bor\s+maybe\b)\s*"
    r"(?:option\s+|choice\s+|letter\s+)?(?:\\text\{|\\textbf\{|\*\*|[(\[$])*\s*([A-Za-z])(?![A-Za-z0-9'’])",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:though|although|but|however|yet|alternatively|perhaps|maybe|possibly)\b(?P<rest>[^.\n]*)", re.IGNORECASE
)
_HEDGE_TERMS = re.compile(
    r"\b(?:also|plausible|possible|possibly|could|might|may|likely|correct|right|valid|too|as\s+well|viable|"
    r"reasonable|good)\b",
    re.IGNORECASE,
)
_CAPITAL = re.compile(r"(?<![A-Za-z0-9'’\\])\(?([A-Z])\)?(?![A-Za-z0-9'’])")


def _second_letter(rest: str, first: str, allowed: str) -> bool:
    """``rest`` (the text after an answer letter) names another option as an alternative."""
    joined = _JOINED.match(rest)
    if joined:
        letter = joined.group(1)
        wrapped = rest[: joined.start(1)].rstrip().endswith(("(", "[", "**", "{", "$"))
        if (letter.isupper() or wrapped) and letter.upper() in allowed and letter.upper() != first:
            return True
    sentence = re.split(r"\.(?:\s|$)|\n", rest, maxsplit=1)[0]
    for hedge in _HEDGE.finditer(sentence):
        others = [m.group(1) for m in _CAPITAL.finditer(hedge.group("rest")) if m.group(1) in allowed]
        if any(letter != first for letter in others) and _HEDGE_TERMS.search(hedge.group("rest")):
            return True
    return False


def _decided(letter: str, rest: str, allowed: str, method: str) -> Extraction:
    if _second_letter(rest, letter.upper(), allowed):
        return AMBIGUOUS
    return _as_choice(letter, allowed, method)


# ---- the rules -------------------------------------------------------------------------------------------------

# Words that may follow a bare answer letter ("B because ...") without making "A"/"I" an article or a pronoun.
_CONNECTORS = frozenset({"because", "since", "as", "and", "or", "is", "which", "with", "for", "so", "then", "here"})
_OPEN_WRAP = r"(?:\*\*|__|\$|\\boxed\{|\\text\{|\\textbf\{|\\mathbf\{|\\mathrm\{|[(\[{])*"
_CLOSE_WRAP = r"((?:\*\*|__|\$|[)\]}])*)"
_LETTER_TOKEN = rf"\s*{_OPEN_WRAP}\s*([A-Za-z])(?![A-Za-z0-9'’]){_CLOSE_WRAP}"
_ANCHOR = (
    r"(?:\b(?:the\s+)?(?:final\s+|correct\s+|best\s+|right\s+)?(?:answers?|options?|choices?)"
    r"(?:\s+(?:choice|option|letter))?[\s*_]*(?:is|are|would\s+be|will\s+be|should\s+be|=|:)[\s*_:]*"
    r"(?:option\s+|choice\s+|letter\s+)?"
    r"|\bI(?:\s+would|\s+will|'ll|’ll|'d|’d)?\s+(?:go\s+with|choose|select|pick|opt\s+for)\s+(?:option\s+)?)"
)
_ANCHORED = re.compile(_ANCHOR + _LETTER_TOKEN, re.IGNORECASE)
_LETTER_FIRST = re.compile(  # "(B) is correct", "Option B is the right answer"
    r"(?:\b(?:option|choice)\s+)?" + _OPEN_WRAP + r"\s*\b([A-Za-z])\b\s*[)\]]?(?:\*\*)?\s+is\s+(?:the\s+)?"
    r"(?:correct|right|best)(?:\s+(?:answer|option|choice))?\b",
    re.IGNORECASE,
)
_LETTER_LINE = re.compile(
    r"^[\s>*_#-]*(?:answer[\s*_]*:?[\s*_]*)?" + _OPEN_WRAP + r"\s*([A-Za-z])\s*(?:\*\*|__|\$|[)\]}.:])*[\s*_]*$",
    re.IGNORECASE | re.MULTILINE,
)
_BOXED_LETTER = re.compile(r"^[(\[]?\s*([A-Za-z])\s*[)\].:]*(?:\s|$)")
_CHOOSING = re.compile(
    r"\b(?:is|be|choose|chose|select|pick|get|option|choice|letter|with|so|thus|therefore|hence|answer|think|"
    r"believe|guess|say)\s*[:(*\[]*\s*$",
    re.IGNORECASE,
)
_AFTER_CHOSEN = re.compile(r"\s*[)\]*]*\s*[.!;,]?\s*(?:$|because\b|since\b|as\b|\(|--|-|—)", re.IGNORECASE)


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


def _from_boxed(answer: str, allowed: str) -> Extraction | None:
    slot = last_slot(answer)
    if slot is None:
        return None
    content = unwrap_latex(slot.content)
    match = _BOXED_LETTER.match(content)
    return _decided(match.group(1), content[match.end(1) :], allowed, slot.method) if match else None


def _from_anchor(answer: str, allowed: str) -> Extraction | None:
    chosen = None
    for match in _ANCHORED.finditer(answer):
        if not _reads_as_word(answer, match, bool(match.group(2))):
            chosen = match
    for match in _LETTER_FIRST.finditer(answer):
        if (match.group(1).isupper() or match.group(0).lstrip().startswith("(")) and (
            chosen is None or match.start() > chosen.start()
        ):
            chosen = match
    if chosen is None:
        return None
    return _decided(chosen.group(1), answer[chosen.end(1) :], allowed, "answer-anchor")


def _from_letter_line(answer: str, allowed: str) -> Extraction | None:
    matches = list(_LETTER_LINE.finditer(answer))
    return _as_choice(matches[-1].group(1), allowed, "letter-line") if matches else None


def _option_key(text: str) -> str:
    return normalise(unwrap_latex(text))


def _from_option_text(answer: str, options: tuple[str, ...] | None, allowed: str) -> Extraction | None:
    """An option written out: the whole answer (or box), or the text after an answer anchor."""
    if not options:
        return None
    keys = [_option_key(option) for option in options]
    whole = _option_key(last_boxed(answer) or answer)
    hits = [i for i, k in enumerate(keys) if whole and k == whole]
    if len(hits) == 1:
        return Extraction(allowed[hits[0]], "option-text")
    rest = after_last_anchor(answer)
    if not rest:
        return None
    said = _option_key(rest)
    hits = [i for i, k in enumerate(keys) if k and (k == said or re.search(rf"(?<!\w){re.escape(k)}(?!\w)", said))]
    if len(hits) == 1:
        return Extraction(allowed[hits[0]], "option-text")
    return _by_value(rest, options, allowed)


def _by_value(said: str, options: tuple[str, ...], allowed: str) -> Extraction | None:
    """``Answer: 3.2`` for the option "3.2 eV": the one option whose number is the one said."""
    from naturalthoughts.text.numbers import Quantity, read_quantity, same_number

    value = read_quantity(re.split(r"[,;]\s|\.(?:\s|$)", said)[0])
    if not isinstance(value, Quantity):
        return None
    hits = []
    for i, option in enumerate(options):
        number = read_quantity(option)
        if isinstance(number, Quantity) and same_number(number, value):
            hits.append(i)
    return Extraction(allowed[hits[0]], "option-text") if len(hits) == 1 else None


def _from_last_line(answer: str, allowed: str) -> Extraction | None:
    """A capital letter standing as an answer on the last line (wrapped, an option label, or after a word of
    choosing); several such letters: ambiguous."""
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    if not lines:
        return None
    line = lines[-1]
    found = []
    for match in re.finditer(r"(?<![A-Za-z0-9'’\\])([A-Z])(?![A-Za-z0-9'’])", line):
        letter, before, after = match.group(1), line[: match.start()], line[match.end() :]
        if letter not in allowed:
            continue
        wrapped = before.rstrip().endswith(("(", "[", "**", "$", "{")) and after.lstrip().startswith(
            (")", "]", "**", "$", "}")
        )
        label = not before.strip(" *_>#-") and bool(re.match(r"[).:]", after))
        chosen = bool(_CHOOSING.search(before)) and bool(_AFTER_CHOSEN.match(after))
        if wrapped or label or chosen:
            found.append(letter)
    if not found:
        return None
    return _as_choice(found[0], allowed, "last-line") if len(set(found)) == 1 else AMBIGUOUS


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
    return _from_option_text(text, options, allowed) or _from_last_line(text, allowed) or NOT_FOUND


def grade_choice(gold: str, extraction: Extraction) -> bool:
    return extraction.valid and extraction.value is not None and extraction.value == gold.strip().upper()


# ---- published readings ----------------------------------------------------------------------------------------


def extract_choice_simple_evals(answer: str | None, n_options: int) -> Extraction:
    """openai/simple-evals' GPQA reading: the first ``Answer: X`` (case-insensitive pattern, letter kept as written:
    simple-evals compares it with the upper-case gold, so ``answer: b`` scores 0)."""
    if answer is None:
        return NO_ANSWER
    last = letter_range(n_options)[-1]
    match = re.search(rf"(?i)Answer[ \t]*:[ \t]*\$?([A-{last}])\$?", answer)
    return Extraction(match.group(1), "simple-evals") if match else NOT_FOUND


def grade_choice_simple_evals(gold: str, extraction: Extraction) -> bool:
    return extraction.value is not None and extraction.value == gold


# MMLU-Pro's official cascade, exactly as TIGER-AI-Lab/MMLU-Pro's evaluate_from_api.py runs it on a response from
# which it first removed every "**" (first match of each pattern).
_MMLU_PRO_OFFICIAL = (
    ("official-answer-is", re.compile(r"answer is \(?([A-J])\)?")),
    ("official-answer-colon", re.compile(r".*[aA]nswer:\s*([A-J])")),
    ("official-last-letter", re.compile(r"\b[A-J]\b(?!.*\b[A-J]\b)", re.DOTALL)),
)
MMLU_PRO_GUESS_SEED = 12345


def extract_choice_mmlu_pro_official(answer: str | None, n_options: int) -> Extraction:
    """MMLU-Pro's official cascade, applied to the final answer (after ``</think>``) with ``**`` removed first."""
    if answer is None:
        return NO_ANSWER
    allowed = letter_range(n_options)
    text = answer.replace("**", "")
    for method, pattern in _MMLU_PRO_OFFICIAL:
        match = pattern.search(text)
        if match:
            letter = match.group(1) if pattern.groups else match.group(0)
            return _as_choice(letter, allowed, method)
    return NOT_FOUND


def mmlu_pro_official_guess(n_options: int) -> str:
    """The official scripts' fallback when nothing is found: ``random.seed(12345)`` then
    ``random.randint(0, len(options) - 1)``, re-seeded before every guess, so it depends only on the option count."""
    return LETTERS[random.Random(MMLU_PRO_GUESS_SEED).randint(0, n_options - 1)]
