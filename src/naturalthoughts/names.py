"""The one validator of every name a user gives: selections, SFT sets, models, evaluations, studies.

A name becomes a folder (``sft/NAME/``, ``models/NAME/``), a file (``selections/NAME.parquet``) and a manifest key
(``select:NAME``), so it must be one plain path component that reads the same in a terminal: letters, digits and
``. _ + -``, starting with a letter or digit, at most :data:`MAX_LENGTH` characters. Control characters (a trailing
newline included), path separators and a leading dot are named in the error, since those are the ones that make a
folder nobody can see or type.

``check_name`` is for code; :data:`Name` is the same rule as a pydantic type for config fields.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

from naturalthoughts.errors import ConfigError

MAX_LENGTH = 100
_PUNCTUATION = "._+-"
_SEPARATORS = ("/", "\\")
_ALLOWED = "use letters, digits and . _ + - (starting with a letter or digit)"


def name_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a name, in words; None when it is a good name."""
    if not isinstance(value, str):
        return f"must be text, not {type(value).__name__}"
    if not value:
        return "is empty"
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):  # control, format (bidi), line separators
            return f"contains a control character (U+{ord(char):04X})"
    if any(separator in value for separator in _SEPARATORS):
        return "contains a path separator ('/' or '\\')"
    if value.startswith("."):
        return "starts with a dot (a hidden file)"
    if len(value) > MAX_LENGTH:
        return f"is longer than {MAX_LENGTH} characters"
    if not value[0].isalnum():
        return "must start with a letter or digit"
    bad = sorted({char for char in value if not (char.isalnum() or char in _PUNCTUATION)})
    if bad:
        return f"contains {', '.join(repr(char) for char in bad)}"
    return None


def check_name(value: str, what: str) -> str:
    """``value`` when it is a good name; else a :class:`ConfigError` naming ``what`` (``"model name"``)."""
    problem = name_problem(value)
    if problem is not None:
        raise ConfigError(f"{what} {value!r} {problem}: {_ALLOWED}")
    return value


def _validated(value: str) -> str:
    problem = name_problem(value)
    if problem is not None:
        raise ValueError(f"{problem}: {_ALLOWED}")
    return value


Name = Annotated[str, AfterValidator(_validated)]
