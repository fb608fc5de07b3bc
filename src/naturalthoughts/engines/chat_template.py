"""Rendering a request into prompt text for the in-process engines (transformers, vLLM offline).

A pre-filled assistant turn is continued by rendering the conversation *without* it, with the
generation prompt (``add_generation_prompt=True``), and appending the prefill text as is. This is
what llama.cpp's server does too, and unlike re-rendering the prefill as an assistant message it
survives templates that rewrite assistant messages (DeepSeek-R1's drops everything up to ``</think>``).
"""

from __future__ import annotations

from typing import Any

from naturalthoughts.engines.base import ChatRequest
from naturalthoughts.errors import ConfigError


def render_prompt(tokenizer: Any, request: ChatRequest) -> str:
    """The prompt text for ``request``: its messages in the chat template, then the generation prompt and prefill."""
    if getattr(tokenizer, "chat_template", None) is None:
        raise ConfigError(
            f"the tokenizer of {getattr(tokenizer, 'name_or_path', 'this model')} has no chat template: "
            "give a chat (instruction-tuned) checkpoint, or add a chat_template to its tokenizer_config.json"
        )
    messages = [dict(message) for message in request.messages]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return prompt + (request.prefill or "")
