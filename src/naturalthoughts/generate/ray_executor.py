"""``executor: ray`` — generation spread over a Ray cluster by a pool of engine actors.

How it maps onto a cluster (see docs/scaling.md):

- The driver (where ``nt generate`` runs) owns the response cache. It answers hits itself and
  ships only the misses to Ray, so cache and resume semantics are exactly those of the local
  executor: a :class:`CachedEngine` whose engine factory builds the Ray pool (:func:`ray_engine_factory`). One
  writer means SQLite never has to be shared across machines (SQLite on a network filesystem is
  unsafe); results are committed as their batch comes back to the driver.
- ``workers`` actors are started once, on the first miss, and kept for the whole run (the stage sends
  its plan a chunk at a time; each actor builds its engine once: one vLLM engine per GPU
  (``num_gpus_per_worker: 1``), an embedded llama.cpp server per actor, or an HTTP client to a shared
  endpoint (``engine: openai``)). The misses of a chunk are cut into batches of ``batch_size`` requests
  in plan order (deterministic shards); each idle actor takes the next batch.
- A killed run loses at most the batches in flight (``workers`` x ``batch_size`` requests); budgets
  are checked before each batch is handed out, so a budget stop can overshoot by the batches in flight.
  An actor that dies turns its batch into error rows (a rerun retries them), not a crash.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from naturalthoughts.engines import ChatResult, Engine, EngineConfig, engine_identity
from naturalthoughts.engines.base import Dispatch
from naturalthoughts.errors import ConfigError
from naturalthoughts.generate.config import RayOptions
from naturalthoughts.generate.plan import request_from_json, request_to_json
from naturalthoughts.redact import clip


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'naturalthoughts[ray]' (ray[data]==2.60.0)") from None
    return ray


class EngineWorker:
    """A Ray actor: builds its engine once, then answers batches of serialised requests."""

    def __init__(self, engine_config: dict[str, Any]) -> None:
        from pydantic import TypeAdapter

        from naturalthoughts.engines import create_engine

        config = TypeAdapter(EngineConfig).validate_python(engine_config)
        self.engine = create_engine(config)

    def answer(self, requests: list[str]) -> list[str]:
        results = self.engine.generate([request_from_json(text) for text in requests])
        return [json.dumps(dataclasses.asdict(r), ensure_ascii=False) for r in results]


class RayPoolEngine(Engine):
    """Answers a list of requests on a Ray cluster; results reach ``on_result`` batch by batch as they finish."""

    name = "ray"

    def __init__(self, config: EngineConfig, options: RayOptions) -> None:
        self.config = config
        self.options = options
        self._ray = import_ray()
        self._started_ray = False
        self._actors: list[Any] = []
        if not self._ray.is_initialized():
            init: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if options.address:
                init["address"] = options.address
            elif options.num_cpus_local:
                init["num_cpus"] = options.num_cpus_local
            self._ray.init(**init)
            self._started_ray = True

    def model_identity(self) -> str:
        return engine_identity(self.config)

    def actors(self) -> list[Any]:
        """The actor pool, started on first use and kept until :meth:`close`."""
        if not self._actors:
            options = self.options
            remote = self._ray.remote(
                num_cpus=options.num_cpus_per_worker, num_gpus=options.num_gpus_per_worker or None
            )(EngineWorker)
            config = self.config.model_dump(mode="json")
            self._actors = [remote.remote(config) for _ in range(options.workers)]
        return self._actors

    def dispatch(self, job: Dispatch) -> None:
        requests = job.requests
        size = self.options.batch_size
        batches = [range(start, min(start + size, len(requests))) for start in range(0, len(requests), size)]
        idle = list(self.actors()) if batches else []
        running: dict[Any, tuple[Any, range]] = {}  # object ref -> (actor, batch)
        handed_out = 0
        while handed_out < len(batches) or running:
            while idle and handed_out < len(batches) and not job.stopped():
                actor, batch = idle.pop(), batches[handed_out]
                handed_out += 1
                job.sending(batch)
                running[actor.answer.remote([request_to_json(requests[i]) for i in batch])] = (actor, batch)
            if not running:
                return  # stopped before the remaining batches were handed out: they become NOT_SENT
            (ref,), _ = self._ray.wait(list(running), num_returns=1)
            actor, batch = running.pop(ref)
            for index, result in zip(batch, self._batch_results(ref, len(batch)), strict=True):
                job.deliver(index, result)
            idle.append(actor)

    def _batch_results(self, ref: Any, size: int) -> list[ChatResult]:
        try:
            return [ChatResult(**json.loads(payload)) for payload in self._ray.get(ref)]
        except Exception as exc:  # a dead actor or worker: error rows, retried by a rerun
            return [ChatResult(error=clip(f"ray worker failed: {type(exc).__name__}: {exc}", 500)) for _ in range(size)]

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
        if self._started_ray and self._ray.is_initialized():
            self._ray.shutdown()
            self._started_ray = False


def ray_engine_factory(options: RayOptions) -> Callable[[EngineConfig], Engine]:
    """For ``CachedEngine(..., engine_factory=...)``: hits stay on the driver, misses go to the Ray pool."""
    return lambda config: RayPoolEngine(config, options)
