"""Locate dpbench's data files: protocol files (``datasets/``) and reference numbers (``baselines/``).

In a source checkout (``pip install -e .``) they are the top-level folders of the repository; in an
installed wheel they are shipped inside the package as ``dpbench/_resources/<kind>``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

RESOURCE_KINDS = ("datasets", "baselines")
_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(kind: str) -> Path:
    """The folder holding the data files of ``kind`` ('datasets' or 'baselines')."""
    if kind not in RESOURCE_KINDS:
        raise ValueError(f"unknown resource kind {kind!r}; expected one of {RESOURCE_KINDS}")
    override = os.environ.get(f"DPBENCH_{kind.upper()}_DIR")
    candidates = [Path(override)] if override else []
    candidates += [_PACKAGE_DIR.parent / kind, _PACKAGE_DIR / "_resources" / kind]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"dpbench's '{kind}' data folder was not found (looked in: "
        + ", ".join(str(c) for c in candidates)
        + "). Reinstall dpbench or set $DPBENCH_" + kind.upper() + "_DIR."
    )


def resource_path(kind: str, name: str) -> Path:
    """Path of one data file, e.g. ``resource_path('datasets', 'booster.toml')``; must exist."""
    path = resource_dir(kind) / name
    if not path.exists():
        raise FileNotFoundError(f"dpbench data file not found: {path}")
    return path


def load_toml(path: str | os.PathLike) -> dict:
    """Read a TOML file into a dict, naming the file in any parse error."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: invalid TOML: {exc}") from exc


def cache_dir() -> Path:
    """dpbench's cache folder: ``$DPBENCH_CACHE`` or ``~/.cache/dpbench`` (not created here)."""
    override = os.environ.get("DPBENCH_CACHE")
    return Path(override) if override else Path.home() / ".cache" / "dpbench"
