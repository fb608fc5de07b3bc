"""The check at the loss mask: every example, tokenised exactly as TRL tokenises a prompt/completion row, must
train on its whole reasoning (System-2) or on none of it (System-1), and its prompt must be a prefix of it.

TRL renders the prompt (every message but the last) with the generation prompt and the whole conversation, and
trains on the tokens after their common prefix (``SFTTrainer`` with ``completion_only_loss``). A template that
rewrites the assistant turn (DeepSeek-R1-Distill's stock one drops everything up to ``</think>``) or a prompt
that tokenises differently alone (a generation prompt ending in ``\\n`` before a completion starting ``\\n``)
passes through TRL with at most a warning; here it is an error that names the student, the family and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

IGNORE = -100  # the label of a token that carries no loss (transformers / TRL)


@dataclass(frozen=True)
class Tokenised:
    """One example as TRL trains on it: the prompt's tokens and the whole sequence's."""

    prompt_ids: list[int]
    ids: list[int]


def tokenise(
    tokenizer: Any,
    conversations: Sequence[list[dict[str, str]]],
    kwargs: Sequence[dict[str, Any]],
    template: str | None,
    batch: int = 256,
) -> list[Tokenised]:
    """Each conversation's prompt (with the generation prompt) and whole sequence under ``template``, with its own
    chat-template keywords (batched per distinct keywords, as ``apply_chat_template`` takes one set per call)."""
    out: list[Tokenised | None] = [None] * len(conversations)
    groups: dict[str, list[int]] = {}
    for index, keywords in enumerate(kwargs):
        groups.setdefault(json.dumps(keywords, sort_keys=True), []).append(index)
    for key, indices in groups.items():
        keywords = json.loads(key)
        for start in range(0, len(indices), batch):
            chunk = indices[start : start + batch]
            render = {"tokenize": True, "return_dict": False, "chat_template": template, **keywords}
            full = tokenizer.apply_chat_template([conversations[i] for i in chunk], **render)
            prompts = tokenizer.apply_chat_template(
                [conversations[i][:-1] for i in chunk], add_generation_prompt=True, **render
            )
            for i, prompt_ids, ids in zip(chunk, prompts, full, strict=True):
                out[i] = Tokenised(list(prompt_ids), list(ids))
    return [t for t in out if t is not None]


def _normal(tokenizer: Any, text: str) -> str:
    """``text`` as the tokenizer gives it back (normalisers may change spaces or Unicode forms)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False).strip()


def trained_text(tokenizer: Any, ids: Sequence[int], labels: Sequence[int]) -> str:
    """The text of the tokens that carry loss."""
    kept = [token for token, label in zip(ids, labels, strict=True) if label != IGNORE]
    return tokenizer.decode(kept, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def loss_problem(tokenizer: Any, trained: str, system2: bool, reasoning: str, answer: str) -> str | None:
    """What is wrong with the trained text of one example, or None."""
    thought, said = _normal(tokenizer, reasoning), _normal(tokenizer, answer)
    if system2 and thought not in trained:
        return "its trained tokens lack the reasoning (the template rewrites the assistant turn)"
    if not system2 and thought in trained and thought not in said:
        return "its trained tokens hold the reasoning of an answer-only (System-1) example"
    if said not in trained:
        return "its trained tokens lack the answer"
    return None


def example_problem(tokenizer: Any, example: Tokenised, system2: bool, reasoning: str, answer: str) -> str | None:
    """The check of one tokenised example: the loss (from where prompt and sequence diverge, as TRL trains) holds
    what its mode requires, and the prompt is a prefix of the sequence."""
    n = _common_prefix(example.prompt_ids, example.ids)
    labels = [IGNORE] * n + example.ids[n:]
    problem = loss_problem(tokenizer, trained_text(tokenizer, example.ids, labels), system2, reasoning, answer)
    if problem is None and n < len(example.prompt_ids):
        return (
            "its prompt tokens are not a prefix of the whole sequence (the template renders the prompt differently "
            "alone, or tokens merge across the start of the assistant text)"
        )
    return problem


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def trained_problem(tokenizer: Any, trained: str, system2: bool, target: str) -> str | None:
    """The check of one example as the trainer prepared it, from its assistant target alone: the trained text
    holds the target's reasoning (System-2) or an empty thinking block (System-1), and its answer."""
    from naturalthoughts.text.think import parse_response

    wanted = parse_response(target)
    if system2:
        return loss_problem(tokenizer, trained, True, wanted.reasoning, wanted.answer)
    if parse_response(trained).reasoning.strip():
        return "its trained tokens hold reasoning in an answer-only (System-1) example"
    return loss_problem(tokenizer, trained, False, "", wanted.answer) if wanted.answer else None
