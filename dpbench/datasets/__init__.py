"""Dataset adapters and their registry.

A dataset is registered in one of three ways:

- a module of this package registers its adapter class with :func:`register_dataset` on import;
- a *data-only* dataset is one spec file ``datasets/<name>.toml`` with a key ``adapter``
  naming a registered adapter (e.g. ``adapter = "exif_folder"``): the registry, when it scans
  the datasets folder, registers ``<name>`` as that adapter reading its own spec (split folders,
  suffixes, sensor widths, ...); no Python is needed;
- third-party packages add adapters through the entry-point group ``dpbench.datasets`` (an
  entry point names a :class:`Dataset` subclass, registered under the entry point's name, or a
  module that registers its adapters when imported).

A name taken by a class or a spec file is not taken over by an entry point of the same name.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dpbench._plugins import import_submodules, load_entry_points
from dpbench.datasets.base import Dataset, load_spec
from dpbench.errors import DatasetError, UnknownNameError
from dpbench.resources import load_toml, resource_dir

log = logging.getLogger(__name__)

_REGISTRY: dict[str, type[Dataset]] = {}
_NOT_ADAPTERS = {"base", "listing"}
_loaded = False
#: Per datasets folder (resolved path): {name: adapter name or the reason the file is unusable}
#: of its spec files that declare an ``adapter``.
_DECLARATIONS: dict[Path, dict[str, str | DatasetError]] = {}
#: Per datasets folder: the classes made for its data-only datasets.
_DECLARED_CLASSES: dict[Path, dict[str, type[Dataset]]] = {}


def _datasets_folder() -> Path | None:
    try:
        return resource_dir("datasets").resolve()
    except FileNotFoundError:
        return None


def _declarations() -> dict[str, str | DatasetError]:
    """The spec files of the current datasets folder that declare an ``adapter`` (read once per folder)."""
    folder = _datasets_folder()
    if folder is None:
        return {}
    if folder not in _DECLARATIONS:
        found: dict[str, str | DatasetError] = {}
        for path in sorted(folder.glob("*.toml")):
            try:
                spec = load_toml(path)
            except ValueError as exc:  # reported when the dataset is opened, if it is one
                log.warning("%s", exc)
                continue
            if "adapter" not in spec:
                continue
            name, adapter = path.stem, spec["adapter"]
            if not isinstance(adapter, str) or not adapter:
                found[name] = DatasetError(f"{path}: 'adapter' must be the name of a registered adapter, "
                                           f"got {adapter!r}")
            elif spec.get("name", name) != name:
                found[name] = DatasetError(f"{path}: name = {spec['name']!r} differs from the file name {name!r}")
            else:
                found[name] = adapter
        _DECLARATIONS[folder] = found
    return _DECLARATIONS[folder]


def _declared_classes() -> dict[str, type[Dataset] | DatasetError]:
    """The data-only datasets of the current datasets folder: {name: class or why it is unusable}."""
    folder = _datasets_folder()
    if folder is None:
        return {}
    classes = _DECLARED_CLASSES.setdefault(folder, {})
    result: dict[str, type[Dataset] | DatasetError] = {}
    for name, adapter in _declarations().items():
        if name in _REGISTRY:
            continue  # a class registered under this name wins (register_dataset refuses it otherwise)
        if isinstance(adapter, DatasetError):
            result[name] = adapter
        elif name in classes:
            result[name] = classes[name]
        elif adapter not in _REGISTRY:
            result[name] = UnknownNameError(f"adapter of datasets/{name}.toml", adapter, _REGISTRY)
        else:
            base = _REGISTRY[adapter]
            doc = (f"Dataset {name!r}: the {base.__name__} adapter reading datasets/{name}.toml "
                   f"(declared there by adapter = {adapter!r}).")
            classes[name] = type(f"{base.__name__}[{name}]", (base,),
                                 {"name": name, "__doc__": doc, "__module__": __name__})
            result[name] = classes[name]
    return result


def register_dataset(name: str):
    """Class decorator: register a :class:`Dataset` subclass under ``name``."""

    def decorate(cls: type[Dataset]) -> type[Dataset]:
        if not (isinstance(cls, type) and issubclass(cls, Dataset)):
            raise TypeError(f"register_dataset({name!r}) expects a Dataset subclass, got {cls!r}")
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(f"dataset name {name!r} is already registered by {existing.__qualname__}")
        if name in _declarations():
            raise ValueError(f"dataset name {name!r} is already declared by datasets/{name}.toml (adapter = ...)")
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
        if isinstance(obj, type) and issubclass(obj, Dataset) and name not in _REGISTRY \
                and name not in _declarations():
            register_dataset(name)(obj)


def dataset_names() -> list[str]:
    """Names of every registered dataset (classes and data-only spec files), sorted."""
    _load_all()
    return sorted(set(_REGISTRY) | set(_declared_classes()))


def get_dataset_class(name: str) -> type[Dataset]:
    """The adapter class registered under ``name`` (UnknownNameError with suggestions if none).

    A spec file that declares an unusable adapter raises the error that says why.
    """
    _load_all()
    if name in _REGISTRY:
        return _REGISTRY[name]
    declared = _declared_classes()
    found = declared.get(name)
    if isinstance(found, Exception):
        raise found
    if found is None:
        raise UnknownNameError("dataset", name, set(_REGISTRY) | set(declared))
    return found


def open_dataset(name: str, root: str | os.PathLike, split: str | None = None, **options) -> Dataset:
    """Open dataset ``name`` whose official download is unpacked at ``root``.

    ``split=None`` selects the spec's default subset, ``split="all"`` every sample present.
    Extra keyword options (e.g. ``on_error="skip"`` or adapter-specific choices) are passed on.
    """
    return get_dataset_class(name)(root, split=split, **options)


def default_data_root() -> Path | None:
    """The data root from ``$DPBENCH_DATA``, if set."""
    value = os.environ.get("DPBENCH_DATA")
    return Path(value) if value else None


def find_dataset_root(name: str, data_root: str | os.PathLike) -> Path | None:
    """Where dataset ``name`` lives under a data root, or None if it is not found.

    The candidates are the folder names listed as ``folders`` in the dataset's spec (then the
    registry name itself); the first one whose layout the adapter recognises wins.
    """
    cls = get_dataset_class(name)
    folders = list(load_spec(name).get("folders", [])) + [name]
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
    "load_spec",
    "open_dataset",
    "register_dataset",
]
