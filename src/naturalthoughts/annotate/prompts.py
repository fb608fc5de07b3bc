"""Prompts of the LLM annotators and judges (shown in docs/strategies.md). Each asks for JSON or Yes/No.

The paper's annotation prompts were not published; these are the project's own. Placeholders are
filled with :meth:`str.format`; long traces are shortened to head + tail before they are inserted.
"""

from __future__ import annotations

from naturalthoughts.annotate import strategies, taxonomy

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

CORRECTNESS = """Decide whether the response's final answer is correct, given the reference answer.
Minor wording or formatting differences do not matter; a different conclusion or value does.

Question:
{question}

Reference answer:
{reference}

Response:
{answer}

Reply with only a JSON object: {{"correct": true}} or {{"correct": false}}"""

DISAGREE = """Two responses to the same question are given below. Do they reach the same final answer \
or conclusion? Ignore differences in wording, explanation and formatting.

Question:
{question}

Response A:
{answer_a}

Response B:
{answer_b}

Answer Yes or No."""

SECOND_ANSWER = """{question}"""


def domain_prompt(question: str) -> str:
    return DOMAIN.format(taxonomy=taxonomy.describe_for_prompt(), question=question)


def strategies_prompt(reasoning: str) -> str:
    return STRATEGIES.format(strategies=strategies.describe_for_prompt(), reasoning=reasoning)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]
