"""Dataset adapters and their registry.

Every module of this package registers its adapters with :func:`register_dataset` on import;
third-party packages add theirs through the entry-point group ``dpbench.datasets`` (an entry
point names a :class:`Dataset` subclass, registered under the entry point's name, or a module
that registers its adapters when imported).
"""

from __future__ import annotations

import os
from pathlib import Path

from dpbench._plugins import import_submodules, load_entry_points
from dpbench.datasets.base import Dataset, load_protocol
from dpbench.errors import UnknownNameError

_REGISTRY: dict[str, type[Dataset]] = {}
_NOT_ADAPTERS = {"base", "listing"}
_loaded = False


def register_dataset(name: str):
    """Class decorator: register a :class:`Dataset` subclass under ``name``."""

    def decorate(cls: type[Dataset]) -> type[Dataset]:
        if not (isinstance(cls, type) and issubclass(cls, Dataset)):
            raise TypeError(f"register_dataset({name!r}) expects a Dataset subclass, got {cls!r}")
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(f"dataset name {name!r} is already registered by {existing.__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def _load_all() -> None:
    """Import the built-in adapter modules and the third-party entry points, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import_submodules(__name__, __path__, _NOT_ADAPTERS)
    for name, _value, obj in load_entry_points("dpbench.datasets", "dataset"):
        if isinstance(obj, type) and issubclass(obj, Dataset) and name not in _REGISTRY:
            register_dataset(name)(obj)


def dataset_names() -> list[str]:
    """Names of every registered dataset, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def get_dataset_class(name: str) -> type[Dataset]:
    """The adapter class registered under ``name`` (UnknownNameError with suggestions if none)."""
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError("dataset", name, _REGISTRY) from None


def open_dataset(name: str, root: str | os.PathLike, split: str | None = None, **options) -> Dataset:
    """Open dataset ``name`` whose official download is unpacked at ``root``.

    ``split=None`` selects the protocol's default subset, ``split="all"`` every sample present.
    Extra keyword options (e.g. ``on_error="skip"`` or adapter-specific choices) are passed on.
    """
    return get_dataset_class(name)(root, split=split, **options)


def default_data_root() -> Path | None:
    """The data root from ``$DPBENCH_DATA``, if set."""
    value = os.environ.get("DPBENCH_DATA")
    return Path(value) if value else None


def find_dataset_root(name: str, data_root: str | os.PathLike) -> Path | None:
    """Where dataset ``name`` lives under a data root, or None if it is not found.

    The candidates are the folder names listed as ``folders`` in the dataset's protocol file
    (then the registry name itself); the first one whose layout the adapter recognises wins.
    """
    cls = get_dataset_class(name)
    folders = list(load_protocol(name).get("folders", [])) + [name]
    for folder in dict.fromkeys(folders):
        candidate = Path(data_root) / folder
        if candidate.is_dir() and cls.is_present(candidate):
            return candidate
    return None


__all__ = [
    "Dataset",
    "dataset_names",
    "default_data_root",
    "find_dataset_root",
    "get_dataset_class",
    "load_protocol",
    "open_dataset",
    "register_dataset",
]
