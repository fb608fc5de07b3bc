"""A small OpenAI-compatible server on loopback that counts what it receives and replies after a delay.

It is an instrument, not a model: ``received`` counts every request whose body arrived (what a provider would
bill), ``answered`` every reply written in full, and each reply reports ``prompt_tokens`` / ``completion_tokens``
as fixed numbers, so a test knows exactly what the server "charged". ``delay_s`` makes it slow (requests stay in
flight long enough to be interrupted); ``reply(number, body, headers)`` may return ``(status, body_bytes)`` to
answer differently (an error body echoing the API key, for the secret-scrubbing tests).

Runs an asyncio loop in a daemon thread (:class:`loopback.LoopbackServer`); use it as a context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Callable
from typing import Any

from loopback import LoopbackServer

ReplyHook = Callable[[int, dict[str, Any], dict[str, str]], tuple[int, bytes] | None]


class CountingServer(LoopbackServer):
    backlog = 256

    def __init__(
        self,
        delay_s: float | tuple[float, float] = 0.0,
        prompt_tokens: int = 20,
        completion_tokens: int = 10,
        text: str = "<think>Adding the numbers.</think> The answer is 42.",
        reply: ReplyHook | None = None,
    ) -> None:
        self.delay_s = delay_s
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.text = text
        self.reply = reply
        self.received = 0
        self.answered = 0
        self.bodies: list[dict[str, Any]] = []
        super().__init__()

    @property
    def spent_tokens(self) -> int:
        """Tokens of every request received (a request cut off mid-reply was still worked on, so billed)."""
        return self.received * (self.prompt_tokens + self.completion_tokens)

    def _delay(self) -> float:
        if isinstance(self.delay_s, tuple):
            return random.uniform(*self.delay_s)
        return self.delay_s

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: several requests per connection
                head = await reader.readuntil(b"\r\n\r\n")
                _, *header_lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines if h)}
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                body = json.loads(raw) if raw else {}
                with self._lock:
                    number = self.received
                    self.received += 1
                    self.bodies.append(body)
                delay = self._delay()
                if delay:
                    await asyncio.sleep(delay)
                answer = self.reply(number, body, headers) if self.reply is not None else None
                status, content = answer if answer is not None else (200, self._completion())
                head_out = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(content)}"
                writer.write(head_out.encode() + b"\r\n\r\n" + content)
                await writer.drain()
                with self._lock:
                    self.answered += 1
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _completion(self) -> bytes:
        message = {"role": "assistant", "content": self.text}
        usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}
        return json.dumps(
            {"choices": [{"index": 0, "finish_reason": "stop", "message": message}], "usage": usage}
        ).encode()
