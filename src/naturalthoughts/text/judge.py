"""The correctness judge: one prompt, one reply schema, one reading of the reply, for every consumer.

When an answer can only be checked by reading it (a free-text reference: annotate's ``correctness`` on long
references, evaluation's ``open_ended`` benchmark), a judge model is asked whether the answer agrees with the
reference. Every consumer builds the chat with :func:`judge_messages`, sends :data:`VERDICT`'s JSON schema with the
request (engines that can constrain decoding to it do) and reads the reply with :func:`read_verdict`, so one reply
is one verdict everywhere: the same answer cannot be correct in ``annotations.parquet`` and wrong in an evaluation.

A reply that is cut at ``max_tokens``, is not JSON, or does not validate against the schema (``{"correct": "yes"}``
is not a boolean) is **no verdict** (None, with the reason), never a wrong answer. Retrying is the caller's choice
(annotate retries a bounded number of times with fresh seeds; evaluation records the failure).
"""

from __future__ import annotations

from naturalthoughts.text.replies import BadReply, Reply, ReplySchema, clip_middle

# The judge sees question, reference and answer; each gets a third of this many characters (head and tail kept).
DEFAULT_MAX_INPUT_CHARS = 12_000

PROMPT = """Decide whether the response's final answer is correct, given the reference answer.
Minor wording or formatting differences do not matter; a different conclusion or value does.

Question:
{question}

Reference answer:
{reference}

Response:
{answer}

Reply with only a JSON object: {{"correct": true}} or {{"correct": false}}"""


class VerdictReply(Reply):
    """The judge's reply: ``{"correct": true}`` or ``{"correct": false}`` (a JSON boolean, nothing else)."""

    correct: bool


VERDICT: ReplySchema[bool] = ReplySchema(
    name="correctness", model=VerdictReply, longest={"correct": False}, convert=lambda reply: reply.correct
)


def judge_messages(
    question: str | None, reference: str, answer: str, max_input_chars: int = DEFAULT_MAX_INPUT_CHARS
) -> tuple[dict[str, str], ...]:
    """The chat asking the judge about one answer (long parts shortened to head and tail)."""
    part = max_input_chars // 3
    content = PROMPT.format(
        question=clip_middle(question, part), reference=clip_middle(reference, part), answer=clip_middle(answer, part)
    )
    return ({"role": "user", "content": content},)


def parse_verdict(text: str | None) -> bool:
    """The verdict of a judge reply; raises :class:`BadReply` (saying why) when the reply is not one."""
    return VERDICT.parse(text)


def read_verdict(text: str | None, finish_reason: str | None = None) -> tuple[bool | None, str | None]:
    """``(verdict, None)`` for a valid reply, ``(None, why)`` otherwise; a reply cut at ``max_tokens`` is never read
    (a constrained reply cut short may still look like a prefix of valid JSON)."""
    if finish_reason == "length":
        return None, "the judge's reply was cut at max_tokens"
    try:
        return parse_verdict(text), None
    except BadReply as exc:
        return None, str(exc)
