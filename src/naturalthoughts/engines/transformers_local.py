"""``engine: transformers`` — a Hugging Face checkpoint in this process, batched ``generate`` on CPU or GPU.

Prompts are rendered with the tokenizer's chat template and padded on the left so a batch of
different lengths decodes together. Requests sharing sampling parameters are batched (``generate``
takes one generation config per call), longest prompts first so padding stays small. Rows that have ended leave
the batch as it goes (:data:`THIN_AT`): a step for one row costs about half a step for 32 on a CPU (the weights are
read once a step), so a batch takes as many steps as its longest reply and ended rows only slow them. A prefill is
continued (``chat_template.render_prompt``) and the result is the new text only. ``json_mode`` and
``json_schema`` are not enforced here (no constrained decoding: callers validate and retry);
``seed`` seeds torch before each batch, so sampled outputs are reproducible for the same batch
composition only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from naturalthoughts.engines.base import BatchedEngine, ChatRequest, ChatResult, SamplingParams
from naturalthoughts.engines.chat_template import render_prompt
from naturalthoughts.engines.config import TransformersEngineConfig
from naturalthoughts.engines.identity import checkpoint_identity
from naturalthoughts.errors import ConfigError
from naturalthoughts.progress import generated
from naturalthoughts.resources import bf16_native, trim_heap

log = logging.getLogger("naturalthoughts.engines")

# A batch goes on without its finished rows once at most this share of them is still decoding. A decoding step of
# the 135M student costs about 45 ms for one row and 100 ms for 32 on 2 cores (the weights are read once a step), so
# a batch whose answers end at different lengths spent most of its time on rows that had ended.
THIN_AT = 0.5


def resolve_device(device: str) -> str:
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _warn_if_emulated(dtype: Any, device: str) -> None:
    """A model in bfloat16 on a CPU that only emulates it runs several times slower than in float32: say so once."""
    import torch

    if device == "cpu" and dtype == torch.bfloat16 and not bf16_native("cpu"):
        log.warning(
            "transformers: the model runs in bfloat16 on a CPU without AVX512-BF16 or AMX, which torch emulates "
            "(several times slower than float32 for a small model): set the engine's dtype to float32"
        )


def generation_kwargs(params: SamplingParams) -> dict[str, Any]:
    """``model.generate`` arguments for ``params`` (temperature 0 means greedy decoding)."""
    kwargs: dict[str, Any] = {"max_new_tokens": params.max_tokens}
    if params.temperature > 0:
        kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    if params.stop:
        kwargs["stop_strings"] = list(params.stop)
    return kwargs


def prompt_chars(request: ChatRequest) -> int:
    return sum(len(m.get("content") or "") for m in request.messages) + len(request.prefill or "")


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first stop string (excluded, as OpenAI servers do) and whether one was found."""
    positions = [position for stop in stops if (position := text.find(stop)) >= 0]
    return (text[: min(positions)], True) if positions else (text, False)


