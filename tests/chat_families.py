"""Tokenizers of today's student families, built locally (nothing downloaded): the bundled SmolLM2 byte-level BPE
with each family's chat template (as the installed TRL ships it), special tokens, and, for the byte-level families
(Llama 3, Qwen, DeepSeek-R1-Distill), their pre-tokenizer split, which decides how ``\\n\\n`` tokenises.

Gemma 3 and Phi-3.5 use SentencePiece vocabularies in reality; here they keep SmolLM2's byte-level BPE, so their
tests cover the templates, not SentencePiece's space handling (the loss-mask check covers that at run time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Qwen2 / Llama 3 split pattern: a run of newlines is one pre-token (so "\n\n" is one token, "\n" another)
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN_SPECIAL = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
THINK_TOKENS = ("<think>", "</think>")


@dataclass(frozen=True)
class Family:
    name: str  # test id
    stem: str | None  # TRL template file stem; None keeps the bundled SmolLM2 template
    family: str  # expected naturalthoughts family
    source: str  # expected template source
    special: tuple[str, ...] = ()
    plain: tuple[str, ...] = ()  # added tokens that are not special (Qwen3's <think>)
    bos: str | None = None
    eos: str | None = None
    split: bool = False


FAMILIES = [
    Family("smollm2", None, "generic", "student"),
    Family("llama3", "llama3", "llama3", "trl:llama3_training.jinja",
           ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
           bos="<|begin_of_text|>", eos="<|eot_id|>", split=True),
    Family("llama3.1", "llama3_1", "llama3", "student",
           ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
           bos="<|begin_of_text|>", eos="<|eot_id|>", split=True),
    Family("llama3.2", "llama3_2", "llama3", "student",
           ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
           bos="<|begin_of_text|>", eos="<|eot_id|>", split=True),
    Family("qwen2.5", "qwen2_5", "qwen2.5", "trl:qwen2_5_training.jinja", QWEN_SPECIAL, eos="<|im_end|>",
           split=True),
    Family("qwen3", "qwen3", "qwen3", "trl:qwen3_training.jinja", QWEN_SPECIAL, THINK_TOKENS, eos="<|im_end|>",
           split=True),
    Family("qwen3.5-think", "qwen3_5_think", "qwen3.5-think", "trl:qwen3_5_think_training.jinja", QWEN_SPECIAL,
           THINK_TOKENS, eos="<|im_end|>", split=True),
    Family("qwen3.5-nothink", "qwen3_5_nothink", "qwen3.5-nothink", "trl:qwen3_5_nothink_training.jinja",
           QWEN_SPECIAL, THINK_TOKENS, eos="<|im_end|>", split=True),
    Family("deepseek-r1-distill", "deepseek_r1_distill", "deepseek-r1-distill",
           "trl:deepseek_r1_distill_training.jinja",
           ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"), THINK_TOKENS,
           bos="<｜begin▁of▁sentence｜>", eos="<｜end▁of▁sentence｜>", split=True),
    Family("gemma3", "gemma3", "gemma3", "trl:gemma3_training.jinja",
           ("<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"), bos="<bos>", eos="<eos>"),
    Family("phi3.5", "phi3_5", "phi3.5", "trl:phi3_5_training.jinja",
           ("<s>", "<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"), bos="<s>",
           eos="<|endoftext|>"),
]  # fmt: skip
BY_NAME = {family.name: family for family in FAMILIES}


def stock_template(stem: str) -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / f"{stem}.jinja").read_text(encoding="utf-8")


def family_tokenizer(base: Path, family: Family) -> Any:
    """The SmolLM2 tokenizer saved in ``base``, dressed as ``family``."""
    from tokenizers import Regex, pre_tokenizers
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base))
    if family.stem is None:
        return tokenizer
    tokenizer.add_tokens(list(family.special), special_tokens=True)
    tokenizer.add_tokens(list(family.plain))
    if family.bos:
        tokenizer.bos_token = family.bos
    if family.eos:
        tokenizer.eos_token = family.eos
    if family.split:
        tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    tokenizer.chat_template = stock_template(family.stem)
    return tokenizer


def family_student(base: Path, family: Family, folder: Path) -> Path:
    """A trainable student folder: the tiny random Llama in ``base`` with ``family``'s tokenizer (embeddings grown
    to its added tokens)."""
    from transformers import AutoModelForCausalLM

    tokenizer = family_tokenizer(base, family)
    model = AutoModelForCausalLM.from_pretrained(str(base))
    model.resize_token_embeddings(len(tokenizer))
    model.config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
