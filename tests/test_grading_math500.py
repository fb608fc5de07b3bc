"""Every MATH-500 gold, written the ways a model writes it, is graded correct; other items' golds are graded wrong.

The golds come from the bundled MATH-500 (the last boxed answer of each reference solution). Variants: boxed as is,
``\\dfrac``, ``a/b``, spaces around operators and list commas, no spaces, ``x = ``, degrees (omitted, ``°``,
``^{\\circ}``, "degrees"), units (omitted; added to a plain number), intervals with ``x \\in``, and the gold in prose
after "The final answer is".
"""

from __future__ import annotations

import re

import pytest

from naturalthoughts import benchmarks
from naturalthoughts.text.grading import check

GOLDS = [item.answer for item in benchmarks.load("math500")]


SPACED = re.compile(r"(=|[+]|,(?!\\!|[0-9]{3}))")  # operators and list commas, not digit-group separators
UNIT = re.compile(r"\\(?:text|mbox)\{\s*[a-z][a-z ]*\}(\^\d)?")
DEGREE = r"^\circ"
DEGREES = {"no degrees": "", "°": "°", "^{\\circ}": r"^{\circ}", "degrees": r" \text{ degrees}"}


def boxed(text: str) -> str:
    return "\\boxed{" + text + "}"


def variants(gold: str) -> dict[str, str]:
    found = {"box": boxed(gold), "prose": "The final answer is $" + gold + "$."}
    if "\\frac" in gold:
        found["dfrac"] = boxed(gold.replace("\\frac", "\\dfrac"))
    fraction = re.fullmatch(r"(-?)\\d?frac\{(\d+)\}\{(\d+)\}", gold)
    if fraction:
        sign, numerator, denominator = fraction.groups()
        found["a/b"] = boxed(f"{sign}{numerator}/{denominator}")
    found["spaces"] = boxed(" " + SPACED.sub(r" \1 ", gold) + " ")
    found["no spaces"] = boxed(gold.replace(" ", ""))
    if "=" not in gold and "\\in" not in gold:
        found["x ="] = boxed("x = " + gold)
    if DEGREE in gold:
        for name, degree in DEGREES.items():
            found[name] = boxed(gold.replace(DEGREE, degree))
    if re.search(r"\d\s*\\(?:text|mbox)\{\s*[a-z]", gold):
        found["no unit"] = boxed(UNIT.sub("", gold).strip())
    if re.fullmatch(r"-?\d+(\.\d+)?", gold):
        found["unit"] = boxed(gold + " \\text{ units}")
    if re.match(r"^[(\[].*[)\]]$", gold) and "," in gold and "pmatrix" not in gold:
        found["x in"] = boxed("x \\in " + gold)
    return found


def test_every_gold_form_of_math500_is_covered() -> None:
    assert len(GOLDS) == 500
    kinds = {name for gold in GOLDS for name in variants(gold)}
    assert {"box", "dfrac", "a/b", "spaces", "x =", "°", "no unit", "x in", "prose"} <= kinds


@pytest.mark.parametrize("start", range(0, 500, 100))
def test_variants_of_every_gold_are_correct(start: int) -> None:
    wrong = []
    for gold in GOLDS[start : start + 100]:
        for name, answer in variants(gold).items():
            verdict = check("math", gold, f"<think>\nworking\n</think>\n\n{answer}")
            if not verdict.correct:
                wrong.append((gold, name, answer, verdict.extracted, verdict.method))
    assert not wrong


def test_other_items_golds_are_wrong_unless_equal() -> None:
    accepted = []
    for shift in (1, 7, 101):
        for i, gold in enumerate(GOLDS):
            other = GOLDS[(i + shift) % len(GOLDS)]
            if check("math", gold, boxed(other)).correct:
                accepted.append((gold, other))
    # the only golds accepted for another item's gold are the same value written the same or as "x=5"
    assert all(re.sub(r"[^0-9.-]", "", gold) == re.sub(r"[^0-9.-]", "", other) for gold, other in accepted), accepted
