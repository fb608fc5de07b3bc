"""The SFT data in the formats other tools read, beside ``train.parquet`` (each row carries its mode).

- ``train.parquet``: a Hugging Face dataset of ``messages`` (``datasets.load_dataset("parquet", data_files=...)``);
- ``train.jsonl``: OpenAI-style chat JSONL, one ``{"messages": [...], "mode": ..., "instruction": ...}`` a line;
- ``sharegpt.json`` + ``dataset_info.json``: ShareGPT for LLaMA-Factory (copy both into its ``data/`` folder, or
  point ``dataset_dir`` here, and train with ``dataset: naturalthoughts``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TRAIN_PARQUET = "train.parquet"
TRAIN_JSONL = "train.jsonl"
SHAREGPT_JSON = "sharegpt.json"
DATASET_INFO_JSON = "dataset_info.json"
DROPPED_PARQUET = "dropped.parquet"
META_JSON = "meta.json"
LLAMA_FACTORY_DATASET = "naturalthoughts"
_SHAREGPT_ROLE = {"user": "human", "assistant": "gpt"}


def write_all(table: pa.Table, folder: Path) -> dict[str, str]:
    """Write every export of ``table`` (SFT_EXAMPLES rows) into ``folder``; returns {format: file name}."""
    pq.write_table(table, folder / TRAIN_PARQUET, compression="zstd")
    rows = table.select(["trace_id", "mode", "instruction", "messages"]).to_pylist()
    with open(folder / TRAIN_JSONL, "w", encoding="utf-8") as out:
        for row in rows:
            line = {"messages": row["messages"], "mode": row["mode"], "instruction": row["instruction"]}
            out.write(json.dumps({**line, "trace_id": row["trace_id"]}, ensure_ascii=False) + "\n")
    sharegpt = [_sharegpt(row) for row in rows]
    (folder / SHAREGPT_JSON).write_text(json.dumps(sharegpt, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (folder / DATASET_INFO_JSON).write_text(json.dumps(_dataset_info(), indent=2) + "\n", encoding="utf-8")
    return {"hf_parquet": TRAIN_PARQUET, "openai_jsonl": TRAIN_JSONL, "sharegpt": SHAREGPT_JSON,
            "llama_factory_dataset_info": DATASET_INFO_JSON}  # fmt: skip


def _sharegpt(row: dict) -> dict:
    system = next((m["content"] for m in row["messages"] if m["role"] == "system"), "")
    turns = [
        {"from": _SHAREGPT_ROLE[m["role"]], "value": m["content"]} for m in row["messages"] if m["role"] != "system"
    ]
    return {"conversations": turns, "system": system, "mode": row["mode"], "instruction": row["instruction"],
            "trace_id": row["trace_id"]}  # fmt: skip


def _dataset_info() -> dict:
    """LLaMA-Factory's registry entry for ``sharegpt.json`` (its ``data/dataset_info.json`` format)."""
    return {
        LLAMA_FACTORY_DATASET: {
            "file_name": SHAREGPT_JSON,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
        }
    }
