"""What every answer reader shares: the :class:`Extraction` result, ``\\boxed{}`` parts, LaTeX wrappers, answer anchors.

The readers themselves are :mod:`.numbers` (numbers), :mod:`.mathcheck` (math expressions), :mod:`.choices` (option
letters) and :mod:`.grading` (the one checker that picks a reader by answer kind).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass


@dataclass(frozen=True)
class Extraction:
    """What was read from an answer: the value, the rule that found it, and whether it is a valid answer.

    ``value`` is None when nothing could be read: an extraction failure, a reasoning that never closed
    (``method="unclosed-thinking"``) or an answer that names several (``method="ambiguous"``: "C or D", a box with
    two numbers for a one-number question). ``valid`` is False for an option letter outside the question's range:
    the model answered, the answer is impossible.
    """

    value: str | None
    method: str | None = None
    valid: bool = True

    @property
    def found(self) -> bool:
        return self.value is not None


NOT_FOUND = Extraction(None)
NO_ANSWER = Extraction(None, "unclosed-thinking")
AMBIGUOUS = Extraction(None, "ambiguous")


# ---- explicit answer slots: \boxed{...} and <answer>...</answer> -------------------------------------------------

_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Slot:
    """An explicit answer: the content of a ``\\boxed{}`` (method ``boxed``) or of ``<answer>...</answer>`` (the tags
    reasoning-gym's prompts ask for; method ``answer-tag``), and where it starts."""

    start: int
    content: str
    method: str


def slots(text: str) -> list[Slot]:
    """Every non-empty box (braces balanced; unclosed ones dropped) and answer tag, in order. An empty box is no
    answer, so a later empty box does not hide an earlier answer."""
    found = []
    for match in _BOX_OPEN.finditer(text):
        depth, start = 1, match.end()
        for position in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            if depth == 0:
                content = text[start:position].strip()
                if content:
                    found.append(Slot(match.start(), content, "boxed"))
                break
    tags = [Slot(m.start(), m.group(1).strip(), "answer-tag") for m in _ANSWER_TAG.finditer(text)]
    found += [tag for tag in tags if tag.content]
    return sorted(found, key=lambda slot: slot.start)


def last_slot(text: str) -> Slot | None:
    """The last explicit answer (several boxed answers: the last one is the answer)."""
    found = slots(text)
    return found[-1] if found else None


def all_boxed(text: str) -> list[str]:
    """The contents of every explicit answer slot in order (see :func:`slots`)."""
    return [slot.content for slot in slots(text)]


def last_boxed(text: str) -> str | None:
    """The content of the last explicit answer slot."""
    slot = last_slot(text)
    return slot.content if slot else None


_LATEX_WRAPPERS = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|mathbf|mathrm|mathit|mathsf|mathtt|mbox|operatorname|emph|hbox)"
    r"\s*\{([^{}]*)\}"
)


def unwrap_latex(text: str) -> str:
    """``\\text{B}`` -> ``B`` (repeatedly, for nested wrappers), ``$`` removed."""
    previous = None
    while previous != text:
        previous, text = text, _LATEX_WRAPPERS.sub(r"\1", text)
    return text.replace("\\$", "").replace("$", "").strip()


# ---- answer anchors --------------------------------------------------------------------------------------------

# "The final answer is", "**Answer:**", "Final Answer:", "answer = ", GSM8K's "####". A bare "answer" without a
# separator ("the answer depends on ...") is not an anchor.
ANSWER_ANCHOR = re.compile(
    r"(?:####|\bfinal\s+answer\b(?:[\s*_]*(?:is\b|:|=|-(?=\s)))?|\banswer[\s*_]*(?:is\b|would\s+be\b|will\s+be\b|"
    r"should\s+be\b|:|=))[\s*_:]*",
    re.IGNORECASE,
)


def after_last_anchor(answer: str) -> str | None:
    """The text after the last answer anchor up to the end of its line; the next non-empty line when the anchor
    ends its line (a "**Final Answer**" heading). None without an anchor."""
    anchors = list(ANSWER_ANCHOR.finditer(answer))
    return _anchored_line(answer[anchors[-1].end() :]) if anchors else None


def after_anchors(answer: str) -> list[str]:
    """What each answer anchor introduces (read as :func:`after_last_anchor` reads the last), the last anchor first:
    where the last one says nothing usable ("Final Answer:\nNo\n\n... the use of the final answer."), an earlier
    one may."""
    return [_anchored_line(answer[anchor.end() :]) for anchor in reversed(list(ANSWER_ANCHOR.finditer(answer)))]


def _anchored_line(rest: str) -> str:
    for line in rest.split("\n"):
        if line.strip(" \t*_:"):
            return line.strip()
    return ""


# ---- a made-up next turn -----------------------------------------------------------------------------------------

# A reply that goes on after its answer with a turn nobody asked for: a chat-template token, a role label at a line
# start, or the user's verdict on the answer ("You are correct, the answer is yes."). Small students trained on a
# few traces write them; what such a turn says is not the model's answer (it may contradict it). Second person only:
# "That is correct." can be the model's own answer to "Is it correct that ...?".
_TEMPLATE_TOKEN = re.compile(r"<\|(?:im_start|im_end|endoftext|end_of_text|eot_id|start_header_id|user|assistant)\|>")
_TURN_LINE = re.compile(
    r"^[ \t>*_#]*(?:(?:user|human|assistant)\s*:|###\s*(?:instruction|human|user|input)\b|"
    r"(?:you\s+are|you're|you\s+have|you've)\s+(?:absolutely\s+|completely\s+|now\s+)?"
    r"(?:correct|right|successfully|got\s+it)\b|(?:great|good|nice|excellent)\s+(?:job|work)\b|well\s+done\b)",
    re.IGNORECASE | re.MULTILINE,
)


def before_made_up_turn(answer: str) -> str:
    """``answer`` up to the first made-up next turn (see above) that follows some text of its own; unchanged without
    one (a reply that opens with "You are right ..." is the reply)."""
    cuts = [match.start() for pattern in (_TEMPLATE_TOKEN, _TURN_LINE) for match in pattern.finditer(answer)]
    for cut in sorted(cuts):
        if answer[:cut].strip():
            return answer[:cut].rstrip()
    return answer


_ENUMERATOR = re.compile(r"^(\s*)(?:\d{1,2}[.)]|\(\d{1,2}\)|[-*•]|(?:step|case|part)\s+\d+\s*[:.)])(?=\s)", re.I | re.M)


def without_enumerators(text: str) -> str:
    """``text`` without list numbers at line starts ("1. ...", "2) ...", "Step 3: ..."): a reply that states its
    answer and then lists numbered premises is not answered by the last list number."""
    return _ENUMERATOR.sub(r"\1", text)


_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def normalise(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD-style): how short text answers are compared."""
    text = text.lower().replace("**", "")
    text = "".join(" " if ch in string.punctuation else ch for ch in text)
    return " ".join(_ARTICLES.sub(" ", text).split())
