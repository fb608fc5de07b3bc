"""What a trained model folder says about itself: the loss log table, its plot, and the model card.

The card (``README.md``, Hugging Face model-card format with YAML front matter) carries the provenance a reader
needs to trust or reproduce the model: the pool, traces and selection fingerprints, the selection expression, the
mix policy and its realised shares, every hyperparameter, the loss curve and the package version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from naturalthoughts import __version__
from naturalthoughts.tables import LOSS_LOG

LOSS_PARQUET = "loss.parquet"
LOSS_PNG = "loss.png"
CARD = "README.md"
TRAINING_JSON = "training.json"


def loss_table(log_history: list[dict[str, Any]]) -> pa.Table:
    """The trainer's log history (training-loss entries only) as a LOSS_LOG table."""
    rows = [
        {
            "step": int(entry["step"]),
            "epoch": entry.get("epoch"),
            "loss": entry.get("loss"),
            "learning_rate": entry.get("learning_rate"),
            "grad_norm": entry.get("grad_norm"),
            "tokens": int(entry["num_tokens"]) if entry.get("num_tokens") is not None else None,
            "mean_token_accuracy": entry.get("mean_token_accuracy"),
            "elapsed_s": entry.get("elapsed_s"),
            "session": entry.get("session", 0),
        }
        for entry in log_history
        if "loss" in entry and "step" in entry
    ]
    return pa.Table.from_pylist(rows, schema=LOSS_LOG)


def plot_loss(table: pa.Table, path: Path, title: str) -> bool:
    """A PNG of loss against step; False when there is nothing to plot."""
    if table.num_rows == 0:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.2), dpi=100)
    axis.plot(table.column("step").to_pylist(), table.column("loss").to_pylist(), linewidth=1.2)
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("training loss")
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
    return True


def _rows(pairs: dict[str, Any]) -> str:
    return "\n".join(f"| {key} | {_cell(value)} |" for key, value in pairs.items())


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return text.replace("|", "\\|")


def _loss_points(table: pa.Table, points: int = 12) -> str:
    rows = table.to_pylist()
    if not rows:
        return "(no loss was logged)"
    stride = max(1, len(rows) // points)
    picked = rows[::stride] + ([rows[-1]] if (len(rows) - 1) % stride else [])
    lines = ["| step | loss | tokens |", "|---|---|---|"]
    lines += [f"| {r['step']} | {r['loss']:.4f} | {r['tokens'] if r['tokens'] is not None else ''} |" for r in picked]
    return "\n".join(lines)


def write_card(folder: Path, training: dict[str, Any], loss: pa.Table) -> None:
    """``README.md`` and ``training.json`` (the same facts, machine-readable) in ``folder``."""
    sft = training["sft"]
    counts = sft.get("counts", {})
    shares = sft.get("shares", {})
    selection = sft.get("selection", {})
    has_plot = plot_loss(loss, folder / LOSS_PNG, f"{training['name']} ({training['hyperparameters']['method']})")
    (folder / TRAINING_JSON).write_text(json.dumps(training, indent=2, default=str) + "\n", encoding="utf-8")
    front = [
        "---",
        f"base_model: {json.dumps(training['student'])}",
        f"library_name: {'peft' if training['hyperparameters']['method'] == 'lora' else 'transformers'}",
        "pipeline_tag: text-generation",
        "tags: [naturalthoughts, trl, sft, reasoning-distillation]",
        "---",
    ]
    provenance = {
        "run directory": training["run"],
        "pool (questions.parquet sha256)": sft.get("pool", {}).get("questions_sha256"),
        "questions in the pool": sft.get("pool", {}).get("questions"),
        "traces fingerprint": sft.get("traces_fingerprint"),
        "selection": selection.get("name"),
        "selection sha256": selection.get("sha256"),
        "selection expression": selection.get("expression"),
        "SFT data": training["sft_name"],
        "mix policy": sft.get("mix"),
        "realised shares": f"System-2 {shares.get('system2', 0):.2%}, System-1 {shares.get('system1', 0):.2%}, "
        f"no instruction (adaptive) {shares.get('adaptive', 0):.2%}",
        "examples": f"{counts.get('examples', 0):,} ({counts.get('system2', 0):,} System-2, "
        f"{counts.get('system1', 0):,} System-1); dropped {counts.get('too_long', 0):,} too long, "
        f"{counts.get('incomplete', 0):,} incomplete",
        "chat template": _template_line(training.get("chat_template") or {}),
        "loss-mask check": f"{training['result'].get('loss_mask_checked', 0):,} examples trained on their whole "
        "reasoning (System-2) or none of it (System-1), checked on TRL's labels",
        "naturalthoughts version": __version__,
    }
    result = training["result"]
    body = [
        f"# {training['name']}",
        "",
        f"A student distilled with naturalthoughts: **{training['student']}** fine-tuned ({training['hyperparameters']['method']}) "  # noqa: E501
        "on teacher reasoning traces with TRL's SFTTrainer (loss on the assistant turn only).",
        "",
        _modes_line(training),
        "",
        "## Provenance",
        "",
        _rows_table(provenance),
        "",
        "## Hyperparameters",
        "",
        _rows_table(training["hyperparameters"]),
        "",
        "## Training",
        "",
        _rows_table(result),
        "",
        "## Loss curve",
        "",
        *(["![training loss](loss.png)", ""] if has_plot else []),
        _loss_points(loss),
        "",
        f"The full log is `{LOSS_PARQUET}` (one row per logged step).",
        "",
    ]
    (folder / CARD).write_text("\n".join([*front, "", *body]), encoding="utf-8")


def _modes_line(training: dict[str, Any]) -> str:
    instructions = training["instructions"]
    switch = (training.get("chat_template") or {}).get("mode_switch")
    marker = f"`{json.dumps(instructions['no_think_marker'])}`"
    if instructions.get("think") is None:  # a family whose template flag is the switch (Qwen3.5)
        return f"Modes: {switch}, as in training. No-think answers start with the empty thinking block {marker}."
    return (
        "Modes: ask for one with a system message, as in training: "
        f"`{instructions['think']}` (think), `{instructions['no-think']}` (no-think), or none (adaptive)"
        + (f"; mode switch: {switch}" if switch else "")
        + f". No-think answers start with the empty thinking block {marker}."
    )


def _template_line(template: dict[str, Any]) -> str:
    line = f"{template.get('source', 'student')} (family {template.get('label') or template.get('family', 'generic')})"
    switch = template.get("mode_switch")
    return f"{line}; mode switch: {switch}" if switch else line


def _rows_table(values: dict[str, Any]) -> str:
    return "| | |\n|---|---|\n" + _rows(values)


def read_loss(folder: Path) -> pa.Table:
    return pq.read_table(folder / LOSS_PARQUET)
