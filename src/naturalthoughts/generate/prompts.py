"""Prompt templates that turn a question into the teacher's chat messages.

A template is text with a ``{question}`` placeholder that becomes the user turn. The question is
substituted with ``str.replace`` (not ``str.format``) so braces in questions or templates (LaTeX,
JSON examples) are left alone. The rendered messages are part of every cache key: editing a
template makes every request new.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from naturalthoughts.errors import ConfigError

PLACEHOLDER = "{question}"

# DeepSeek-R1 style: the question alone is the user turn (DeepSeek advises against a system prompt);
# the model's chat template opens <think> itself.
R1 = PLACEHOLDER

# For a model that does not reason natively: ask for the R1 response shape explicitly.
THINK_TAGS = (
    f"{PLACEHOLDER}\n\n"
    "First think through the problem step by step inside <think> and </think> tags. "
    "Then, after </think>, write your final answer.\n"
    "Use exactly this format:\n"
    "<think>\nyour step-by-step reasoning\n</think>\nyour final answer"
)

BUILTIN = {"r1": R1, "think-tags": THINK_TAGS}


@dataclass(frozen=True)
class PromptTemplate:
    name: str  # built-in name or file path
    text: str
    system_prompt: str | None = None

    def messages(self, question: str) -> tuple[dict[str, str], ...]:
        user = {"role": "user", "content": self.text.replace(PLACEHOLDER, question)}
        if self.system_prompt:
            return ({"role": "system", "content": self.system_prompt}, user)
        return (user,)


def resolve_name(name: str, engine: object) -> str:
    """``auto`` means the engine's own default prompt (its config's ``default_prompt``: think-tags for the embedded
    llama.cpp engine's small instruct models, r1 otherwise)."""
    if name != "auto":
        return name
    return str(getattr(engine, "default_prompt", "r1"))


def load_template(name: str, engine: object = None, system_prompt: str | None = None) -> PromptTemplate:
    """A built-in template by name, or a template file (UTF-8 text containing ``{question}``)."""
    name = resolve_name(name, engine)
    if name in BUILTIN:
        return PromptTemplate(name, BUILTIN[name], system_prompt)
    path = Path(name)
    if not path.is_file():
        raise ConfigError(
            f"prompt template '{name}': not a built-in template ({', '.join(sorted(BUILTIN))}, auto) and no such file"
        )
    text = path.read_text(encoding="utf-8")
    if PLACEHOLDER not in text:
        raise ConfigError(f"{path}: a prompt template must contain {PLACEHOLDER} where the question goes")
    return PromptTemplate(str(path), text, system_prompt)
