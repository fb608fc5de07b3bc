"""The thinking block: split a response into R1's two parts, the reasoning and the final answer.

This is the one place that knows the tags. Generation, annotation, SFT data and evaluation all split with
:func:`parse_response` (or :func:`final_answer`, which evaluation uses: an unclosed block means no answer).

Rules (in order):

1. The server returned a separate reasoning field (vLLM/DeepSeek ``reasoning_content``): that is
   the reasoning, the message text is the answer, and the closing tag counts as present when the
   answer is non-empty (the server only moves text after ``</think>`` into the content).
2. The text contains ``</think>``: the reasoning is everything before the *last* closing tag
   (without a leading ``<think>``; R1's chat template often opens the tag itself, so it may be
   absent), the answer is everything after it. A stray closing tag *after* the answer
   (``...</think> The answer is 5. </think>``) does not erase it: the answer is the last non-empty
   text between closing tags.
3. The text opens ``<think>`` but never closes it (typically cut at ``max_tokens``): it is all
   reasoning, the answer is empty.
4. No tags at all: the text is the answer, the reasoning is empty, and the closing tag is missing.

A response is *complete* when the closing tag is present, the reasoning and the answer are both
non-empty, and the server finished with ``stop``. Only complete responses are used for training (the paper keeps only
complete R1 responses).

Token counts: the server reports one ``completion_tokens`` figure for the whole reply. It is split
between reasoning and answer in proportion to their lengths in characters (tokenizer-free, so the
split costs nothing and needs no model files); the two counts always sum to ``completion_tokens``.
``nt annotate`` recounts both with a named tokenizer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
OPEN_TAG = re.compile(r"<\s*think\s*>", re.IGNORECASE)
CLOSE_TAG = re.compile(r"<\s*/\s*think\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedResponse:
    reasoning: str
    answer: str
    closed: bool  # the reasoning was closed (</think> seen, or the server separated it)

    def complete(self, finish_reason: str | None) -> bool:
        return self.closed and finish_reason == "stop" and bool(self.answer.strip()) and bool(self.reasoning.strip())


def parse_response(text: str | None, server_reasoning: str | None = None) -> ParsedResponse:
    text = text or ""
    if server_reasoning:
        reasoning, answer = server_reasoning, text
        # Some servers leave a stray closing tag at the start of the content.
        if CLOSE_TAG.search(answer):
            extra, answer = _split_at_last_close(answer)
            reasoning = f"{reasoning}{extra}" if extra.strip() else reasoning
        return ParsedResponse(reasoning.strip(), answer.strip(), closed=bool(answer.strip()))
    if CLOSE_TAG.search(text):
        reasoning, answer = _split_at_last_close(text)
        return ParsedResponse(_strip_open(reasoning).strip(), answer.strip(), closed=True)
    opened = OPEN_TAG.search(text)
    if opened:
        return ParsedResponse(text[opened.end() :].strip(), "", closed=False)
    return ParsedResponse("", text.strip(), closed=False)


def _split_at_last_close(text: str) -> tuple[str, str]:
    """(reasoning, answer) at the last closing tag followed by text; when nothing but closing tags and space follows
    the first one, the answer is empty."""
    closes = list(CLOSE_TAG.finditer(text))
    assert closes, "called only on text with a closing tag"
    ends = [close.start() for close in closes[1:]] + [len(text)]
    for close, end in reversed(list(zip(closes, ends, strict=True))):
        if text[close.end() : end].strip():
            return text[: close.start()], text[close.end() : end]
    return text[: closes[-1].start()], ""


def _strip_open(reasoning: str) -> str:
    opened = OPEN_TAG.search(reasoning)
    if opened and not reasoning[: opened.start()].strip():
        return reasoning[opened.end() :]
    return reasoning


def split_tokens(completion_tokens: int | None, reasoning: str, answer: str) -> tuple[int | None, int | None]:
    """Split the server's completion count between reasoning and answer by character share."""
    if completion_tokens is None:
        return None, None
    total_chars = len(reasoning) + len(answer)
    if total_chars == 0:
        return completion_tokens, 0
    reasoning_tokens = round(completion_tokens * len(reasoning) / total_chars)
    return reasoning_tokens, completion_tokens - reasoning_tokens


# Other tag styles of public trace sets, rewritten to <think> tags before parsing (nt ingest --traces):
# Sky-T1 / Bespoke-Stratos / OpenThoughts-114k mark the reasoning and the solution with these markers, and
# AM-DeepSeek-R1-Distilled wraps the answer after </think> in <answer> tags.
THOUGHT_MARKERS = (("<|begin_of_thought|>", THINK_OPEN), ("<|end_of_thought|>", THINK_CLOSE))
SOLUTION_MARKERS = ("<|begin_of_solution|>", "<|end_of_solution|>")
ANSWER_WRAP = re.compile(r"(</think>\s*)<answer>\s*(.*?)\s*</answer>\s*$", re.IGNORECASE | re.DOTALL)


def canonical_tags(text: str) -> str:
    """``text`` with the thought markers of other trace sets as <think> tags (unchanged when it has none)."""
    if "<|" in text:
        for marker, tag in THOUGHT_MARKERS:
            text = text.replace(marker, tag)
        for marker in SOLUTION_MARKERS:
            text = text.replace(marker, "")
    if "<answer>" in text:
        text = ANSWER_WRAP.sub(lambda m: f"{m.group(1)}{m.group(2)}", text)
    return text


def final_answer(text: str | None, finish_reason: str | None = None, thinking: bool = False) -> str | None:
    """The text after the last closing tag; the whole text when there is no thinking block at all; None when a
    block was opened and never closed (a truncated reasoning has no answer: the NeMo-Skills convention).

    ``thinking``: the model was asked to reason (think and adaptive modes, a reasoning teacher). Then a reply cut
    at the token limit (``finish_reason="length"``) without a closing tag has no answer *whatever its tags*: a
    server whose chat template opens ``<think>`` itself returns the reasoning without the opening tag, and it must
    not be graded as if it were the answer."""
    text = text or ""
    if CLOSE_TAG.search(text):
        return _split_at_last_close(text)[1].strip()
    if OPEN_TAG.search(text) or (thinking and finish_reason == "length"):
        return None
    return text.strip()
