"""Helpers for the annotate tests: real questions.parquet / traces.parquet files in a run directory, and a small
OpenAI-compatible server on loopback that answers with replies written for the test."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import pyarrow as pa

from naturalthoughts.atomic import write_parquet
from naturalthoughts.rundir import RunDir
from naturalthoughts.tables import QUESTIONS, TRACES


def qid(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_questions(run: RunDir, rows: list[dict[str, Any]]) -> None:
    full = [
        {
            "id": r.get("id") or qid(r["question"]),
            "question": r["question"],
            "reference_answer": r.get("reference_answer"),
            "source": r.get("source", "test"),
            "source_row": i + 1,
            "other_answer": r.get("other_answer"),
            "other_model": "test-model" if r.get("other_answer") else None,
            "domain": r.get("domain"),
        }
        for i, r in enumerate(rows)
    ]
    write_parquet(pa.Table.from_pylist(full, schema=QUESTIONS), run.questions)


def response_hash(row: dict[str, Any]) -> str:
    """A content hash of the row's response, as generation writes one (any change of the text changes it)."""
    return hashlib.sha256(json.dumps([row.get("reasoning"), row.get("answer")]).encode()).hexdigest()[:16]


def write_traces(run: RunDir, rows: list[dict[str, Any]]) -> None:
    full = [
        {
            "trace_id": r.get("trace_id") or f"t{i}",
            "question_id": r["question_id"],
            "sample": r.get("sample", 0),
            "teacher": r.get("teacher", "test:teacher"),
            "reasoning": r.get("reasoning"),
            "answer": r.get("answer"),
            "finish_reason": r.get("finish_reason", "stop"),
            "complete": r.get("answer") is not None,
            "reasoning_tokens": r.get("reasoning_tokens"),
            "answer_tokens": r.get("answer_tokens"),
            "completion_tokens": r.get("completion_tokens"),
            "error": None,
            "response_hash": response_hash(r),
        }
        for i, r in enumerate(rows)
    ]
    write_parquet(pa.Table.from_pylist(full, schema=TRACES), run.traces)


TRACE_KEYS = (
    "reasoning", "answer", "teacher", "reasoning_tokens", "answer_tokens", "completion_tokens", "finish_reason",
)  # fmt: skip


def make_run(run: RunDir, items: list[dict[str, Any]]) -> None:
    """One question and one trace per item (keys: question, reasoning, answer, reference_answer, other_answer...)."""
    write_questions(run, items)
    write_traces(
        run,
        [
            {
                "trace_id": f"t{i}",
                "question_id": qid(it["question"]),
                **{k: it[k] for k in TRACE_KEYS if k in it},
            }
            for i, it in enumerate(items)
        ],
    )


def builtin_sample() -> list[dict[str, Any]]:
    text = resources.files("naturalthoughts").joinpath("data/sample_questions.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    for row in rows:
        responses = row.get("responses") or []
        row["other_answer"] = responses[0]["response"] if responses else None
        row["reference_answer"] = row.get("reference_answer") or None
    return rows


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: concurrent clients on a loaded machine saw refused connections.
    request_queue_size = 256
    daemon_threads = True


class ReplayServer:
    """``POST /v1/chat/completions`` on loopback answered by ``reply(body) -> text``; every request body is kept.

    Replies are written for the test (a verdict, a bad reply, a second answer), so a test can check what the
    annotator sent (the prompt, the schema) and how it reads each reply, through the real HTTP engine.
    """

    def __init__(self, reply: Callable[[dict[str, Any]], str], finish_reason: str = "stop") -> None:
        self.reply, self.finish_reason = reply, finish_reason
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.bodies.append(body)
                text = server.reply(body)
                message = {"role": "assistant", "content": text}
                answer = {
                    "choices": [{"message": message, "finish_reason": server.finish_reason}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5},
                }
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def engine(self) -> Any:
        from naturalthoughts.engines import OpenAIEngineConfig

        return OpenAIEngineConfig(base_url=self.base_url, model="replay", api_key_env=None, max_retries=0)

    def prompts(self) -> list[str]:
        return [body["messages"][-1]["content"] for body in self.bodies]

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
