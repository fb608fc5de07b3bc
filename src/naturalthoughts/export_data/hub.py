"""``--push-to-hub OWNER/NAME``: upload an exported dataset folder with ``huggingface_hub``.

It needs the network and a token in the environment (``HF_TOKEN``, or ``HUGGING_FACE_HUB_TOKEN``); the folder is
written before either is checked, so a failed push loses nothing: without the network the command stops at once
with exit code 5 (a 3-second probe of huggingface.co), without a token with exit code 3, each saying how to push
the folder later. ``nt`` keeps ``HF_HUB_OFFLINE=1`` so that nothing is downloaded at run time; an explicit push is
an upload the user asked for, so it runs with the Hub client's offline switch lifted for its own requests only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from naturalthoughts.errors import Fix, MissingInputError, NTError, OfflineError

TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def _later(folder: Path, repo: str) -> str:
    """What to do instead (``{fix}`` stands for the stage with ``push_to_hub`` again)."""
    return f"push it later with `hf upload {repo} {folder} --repo-type dataset` (or run {{fix}} again)"


def push(folder: Path, repo: str, private: bool = False) -> str:
    """Upload ``folder`` as the Hub dataset ``repo`` (created when missing); returns its URL."""
    from naturalthoughts.benchmarks.datafiles import _hub_reachable

    if not _hub_reachable():
        raise OfflineError(
            f"push to the Hub as {repo}: huggingface.co is unreachable (this machine is offline). The dataset folder "
            f"is written at {folder}: {_later(folder, repo)}.",
            fix=Fix("", push_to_hub=repo),
        )
    token = next((os.environ[name] for name in TOKEN_VARIABLES if os.environ.get(name)), None)
    if token is None:
        raise MissingInputError(
            f"push to the Hub as {repo}: no Hub token in the environment (set HF_TOKEN to a write token). The "
            f"dataset folder is written at {folder}: {_later(folder, repo)}.",
            fix=Fix("", push_to_hub=repo),
        )
    from huggingface_hub import HfApi

    with _online():
        api = HfApi(token=token)
        try:
            url = api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
            api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset",
                              commit_message="naturalthoughts export-data")  # fmt: skip
        except Exception as exc:
            raise PushFailed(f"push to the Hub as {repo}: the Hub refused the upload ({exc}). The dataset folder is "
                             f"written at {folder}: {_later(folder, repo)}.",
                             fix=Fix("", push_to_hub=repo)) from None  # fmt: skip
    return str(url)


class PushFailed(NTError):
    """The Hub answered but refused the upload (bad token, no write access, a name taken)."""

    exit_code = 3


@contextlib.contextmanager
def _online() -> Iterator[None]:
    """The Hub client's offline switch off, for this upload only."""
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before
