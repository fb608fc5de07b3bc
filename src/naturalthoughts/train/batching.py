"""Token-budget batching: micro-batches of about N tokens each, not of a fixed number of examples.

Reasoning traces vary in length by orders of magnitude (log-normal), so a fixed number of examples per batch
either wastes memory on short ones or runs out on long ones. The paper batched dynamically to about 400k tokens
per optimizer step; here each micro-batch holds about ``budget`` tokens (padding-free: the examples of a
micro-batch are concatenated, so no token is padding) and gradient accumulation adds micro-batches up to the
step's token target.

Each epoch, the examples are shuffled by ``(seed, epoch)`` and dealt one by one to the micro-batch with the fewest
tokens so far, over a fixed number of micro-batches ``ceil(total tokens / budget)`` (rounded up to a multiple of
the number of processes, so every device gets as many). The count is the same every epoch (the trainer's schedule
and a resume from a checkpoint rely on it) and a micro-batch never holds more than ``budget`` plus one example.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Sequence

import numpy as np


class TokenBudgetBatchSampler:
    """A batch sampler (for ``DataLoader(batch_sampler=...)``) yielding lists of example indices."""

    def __init__(self, lengths: Sequence[int], budget: int, seed: int = 0, multiple_of: int = 1) -> None:
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if len(self.lengths) == 0:
            raise ValueError("no examples to batch")
        self.budget = budget
        self.seed = seed
        self.epoch = 0
        wanted = max(1, math.ceil(int(self.lengths.sum()) / budget))
        self.num_batches = math.ceil(wanted / multiple_of) * multiple_of
        if self.num_batches > len(self.lengths):
            raise ValueError(
                f"{len(self.lengths)} examples cannot fill {self.num_batches} micro-batches "
                f"({multiple_of} processes): use fewer processes or more data"
            )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches

    def batches(self, epoch: int) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, epoch])
        heap = [(0, slot) for slot in range(self.num_batches)]  # (tokens so far, slot)
        slots: list[list[int]] = [[] for _ in range(self.num_batches)]
        for index in rng.permutation(len(self.lengths)).tolist():
            tokens, slot = heapq.heappop(heap)
            slots[slot].append(index)
            heapq.heappush(heap, (tokens + int(self.lengths[index]), slot))
        return [slots[i] for i in rng.permutation(self.num_batches).tolist()]

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches(self.epoch)