class TransformersEngine(BatchedEngine):
    name = "transformers"

    def __init__(self, config: TransformersEngineConfig) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar would only clutter nt's own progress
        self.config = config
        self.batch_size = config.batch_size
        self._identity = self.identity(config)
        self.device = resolve_device(config.device)
        if self.device == "cpu":
            from naturalthoughts.resources import torch_threads

            torch_threads()  # the cores this process may use (affinity, cgroup quota), not every core it sees
        dtype: Any = config.dtype if config.dtype == "auto" else getattr(torch, config.dtype)
        revision = None if Path(config.model).is_dir() else config.revision
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(config.model, revision=revision)
            self.model = AutoModelForCausalLM.from_pretrained(config.model, revision=revision, dtype=dtype)
        except OSError as exc:
            raise ConfigError(
                f"transformers could not load model '{config.model}': {exc}. "
                "Give a local checkpoint folder, or a Hub id on a machine with network access."
            ) from None
        self.model.to(self.device).eval()
        _warn_if_emulated(self.model.dtype, self.device)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        eos = self.model.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos if eos is not None else self.tokenizer.eos_token_id]
        self._end_ids = {token for token in [*eos_ids, self.tokenizer.pad_token_id] if token is not None}

    @staticmethod
    def identity(config: TransformersEngineConfig) -> str:
        return f"transformers:{checkpoint_identity(config.model, config.revision)}:{config.dtype}"

    def model_identity(self) -> str:
        return self._identity

    def batches(self, requests: Sequence[ChatRequest]) -> list[list[int]]:
        """Indices grouped by sampling parameters, longest prompt first, cut into as few pieces of at most batch_size
        as will do, of even sizes: a batch takes as many decoding steps as its longest reply whatever its rows, so
        117 requests at batch_size 48 are three batches of 39 (the fewest steps, and the least memory for that)."""
        groups: dict[SamplingParams, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(request.params, []).append(index)
        batches = []
        for indices in groups.values():
            indices.sort(key=lambda i: -prompt_chars(requests[i]))
            pieces = -(-len(indices) // self.batch_size)
            size = -(-len(indices) // pieces)
            batches.extend(indices[start : start + size] for start in range(0, len(indices), size))
        return batches

    def answer_batch(self, requests: list[ChatRequest]) -> list[ChatResult]:
        """One ``generate`` call for requests sharing their sampling parameters (see :meth:`batches`)."""
        return self.answer_batch_as_finished(requests, None)

    def answer_batch_as_finished(
        self, requests: list[ChatRequest], finished: Callable[[int, ChatResult], None] | None
    ) -> list[ChatResult]:
        """As :meth:`answer_batch`, handing over each sequence the step it ends (its end token is generated), while
        the longer ones of the batch go on: an interrupted evaluation keeps every sample that had finished.

        Finished rows leave the batch (see :data:`THIN_AT`): ``generate`` stops once few rows are still going and
        is called again on those rows alone, with their key/value cache, so nothing is decoded twice."""
        import torch

        trim_heap()  # the last batch's key/value cache, freed, goes back to the OS before this one grows its own
        params = requests[0].params
        prompts = [render_prompt(self.tokenizer, request) for request in requests]
        inputs = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        inputs = inputs.to(self.device)
        if params.seed is not None:
            torch.manual_seed(params.seed)
        started = time.monotonic()
        prompt_lengths = inputs["attention_mask"].sum(dim=1).tolist()
        width = inputs["input_ids"].shape[1]  # new tokens start here in every row
        by_row: dict[int, ChatResult] = {}

        def end(row: int, tokens: list[int]) -> None:
            if row not in by_row:
                result = self._to_result(tokens, int(prompt_lengths[row]), params, time.monotonic() - started)
                by_row[row] = result
                if finished is not None:
                    finished(row, result)

        rows = list(range(len(requests)))  # the request of each row still decoding
        ids, mask, cache = inputs["input_ids"], inputs["attention_mask"], None
        while rows:
            thinning = _Thinning(width, self._end_ids, lambda position, tokens, rows=rows: end(rows[position], tokens))
            room = params.max_tokens - (ids.shape[1] - width)
            with torch.inference_mode():
                output = self.model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    past_key_values=cache,
                    **generation_kwargs(replace(params, max_tokens=room)),
                    stopping_criteria=[thinning],
                    return_dict_in_generate=True,
                    pad_token_id=self.tokenizer.pad_token_id,
                    tokenizer=self.tokenizer,
                    streamer=LiveTokens(self._end_ids),
                )
            sequences, cache = output.sequences, output.past_key_values
            going = []
            for position, row in enumerate(rows):
                tokens = sequences[position, width:].tolist()
                if position in thinning.reported or len(tokens) >= params.max_tokens or self._stopped(tokens, params):
                    end(row, tokens)
                else:
                    going.append(position)
            if not going:
                break
            ids, mask, cache = _narrowed(going, sequences, mask, cache)
            rows = [rows[position] for position in going]
            del output, sequences
            trim_heap()  # the ended rows' share of the cache
        return [by_row[row] for row in range(len(requests))]

    def _stopped(self, tokens: list[int], params: SamplingParams) -> bool:
        """Whether a row without an end token has reached one of the request's stop strings."""
        return bool(params.stop) and cut_at_stop(self.tokenizer.decode(tokens), params.stop)[1]

    def _to_result(self, tokens: list[int], prompt_tokens: int, params: SamplingParams, latency: float) -> ChatResult:
        end = next((position for position, token in enumerate(tokens) if token in self._end_ids), None)
        text = self.tokenizer.decode(tokens if end is None else tokens[:end], skip_special_tokens=True)
        text, hit_stop = cut_at_stop(text, params.stop)
        # The end-of-sequence token counts as generated; after a stop string the end id is the batch's padding.
        generated = tokens if end is None else tokens[: end + (0 if hit_stop else 1)]
        finish = "stop" if end is not None or hit_stop or len(tokens) < params.max_tokens else "length"
        return ChatResult(
            text=text,
            finish_reason=finish,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(generated),
            latency_s=latency,
        )


def _narrowed(going: list[int], sequences: Any, mask: Any, cache: Any) -> tuple[Any, Any, Any]:
    """The token ids, attention mask and key/value cache of the rows at positions ``going`` only (the generated
    tokens of a row still going hold no padding, so its mask is extended with ones)."""
    import torch

    keep = torch.tensor(going, device=sequences.device)
    mask = torch.cat([mask, mask.new_ones((mask.shape[0], sequences.shape[1] - mask.shape[1]))], dim=1)
    if cache is not None and hasattr(cache, "batch_select_indices"):
        cache.batch_select_indices(keep)
    else:
        cache = None  # a model without a reusable cache: the next call recomputes the rows from their tokens
    return sequences[keep], mask[keep], cache


class LiveTokens:
    """A ``generate`` streamer that reports each decoding step's new tokens to the progress display
    (:func:`naturalthoughts.progress.generated`), so a batch's rate shows before any of its requests ends."""

    def __init__(self, end_ids: set[int]) -> None:
        self.end_ids = end_ids
        self.ended: list[bool] | None = None

    def put(self, value: Any) -> None:
        if value.dim() > 1:
            return  # the prompt, handed over once before the first step
        tokens = value.tolist()
        if self.ended is None:
            self.ended = [False] * len(tokens)
        new = 0
        for row, token in enumerate(tokens):
            if not self.ended[row]:  # a row that ended gets padding from then on
                new += 1
                self.ended[row] = token in self.end_ids
        generated(new)

    def end(self) -> None:
        pass


class _Thinning:
    """A stopping criterion that reports each row of the batch the step its end token appears (``ended(position,
    new_tokens)``, once per row), so its result can be kept before the batch is done, and stops the whole
    ``generate`` call once at most :data:`THIN_AT` of its rows are still going (the caller goes on without the
    finished ones). It never stops a call that has a single row: that one runs to its end."""

    def __init__(self, start: int, end_ids: set[int], ended: Callable[[int, list[int]], None]) -> None:
        self.start = start
        self.end_ids = sorted(end_ids)
        self.ended = ended
        self.reported: set[int] = set()

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        new = input_ids[:, self.start :]
        done = torch.isin(new, torch.tensor(self.end_ids, device=new.device)).any(dim=1)
        for row in torch.nonzero(done).flatten().tolist():
            if row not in self.reported:
                self.reported.add(row)
                self.ended(row, new[row].tolist())
        rows = input_ids.shape[0]
        going = rows - len(self.reported)
        if 0 < going <= rows * THIN_AT:
            return torch.ones(rows, dtype=torch.bool, device=input_ids.device)
        return done
