"""Evaluation: a model on reasoning benchmarks in think / no-think / adaptive modes, with seeds, token counts and
thinking budgets, as a stage on the contract (:class:`EvalStage`, manifest key ``eval:NAME``).

From a notebook::

    from naturalthoughts.eval import evaluate
    outcome = evaluate("runs/demo", benchmarks=["gsm8k"], limit=20, model_name="smollm2")
    outcome.value  # the summary table (pyarrow)
"""

from naturalthoughts.eval.config import EvalConfig
from naturalthoughts.eval.stage import SAMPLES, SUMMARY, SUMMARY_MD, EvalStage
from naturalthoughts.shortcuts import shortcut

evaluate = shortcut("eval")  # evaluate(run, config=None, *, model_name=None, out=None, force=False, quiet=False)

__all__ = ["SAMPLES", "SUMMARY", "SUMMARY_MD", "EvalConfig", "EvalStage", "evaluate"]
