"""``executor: ray`` — generation spread over a Ray cluster through Ray Data.

How it maps onto a cluster (see docs/scaling.md):

- The driver (where ``nt generate`` runs) owns the response cache. It answers hits itself and
  ships only the misses to Ray, so cache and resume semantics are exactly those of the local
  executor: :class:`RayCachedEngine` is a :class:`CachedEngine` whose inner engine is Ray. One
  writer means SQLite never has to be shared across machines (SQLite on a network filesystem is
  unsafe); results are committed as their batch streams back to the driver.
- The misses become a Ray Dataset in plan order, cut into blocks of ``batch_size`` requests, so the
  shards are deterministic. ``map_batches`` runs an actor pool of ``workers`` actors; each actor holds
  its own engine, built once: one vLLM engine per GPU (``num_gpus_per_worker: 1``), an embedded
  llama.cpp server per actor, or an HTTP client to a shared endpoint (``engine: openai``).
- A killed run loses at most the batches in flight (``workers`` x ``batch_size`` requests); budgets
  are checked as each batch returns, so a budget stop can overshoot by the batches in flight.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Collection, Sequence
from typing import Any

from naturalthoughts.engines import (
    NOT_SENT,
    CachedEngine,
    ChatRequest,
    ChatResult,
    Engine,
    EngineConfig,
    ResponseCache,
    ResultCallback,
    StopCheck,
    engine_identity,
)
from naturalthoughts.errors import ConfigError
from naturalthoughts.generate.config import RayOptions
from naturalthoughts.generate.plan import request_from_json, request_to_json


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # Ray Data is the part we need
    except ImportError:
        raise ConfigError(
            "--executor ray needs Ray Data: pip install 'naturalthoughts[ray]' (ray[data]==2.60.0)"
        ) from None
    return ray


class EngineWorker:
    """A Ray Data actor: builds its engine once, then answers batches of serialised requests."""

    def __init__(self, engine_config: dict[str, Any]) -> None:
        from pydantic import TypeAdapter

        from naturalthoughts.engines import create_engine

        config = TypeAdapter(EngineConfig).validate_python(engine_config)
        self.engine = create_engine(config)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        requests = [request_from_json(text) for text in batch["request"]]
        results = self.engine.generate(requests)
        return {
            "index": batch["index"],
            "result": np.array([json.dumps(dataclasses.asdict(r), ensure_ascii=False) for r in results], dtype=object),
        }


class RayDataEngine(Engine):
    """Answers a list of requests on a Ray cluster; results stream back to ``on_result`` as batches finish."""

    name = "ray"

    def __init__(self, config: EngineConfig, options: RayOptions) -> None:
        self.config = config
        self.options = options
        self._ray = import_ray()
        self._started_ray = False
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

    def generate(
        self,
        requests: Sequence[ChatRequest],
        on_result: ResultCallback | None = None,
        should_stop: StopCheck | None = None,
    ) -> list[ChatResult]:
        results: list[ChatResult | None] = [None] * len(requests)
        if not requests or (should_stop and should_stop()):
            return [ChatResult(error=NOT_SENT) for _ in requests]
        ray = self._ray
        ray.data.DataContext.get_current().enable_progress_bars = False
        options = self.options
        items = [{"index": i, "request": request_to_json(r)} for i, r in enumerate(requests)]
        blocks = math.ceil(len(items) / options.batch_size)
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            EngineWorker,
            batch_size=options.batch_size,
            batch_format="numpy",
            concurrency=min(options.workers, blocks),
            num_cpus=options.num_cpus_per_worker,
            num_gpus=options.num_gpus_per_worker or None,
            fn_constructor_kwargs={"engine_config": self.config.model_dump(mode="json")},
        )
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for index, payload in zip(batch["index"], batch["result"], strict=True):
                result = ChatResult(**json.loads(payload))
                results[int(index)] = result
                if on_result is not None:
                    on_result(int(index), result)
            if should_stop and should_stop():
                break
        unsent = [i for i, r in enumerate(results) if r is None]
        for index in unsent:
            results[index] = ChatResult(error=NOT_SENT)
            if on_result is not None:
                on_result(index, results[index])  # type: ignore[arg-type]
        return results  # type: ignore[return-value]

    def close(self) -> None:
        if self._started_ray and self._ray.is_initialized():
            self._ray.shutdown()
            self._started_ray = False


class RayCachedEngine(CachedEngine):
    """The response cache in front of :class:`RayDataEngine`: hits on the driver, misses on the cluster."""

    def __init__(
        self, config: EngineConfig, cache: ResponseCache, options: RayOptions, refresh: Collection[str] = ()
    ) -> None:
        super().__init__(config, cache, refresh)
        self.options = options

    def inner(self) -> Engine:
        with self._lock:
            if self._inner is None:
                self._inner = RayDataEngine(self.config, self.options)
            return self._inner
