"""The bundled student: the SmolLM2-135M-Instruct GGUF rebuilt once into a clean, trainable safetensors folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from naturalthoughts.errors import ConfigError
from naturalthoughts.student import CACHE_ENV, bundled_student_dir, resolve_student


@pytest.mark.slow
def test_bundled_student_converts_once_into_the_cache_and_matches_the_gguf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from naturalthoughts import assets

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    notes: list[str] = []
    folder = bundled_student_dir(note=notes.append)
    assert folder.parent == tmp_path / "cache" / "students" and len(notes) == 1
    assert not list(folder.parent.glob(".*.tmp"))  # built in a temporary sibling, renamed when complete
    assert bundled_student_dir(note=notes.append) == folder and len(notes) == 1  # converted once
    assert resolve_student(None) == str(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert getattr(model.config, "quantization_config", None) is None  # Trainer and save_pretrained accept it
    gguf = assets.smollm2_gguf()
    reference = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    ids = torch.tensor([[1, 9690, 198, 19556, 17, 2]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, reference(ids).logits)


def test_a_student_that_is_not_a_model_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no config\.json"):
        resolve_student(str(tmp_path))
    with pytest.raises(ConfigError, match="no such folder"):
        resolve_student(str(tmp_path / "absent"))
    assert resolve_student("meta-llama/Llama-3.1-8B-Instruct") == "meta-llama/Llama-3.1-8B-Instruct"
