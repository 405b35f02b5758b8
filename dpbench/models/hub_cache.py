"""Where Hugging Face Hub downloads live, whether a repository is already there (no network),
and whether downloads are forbidden (offline mode)."""

from __future__ import annotations

import os

#: Environment variables that forbid any download when set to a true value: dpbench's own, and
#: huggingface_hub's, honoured the same way by every model that downloads.
OFFLINE_VARIABLES = ("DPBENCH_OFFLINE", "HF_HUB_OFFLINE")


def is_offline() -> bool:
    """True when ``DPBENCH_OFFLINE`` or ``HF_HUB_OFFLINE`` is set to 1/true/yes/on."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in OFFLINE_VARIABLES)


def download_hint(repo: str, filename: str = "", local_dir: str = "") -> str:
    """The command that downloads a Hub repository (or one file of it): current huggingface_hub
    installs ``hf`` (``huggingface-cli`` is gone)."""
    command = f"hf download {repo}" + (f" {filename}" if filename else "")
    return command + (f" --local-dir {local_dir}" if local_dir else "")


def hub_cache_location() -> str:
    """The Hub cache folder (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ~/.cache/huggingface/hub)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return "~/.cache/huggingface/hub"
    return str(constants.HF_HUB_CACHE)


def hub_cache_has(repo: str, filename: str) -> bool | None:
    """Whether ``filename`` of Hub repository ``repo`` is in the local cache (None: cannot tell).

    A local folder counts as present when the file exists in it. Never touches the network.
    """
    from pathlib import Path

    if not repo:
        return None
    local = Path(repo).expanduser()
    if local.is_dir():
        return (local / filename).is_file()
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(repo, filename)
    except ValueError:  # not a valid repository id
        return None
    return isinstance(found, str)
