"""The dataset adapter base class: indexing, the dataset's spec, error policy and sample access.

An adapter reads one dataset exactly as its official download unpacks under ``root`` and
turns each item into a :class:`~dpbench.types.Sample`. Subclasses implement ``_index`` (find
the items of a split, in a deterministic order) and ``_load`` (read one item); the base class
gives them ``len``, indexing, iteration, the dataset's *spec* and a uniform error policy: a
missing or broken file raises :class:`DatasetError` naming the file, or, with
``on_error="skip"``, is logged, counted in ``excluded`` and left out of the index.

The spec is the dict of ``datasets/<name>.toml``: the one place for the facts of a dataset
(task, layout, splits, default split, depth range, folder names, protocol choices, sources).
The adapter takes its ``name`` from its registration and reads ``task``, ``layout`` and
``splits`` from the spec, so that the class and the file cannot disagree. A plug-in adapter
whose spec file is not in dpbench's data folder may still set them as class attributes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from dpbench.errors import DatasetError
from dpbench.resources import load_toml, resource_dir
from dpbench.types import Sample

log = logging.getLogger(__name__)

ON_ERROR_POLICIES = ("raise", "skip")
#: Scene domains a spec's ``domain`` key may name; models routed per domain (indoor / outdoor
#: variants, per-domain crops) read it through :func:`dataset_domain`.
DOMAINS = ("indoor", "outdoor", "mixed")


def load_spec(name: str) -> dict:
    """The spec of dataset ``name``: the contents of ``datasets/<name>.toml`` (empty if none)."""
    if not name:
        return {}
    path = resource_dir("datasets") / f"{name}.toml"
    if not path.exists():
        return {}
    return load_toml(path)


def dataset_domain(name: str) -> str:
    """The scene domain of dataset ``name`` (spec key ``domain``; "mixed" when unstated)."""
    domain = load_spec(name).get("domain", "mixed")
    if domain not in DOMAINS:
        raise DatasetError(f"datasets/{name}.toml: domain must be one of {DOMAINS}, got {domain!r}")
    return domain


class _SpecFact:
    """A dataset fact read from its spec: ``Cls.task`` / ``ds.task`` give ``spec[key]``.

    On an instance the spec the dataset opened with is used; on a class the spec file is read
    (``dpbench datasets`` and error messages need the facts without opening the dataset). A
    subclass that assigns the attribute itself (a plug-in without a spec file) overrides it.
    """

    def __init__(self, key: str, default: Any, convert: Callable[[Any], Any] = lambda value: value):
        self.key, self.default, self.convert = key, default, convert

    def __get__(self, obj: Any, owner: type) -> Any:
        spec = obj.__dict__.get("spec") if obj is not None else None
        if spec is None:
            spec = load_spec(owner.name)
        return self.convert(spec.get(self.key, self.default))


class Dataset:
    """Base class of every dataset adapter (see the module docstring for the contract)."""

    #: The registry name (set by ``register_dataset`` or a spec file's registration).
    name: ClassVar[str] = ""
    #: What the dataset is scored on: a task name of ``dpbench tasks`` (spec key ``task``).
    task = _SpecFact("task", "metric_depth")
    #: One line telling a user what must be found under ``root`` (spec key ``layout``).
    layout = _SpecFact("layout", "")
    #: Scene domain, one of DOMAINS (spec key ``domain``), for models routed per domain.
    domain = _SpecFact("domain", "mixed")
    #: Named splits besides "all", in the order of the spec's ``[splits.<name>]`` tables (the
    #: first is not necessarily the default: that is the spec's ``default_split``).
    splits = _SpecFact("splits", {}, lambda table: tuple(table) if isinstance(table, dict) else ())

    def __init__(self, root: str | os.PathLike, split: str | None = None, on_error: str = "raise"):
        if on_error not in ON_ERROR_POLICIES:
            raise ValueError(f"on_error must be one of {ON_ERROR_POLICIES}, got {on_error!r}")
        #: The dataset's spec (``datasets/<name>.toml``), plus the adapter options that change
        #: the evaluation set (under ``"options"``); it enters :meth:`protocol_hash`.
        self.spec: dict = load_spec(self.name)
        if self.spec.get("name", self.name) != self.name:
            raise DatasetError(f"{self.name}: datasets/{self.name}.toml says name = {self.spec['name']!r}")
        if not isinstance(self.task, str) or not self.task.isidentifier():
            raise ValueError(f"{type(self).__name__}.task must be a task name, got {self.task!r}")
        self.root = Path(root)
        self.split = split if split is not None else self.spec.get("default_split", "all")
        if self.splits and self.split not in (*self.splits, "all"):
            raise DatasetError(
                f"{self.name}: unknown split {self.split!r}; choose one of "
                f"{', '.join((*self.splits, 'all'))}"
            )
        self.on_error = on_error
        #: Items left out, as (item, reason) pairs: skipped files or, for focal sets, exclusions.
        self.excluded: list[tuple[str, str]] = []
        if not self.root.is_dir():
            raise DatasetError(
                f"{self.name}: dataset root {self.root} does not exist or is not a folder; "
                f"expected layout: {self.layout}"
            )
        self._items: list[Any] = list(self._index())
        if not self._items:
            raise DatasetError(
                f"{self.name}: no samples found under {self.root} for split {self.split!r}; "
                f"expected layout: {self.layout}"
            )

    # -- to implement --------------------------------------------------------------------
    def _index(self) -> Sequence[Any]:
        """Find the items of ``self.split`` under ``self.root``, in a deterministic order."""
        raise NotImplementedError

    def _item_id(self, item: Any) -> str:
        """The sample id of an item (unique within the dataset, stable across runs)."""
        raise NotImplementedError

    def _load(self, item: Any) -> Sample:
        """Read one item into a Sample; raise DatasetError naming the file on bad input."""
        raise NotImplementedError

    @classmethod
    def is_present(cls, root: str | os.PathLike) -> bool:
        """Cheap check that ``root`` looks like this dataset (used by ``dpbench datasets``)."""
        return Path(root).is_dir()

    # -- provided ------------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        return [self._item_id(item) for item in self._items]

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Sample:
        if not -len(self._items) <= index < len(self._items):
            raise IndexError(f"{self.name}: index {index} out of range for {len(self)} samples")
        return self._load(self._items[index])

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self)):
            yield self[index]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"

    @property
    def depth_range(self) -> tuple[float | None, float | None]:
        """The spec's valid ground-truth depth range in metres (None = unbounded)."""
        return self.spec.get("min_depth"), self.spec.get("max_depth")

    def spec_value(self, key: str) -> Any:
        """``spec[key]``, a value the adapter needs from its spec file (no fallback in the code, so
        the file stays the one place of the value); DatasetError naming the file if it is absent."""
        try:
            return self.spec[key]
        except KeyError:
            raise DatasetError(f"{self.name}: datasets/{self.name}.toml has no {key!r}") from None

    def exclusion_summary(self) -> dict[str, int]:
        """How many items were left out, per reason."""
        return dict(Counter(reason for _, reason in self.excluded))

    def protocol_hash(self) -> str:
        """A short hash of what defines this evaluation set: the spec, split and sample ids.

        The payload keeps the key ``"protocol"`` for the spec, so hashes recorded by earlier
        runs stay comparable (``dpbench check``)."""
        payload = json.dumps(
            {"name": self.name, "split": self.split, "protocol": self.spec, "ids": self.ids},
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def _skip_or_raise(self, item: str, reason: str) -> None:
        """Apply the error policy to a broken item found while indexing."""
        if self.on_error == "raise":
            hint = (" (a partial download? split='all' opens every sample present, "
                    "on_error='skip' skips broken ones)" if self.split != "all" else "")
            raise DatasetError(f"{self.name}: {item}: {reason}{hint}")
        log.warning("%s: skipping %s: %s", self.name, item, reason)
        self.excluded.append((item, reason))

    def _require(self, path: Path, what: str) -> Path:
        """Return ``path`` if it exists, else raise a DatasetError saying what was expected."""
        if not path.exists():
            raise DatasetError(f"{self.name}: missing {what}: {path} (expected layout: {self.layout})")
        return path
