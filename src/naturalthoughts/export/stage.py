"""The export stage: ``models/NAME/`` -> ``exports/NAME/`` (GGUF files for llama.cpp, Ollama, LM Studio).

Writes ``NAME.OUTTYPE.gguf`` (the merged model), and for a LoRA-trained model also ``NAME.lora.OUTTYPE.gguf`` (the
adapter alone, applied by llama.cpp on top of the base model's GGUF: the bundled Q4_1 SmolLM2 file for the
default student, else ``base.OUTTYPE.gguf`` written beside it), a ``Modelfile`` for Ollama and ``export.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field

from naturalthoughts.atomic import atomic_dir, write_json
from naturalthoughts.config import StrictModel
from naturalthoughts.errors import Fix, MissingInputError
from naturalthoughts.names import check_name
from naturalthoughts.rundir import RunDir
from naturalthoughts.stage import Stage, StageContext, StageResult
from naturalthoughts.student import is_bundled
from naturalthoughts.train.card import TRAINING_JSON
from naturalthoughts.train.stage import ADAPTER_DIR

EXPORTS_DIR = "exports"


class ExportConfig(StrictModel):
    outtype: Literal["f32", "f16", "bf16", "q8_0"] = Field("f16", description="GGUF tensor type of the model file")
    lora: bool = Field(True, description="also write a LoRA-trained model's adapter as a GGUF LoRA")


class ExportStage(Stage):
    """``export:NAME``: reads ``models/NAME/``; writes ``exports/NAME/``."""

    name = "export"
    config_model = ExportConfig
    reads = ("models/NAME/",)
    writes = ("exports/NAME/",)

    def __init__(self, config: ExportConfig | None = None, *, model: str) -> None:
        super().__init__(config, model=model)

    @property
    def key(self) -> str:
        return f"export:{self.args['model']}"

    def model_folder(self, run: RunDir) -> Path:
        return run.models_dir / self.args["model"]

    def folder(self, run: RunDir) -> Path:
        return run.root / EXPORTS_DIR / self.args["model"]

    def inputs(self, run: RunDir) -> list[Path]:
        return [self.model_folder(run)]

    def outputs(self, run: RunDir) -> list[Path]:
        return [self.folder(run)]

    def check(self, run: RunDir) -> None:
        check_name(self.args["model"], "model name")

    def run(self, ctx: StageContext) -> StageResult:
        from naturalthoughts.export.gguf import convert_lora, convert_model, find_converter

        run, config, name = ctx.run, self.config, self.args["model"]
        model = self.model_folder(run)
        if not (model / "config.json").exists():
            raise MissingInputError(f"{model} is not a trained model: run {{fix}} first.",
                                    fix=Fix("train", selection="SELECTION", name=name).at(run))  # fmt: skip
        find_converter()  # fail before any work when it is missing
        training = json.loads((model / TRAINING_JSON).read_text(encoding="utf-8"))
        adapter = model / ADAPTER_DIR
        files: dict[str, str] = {}
        with atomic_dir(self.folder(run)) as tmp, ctx.progress.task(f"export {name}", total=None, unit="files") as task:
            files["model"] = convert_model(model, tmp / f"{name}.{config.outtype}.gguf", config.outtype).name
            task.advance(1)
            if config.lora and adapter.is_dir():
                base = Path(training["student_path"])
                lora_type = "f16" if config.outtype in ("f16", "bf16", "q8_0") else "f32"
                files["lora"] = convert_lora(adapter, base, tmp / f"{name}.lora.{lora_type}.gguf", lora_type).name
                if is_bundled(training["hyperparameters"].get("student")):
                    from naturalthoughts import assets

                    files["lora_base"] = str(assets.smollm2_gguf())
                else:
                    files["lora_base"] = convert_model(base, tmp / f"base.{config.outtype}.gguf", config.outtype).name
                task.advance(1)
            (tmp / "Modelfile").write_text(f"# Ollama: ollama create {name} -f Modelfile\nFROM ./{files['model']}\n",
                                           encoding="utf-8")  # fmt: skip
            write_json({"model": name, "outtype": config.outtype, "files": files, "usage": _usage(files)},
                       tmp / "export.json")  # fmt: skip
        folder = self.folder(run)
        return StageResult(
            counts={"gguf_files": len(list(folder.glob("*.gguf")))},
            outputs=[folder],
            summary=f"{', '.join(Path(v).name for v in files.values())} -> {folder}",
            extra={"files": files},
            value={"folder": str(folder), "files": files},
        )


def _usage(files: dict[str, str]) -> list[str]:
    lines = [f"llama-server -m {files['model']}", f"ollama create NAME -f Modelfile   # FROM ./{files['model']}"]
    if "lora" in files:
        lines.append(f"llama-server -m {files['lora_base']} --lora {files['lora']}")
    return lines
