"""Evaluation: a model on reasoning benchmarks in think / no-think / adaptive modes, with seeds, token counts and
thinking budgets, as a stage on the contract (:class:`EvalStage`, manifest key ``eval:NAME``).

From a notebook::

    from naturalthoughts.eval import EvalConfig, EvalStage
    from naturalthoughts.runner import Runner
    with Runner("runs/demo") as runner:
        outcome = runner.run_stage(EvalStage(EvalConfig(benchmarks=["gsm8k"], limit=20), model_name="smollm2"))
    outcome.result.value  # the summary table (pyarrow)
"""

from naturalthoughts.eval.config import EvalConfig
from naturalthoughts.eval.stage import SAMPLES, SUMMARY, SUMMARY_MD, EvalStage

__all__ = ["SAMPLES", "SUMMARY", "SUMMARY_MD", "EvalConfig", "EvalStage"]
