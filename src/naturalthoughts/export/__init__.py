"""Export a trained student: GGUF files for llama.cpp, Ollama and LM Studio (``nt export --gguf``)."""

from naturalthoughts.export.stage import ExportConfig, ExportStage

__all__ = ["ExportConfig", "ExportStage"]
