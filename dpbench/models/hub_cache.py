"""Where Hugging Face Hub downloads live, and whether a repository is already there (no network)."""

from __future__ import annotations


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
