"""Prompts of the LLM annotators and judges (shown in docs/strategies.md). Each asks for a JSON object.

The paper's annotation prompts were not published; these are the project's own. Placeholders are
filled with :meth:`str.format`; long traces are shortened to head + tail before they are inserted.
The JSON each prompt describes is also sent as the request's schema (see :mod:`naturalthoughts.text.replies`), so
an engine that constrains decoding can only answer in it; the wording keeps unconstrained engines on the same format.
"""

from __future__ import annotations

from naturalthoughts.annotate import strategies, taxonomy
from naturalthoughts.text import judge

DOMAIN = """Classify the question into exactly one domain and one field of this taxonomy (domain: fields):
{taxonomy}

Question:
{question}

Reply with only a JSON object: {{"domain": "<domain>", "field": "<field of that domain>"}}"""

STRATEGIES = """Below is a model's reasoning trace for a question. Identify which of these meta-reasoning \
strategies the trace uses, and how many times each occurs:
{strategies}

Reasoning trace:
<trace>
{reasoning}
</trace>

Reply with only a JSON object listing each strategy used (names exactly as above) with its count, e.g.
{{"strategies": [{{"strategy": "self_verification", "count": 2}}, {{"strategy": "backtracking", "count": 1}}]}}
Use {{"strategies": []}} if none is used."""

VERBOSITY = """Rate how verbose the reasoning trace below is, from 0 to 10.
0 = every step is needed: no repetition, no rambling, no restarting without reason.
5 = some repeated checks, hedging or restated steps that add nothing.
10 = mostly rambling: the same points repeated many times, long detours that do not move towards the answer.
Judge only unnecessary length, not correctness, and not length that the problem genuinely needs.

Question:
{question}

Reasoning trace:
<trace>
{reasoning}
</trace>

Reply with only a JSON object: {{"verbosity": <integer 0-10>}}"""

# The correctness judge's prompt is the one every consumer sends (annotate and evaluation): naturalthoughts.text.judge.
CORRECTNESS = judge.PROMPT

DISAGREE = """Two responses to the same question end with the final answers below. Do the two final answers \
reach the same answer or conclusion? Ignore differences in wording, explanation and formatting.

Question:
{question}

Final answer A:
{answer_a}

Final answer B:
{answer_b}

Reply with only a JSON object: {{"same_final_answer": true}} or {{"same_final_answer": false}}"""

# The second answer of the models-disagree signal when the pool has none: a short, direct final answer (the judge
# compares final answers, and a short reply keeps the default run's extra decoding small).
SECOND_ANSWER = """{question}

Give only your final answer, in one short sentence."""


def domain_prompt(question: str) -> str:
    return DOMAIN.format(taxonomy=taxonomy.describe_for_prompt(), question=question)


def strategies_prompt(reasoning: str) -> str:
    return STRATEGIES.format(strategies=strategies.describe_for_prompt(), reasoning=reasoning)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]
