"""Pre-filled assistant turns and JSON-schema replies: the mapping for each engine, and llama.cpp for real."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from naturalthoughts.engines import (
    ChatRequest,
    ChatResult,
    LlamaCppEngine,
    OpenAIEngineConfig,
    SamplingParams,
    TransformersEngineConfig,
    create_engine,
)
from naturalthoughts.engines.chat_template import render_prompt
from naturalthoughts.engines.openai_compat import build_payload, continuation
from naturalthoughts.engines.transformers_local import TransformersEngine
from naturalthoughts.engines.vllm_offline import sampling_kwargs, structured_output_kwargs, vllm_prompt
from naturalthoughts.errors import ConfigError

QUESTION = ({"role": "user", "content": "What is the capital of France?"},)
COLOUR_SCHEMA = {
    "type": "object",
    "properties": {"colour": {"type": "string", "enum": ["red", "green", "blue"]}},
    "required": ["colour"],
}


def greedy(max_tokens: int, **fields: Any) -> ChatRequest:
    return ChatRequest(QUESTION, SamplingParams(max_tokens=max_tokens, temperature=0.0), **fields)


# -- OpenAI-compatible request bodies ----------------------------------------------------------------------------


def test_assistant_message_prefill_is_a_trailing_assistant_message() -> None:
    payload = build_payload("m", greedy(8, prefill="<think>\n"), {})
    assert payload["messages"] == [*QUESTION, {"role": "assistant", "content": "<think>\n"}]
    assert "continue_final_message" not in payload and "add_generation_prompt" not in payload


def test_continue_final_message_prefill_turns_off_the_generation_prompt() -> None:
    payload = build_payload("m", greedy(8, prefill="<think>\n"), {}, prefill="continue_final_message")
    assert payload["messages"][-1] == {"role": "assistant", "content": "<think>\n"}
    assert payload["continue_final_message"] is True and payload["add_generation_prompt"] is False


def test_no_prefill_leaves_the_conversation_alone() -> None:
    payload = build_payload("m", greedy(8), {}, prefill="continue_final_message")
    assert payload["messages"] == list(QUESTION) and "continue_final_message" not in payload


def test_json_schema_is_sent_in_the_nested_form_and_wins_over_json_mode() -> None:
    request = greedy(8, json_schema=COLOUR_SCHEMA, json_schema_name="colour", json_mode=True)
    assert build_payload("m", request, {})["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "colour", "schema": COLOUR_SCHEMA},
    }


def test_echoed_prefill_is_stripped_and_a_missing_echo_is_kept_or_refused_by_mode() -> None:
    request = greedy(8, prefill="<think>\n")
    echoed = ChatResult(text="<think>\nsome thought", finish_reason="stop")
    assert continuation(echoed, request, "auto", "u").text == "some thought"
    fresh = ChatResult(text="An answer.", finish_reason="stop")
    assert continuation(fresh, request, "assistant_message", "u").text == "An answer."
    vllm_style = ChatResult(text="<think>\nagain", finish_reason="stop")  # vLLM never echoes: keep every character
    assert continuation(vllm_style, request, "continue_final_message", "u").text == "<think>\nagain"
    with pytest.raises(ConfigError, match="did not continue"):
        continuation(ChatResult(text="An answer."), request, "auto", "http://server/v1")


def test_prefill_mode_none_says_the_server_cannot_continue() -> None:
    config = OpenAIEngineConfig(base_url="http://h/v1", model="m", prefill="none")
    assert "unable to continue an assistant message" in (config.continuation_problem() or "")
    assert OpenAIEngineConfig(base_url="http://h/v1", model="m").continuation_problem() is None


# -- llama.cpp for real --------------------------------------------------------------------------------------------


def test_llamacpp_continues_the_prefill_and_returns_only_the_continuation(llamacpp_engine: LlamaCppEngine) -> None:
    [whole] = llamacpp_engine.generate([greedy(24)])
    assert whole.ok and whole.text
    cut = whole.text.index(" ", 4)  # a word boundary, so the prefill tokenizes as the model wrote it
    prefill = whole.text[:cut]
    [rest] = llamacpp_engine.generate([greedy(48, prefill=prefill)])
    assert rest.ok and rest.text is not None and not rest.text.startswith(prefill)
    # Greedy decoding resumes the model's own reply exactly where the prefill stops.
    assert (prefill + rest.text).startswith(whole.text)
    assert rest.prompt_tokens is not None and whole.prompt_tokens is not None
    assert rest.prompt_tokens > whole.prompt_tokens  # the prefill is prompt, not completion


def test_llamacpp_reply_follows_an_enum_schema(llamacpp_engine: LlamaCppEngine) -> None:
    request = ChatRequest(
        messages=({"role": "user", "content": "Pick a colour for a fire truck."},),
        params=SamplingParams(max_tokens=40, temperature=0.0),
        json_schema=COLOUR_SCHEMA,
        json_schema_name="colour",
    )
    free = ChatRequest(request.messages, request.params)
    constrained, unconstrained = llamacpp_engine.generate([request, free])
    assert constrained.ok and constrained.finish_reason == "stop"
    assert json.loads(constrained.text or "")["colour"] in {"red", "green", "blue"}
    assert unconstrained.ok and not (unconstrained.text or "").lstrip().startswith("{")  # the schema did the work


def test_openai_engine_in_auto_mode_continues_against_llamacpp(llamacpp_openai_config: OpenAIEngineConfig) -> None:
    assert llamacpp_openai_config.prefill == "auto"
    with create_engine(llamacpp_openai_config) as engine:
        [result] = engine.generate([greedy(6, prefill="The capital of France is")])
    assert result.ok and result.text is not None and not result.text.startswith("The capital")


# -- transformers and vLLM offline: the rendered prompt is continued --------------------------------------------


@pytest.fixture(scope="module")
def tiny_engine(tiny_llama_dir: Path) -> TransformersEngine:
    engine = create_engine(TransformersEngineConfig(model=str(tiny_llama_dir), device="cpu", batch_size=4))
    assert isinstance(engine, TransformersEngine)
    return engine


def test_rendered_prompt_is_the_generation_prompt_then_the_prefill(tiny_engine: TransformersEngine) -> None:
    tokenizer = tiny_engine.tokenizer
    base = tokenizer.apply_chat_template(list(QUESTION), add_generation_prompt=True, tokenize=False)
    assert base.endswith("<|im_start|>assistant\n")
    assert render_prompt(tokenizer, greedy(4, prefill="<think>\nHm")) == base + "<think>\nHm"
    assert render_prompt(tokenizer, greedy(4)) == base


def test_transformers_continues_the_prefill_and_returns_only_the_new_text(tiny_engine: TransformersEngine) -> None:
    import torch

    tokenizer, model = tiny_engine.tokenizer, tiny_engine.model
    [plain, rest] = tiny_engine.generate([greedy(5), greedy(5, prefill="Paris is")])
    # What the model says right after "<template><generation prompt>Paris is", asked directly.
    prompt = tokenizer.apply_chat_template(list(QUESTION), add_generation_prompt=True, tokenize=False) + "Paris is"
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    expected = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert rest.ok and rest.text == expected and rest.text != plain.text
    prefill_tokens = len(tokenizer("Paris is", add_special_tokens=False)["input_ids"])
    assert rest.prompt_tokens == (plain.prompt_tokens or 0) + prefill_tokens


def test_vllm_prompt_is_the_rendered_prompt_as_token_ids(tiny_engine: TransformersEngine) -> None:
    tokenizer = tiny_engine.tokenizer
    request = greedy(4, prefill="<think>\n")
    expected = tokenizer.encode(render_prompt(tokenizer, request), add_special_tokens=False)
    assert vllm_prompt(tokenizer, request) == {"prompt_token_ids": expected}


class _Recorded:
    """Stands in for a vLLM structured-outputs parameter class (vLLM cannot be installed without CUDA)."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


def test_vllm_schema_and_json_mode_map_to_structured_outputs() -> None:
    kwargs = sampling_kwargs(greedy(4, json_schema=COLOUR_SCHEMA, json_mode=True))
    assert kwargs["json_schema"] == COLOUR_SCHEMA and "json_object" not in kwargs
    new_vllm = SimpleNamespace(StructuredOutputsParams=_Recorded)
    mapped = structured_output_kwargs(new_vllm, kwargs)
    assert "json_schema" not in mapped and mapped["structured_outputs"].kwargs == {"json": COLOUR_SCHEMA}
    old_vllm = SimpleNamespace(GuidedDecodingParams=_Recorded)
    json_object = structured_output_kwargs(old_vllm, sampling_kwargs(greedy(4, json_mode=True)))
    assert json_object["guided_decoding"].kwargs == {"json_object": True}
    assert structured_output_kwargs(new_vllm, sampling_kwargs(greedy(4))) == sampling_kwargs(greedy(4))
