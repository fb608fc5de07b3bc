"""A fault-injecting HTTP/1.1 proxy on loopback, in front of a real server, for client robustness tests.

Each arriving request gets a fault from the plan (``FaultProxy.plan``: a list consumed in order of
arrival, then ``default``), or from a ``decide(arrival_number, request_json)`` function:

- ``pass``: forwarded to the upstream server; its answer is relayed (counted in ``forwarded``)
- ``429``: Too Many Requests with ``Retry-After: retry_after`` seconds
- ``500`` / ``503``: a server error
- ``reset``: the connection is aborted without an answer
- ``stall``: no answer for ``stall_s`` seconds (past the client's timeout), then the connection closes
- ``malformed``: 200 with a body that is not JSON
- ``truncated``: 200 whose body stops short of its Content-Length, then the connection closes
- ``echo_auth``: 401 whose body repeats the Authorization header (to prove clients scrub keys)
- ``403``: Forbidden
- ``canned``: 200 with a chat completion whose content is ``canned_text`` (a server that ignores a prefill)
- ``redirect``: 307 to another loopback address (clients must not follow it)

Only ``pass`` reaches the upstream, so ``forwarded`` counts requests the model really answered.
The proxy runs an asyncio loop in a daemon thread (:class:`loopback.LoopbackServer`); use it as a context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from loopback import LoopbackServer

FAULTS = (
    "pass",
    "429",
    "500",
    "503",
    "reset",
    "stall",
    "malformed",
    "truncated",
    "echo_auth",
    "403",
    "canned",
    "redirect",
)


@dataclass
class Arrival:
    number: int
    fault: str
    at: float  # time.monotonic() on arrival
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        return self.body.get("messages", [{}])[-1].get("content", "")


class FaultProxy(LoopbackServer):
    def __init__(
        self,
        upstream: str,
        plan: list[str] | None = None,
        default: str = "pass",
        decide: Callable[[int, dict[str, Any]], str] | None = None,
        retry_after: float = 1.0,
        stall_s: float = 5.0,
        canned_text: str = "A fresh answer.",
    ) -> None:
        self.upstream = upstream.rstrip("/")  # server root, e.g. http://127.0.0.1:PORT (no /v1)
        self.plan = list(plan or [])
        self.default = default
        self.decide = decide
        self.retry_after = retry_after
        self.stall_s = stall_s
        self.canned_text = canned_text
        self.arrivals: list[Arrival] = []
        self.forwarded: list[Arrival] = []
        super().__init__()

    # -- lifecycle -------------------------------------------------------------------------
    async def _start(self) -> None:
        self._client = httpx.AsyncClient(base_url=self.upstream, timeout=120, trust_env=False)
        await super()._start()

    async def _stop(self) -> None:
        await super()._stop()
        await self._client.aclose()

    # -- programming -------------------------------------------------------------------------
    def set_plan(self, plan: list[str], default: str = "pass") -> None:
        with self._lock:
            self.plan = list(plan)
            self.default = default

    def _next_fault(self, number: int, body: dict[str, Any]) -> str:
        with self._lock:
            if self.decide is not None:
                return self.decide(number, body)
            return self.plan.pop(0) if self.plan else self.default

    # -- HTTP -----------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: several requests per connection
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines if h)}
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                body = json.loads(raw) if raw else {}
                if not await self._answer(method, path, headers, raw, body, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, body: dict[str, Any], writer: Any
    ) -> bool:
        """Serve one request; False when the connection must end."""
        with self._lock:
            number = len(self.arrivals)
        fault = self._next_fault(number, body)
        arrival = Arrival(number, fault, time.monotonic(), body, headers)
        with self._lock:
            self.arrivals.append(arrival)
        if fault == "pass":
            upstream = await self._client.request(
                method, path, content=raw, headers={"content-type": "application/json"}
            )
            with self._lock:
                self.forwarded.append(arrival)
            await self._respond(writer, upstream.status_code, upstream.content)
            return True
        if fault == "429":
            await self._respond(writer, 429, b'{"error":"rate limited"}', {"Retry-After": f"{self.retry_after:g}"})
            return True
        if fault in ("500", "503"):
            await self._respond(writer, int(fault), b'{"error":"internal"}')
            return True
        if fault == "echo_auth":
            await self._respond(writer, 401, json.dumps({"error": headers.get("authorization", "")}).encode())
            return True
        if fault == "403":
            await self._respond(writer, 403, b'{"error":"forbidden"}')
            return True
        if fault == "canned":
            message = {"role": "assistant", "content": self.canned_text}
            choice = {"index": 0, "finish_reason": "stop", "message": message}
            reply = {"choices": [choice], "usage": {"prompt_tokens": 5, "completion_tokens": 3}}
            await self._respond(writer, 200, json.dumps(reply).encode())
            return True
        if fault == "redirect":
            await self._respond(writer, 307, b"", {"Location": "http://127.0.0.2:9/v1/chat/completions"})
            return True
        if fault == "malformed":
            await self._respond(writer, 200, b'{"choices": [ this is not json')
            return True
        if fault == "truncated":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n")
            writer.write(b'{"choices": [{"message": {"content": "cut')
            await writer.drain()
            return False
        if fault == "stall":
            await asyncio.sleep(self.stall_s)
            return False
        if fault == "reset":
            writer.transport.abort()
            return False
        raise ValueError(f"unknown fault {fault!r}; known: {FAULTS}")

    @staticmethod
    async def _respond(writer: Any, status: int, content: bytes, extra: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json", f"Content-Length: {len(content)}"]
        lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + content)
        await writer.drain()
