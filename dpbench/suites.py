"""Named evaluation suites: which datasets, which tasks and metrics, and which protocol options.

Suites are data (``datasets/suites.toml``); this module reads them into :class:`Suite` values.
The ``sample`` suite takes its datasets from the ``suite.json`` written next to the generated
sample data, and any other ``suite.json`` (or a folder holding one) can be named as a suite too,
which is how a user evaluates their own collection of dataset folders.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dpbench.errors import DpbenchError, UnknownNameError
from dpbench.resources import load_toml, resource_path

SUITES_FILE = "suites.toml"
SUITE_JSON = "suite.json"


class SuiteError(DpbenchError, ValueError):
    """A suite definition (suites.toml or a suite.json) is malformed; the message names the file."""


@dataclass(frozen=True)
class SuiteEntry:
    """One dataset of a suite: its registry name, the tasks scored on it, and where it lives.

    ``path`` is an explicit folder (sample and file suites); ``None`` means "find it under the
    data root" (``dpbench.datasets.find_dataset_root``). ``split=None`` is the dataset's default.
    """

    dataset: str
    tasks: tuple[str, ...]
    split: str | None = None
    path: Path | None = None


@dataclass(frozen=True)
class Suite:
    """A named list of datasets with their tasks, the metrics each task reports, and protocol defaults."""

    name: str
    description: str
    entries: tuple[SuiteEntry, ...]
    protocol: Mapping[str, Any] = field(default_factory=dict)
    paper_tables: tuple[str, ...] = ()
    source: str = "builtin"  # "builtin" (suites.toml), "sample" or "file" (a suite.json)
    root: Path | None = None  # the folder of a suite.json

    @property
    def dataset_names(self) -> list[str]:
        return [entry.dataset for entry in self.entries]

    @property
    def tasks(self) -> list[str]:
        """Tasks of the suite, in the task registry's order."""
        from dpbench.tasks import task_names

        present = {task for entry in self.entries for task in entry.tasks}
        return [task for task in task_names() if task in present]

    @property
    def metrics(self) -> list[str]:
        """Metric names the suite reports (union over its tasks, in task order)."""
        from dpbench.tasks import get_task

        names: list[str] = []
        for task in self.tasks:
            names.extend(m for m in get_task(task).metrics if m not in names)
        return names

    def entry(self, dataset: str) -> SuiteEntry:
        for entry in self.entries:
            if entry.dataset == dataset:
                return entry
        raise UnknownNameError(f"dataset of suite {self.name!r}", dataset, self.dataset_names)

    def select(self, datasets: Iterable[str] | None) -> Suite:
        """The same suite restricted to ``datasets`` (in the suite's order); None keeps all."""
        if not datasets:
            return self
        wanted = list(dict.fromkeys(datasets))
        for name in wanted:
            self.entry(name)  # raises UnknownNameError with "did you mean"
        return replace(self, entries=tuple(e for e in self.entries if e.dataset in wanted))

    def describe(self) -> dict:
        """What a run records about its suite."""
        return {
            "name": self.name,
            "source": self.source,
            "root": str(self.root) if self.root else None,
            "datasets": [{"name": e.dataset, "tasks": list(e.tasks), "split": e.split,
                          "path": str(e.path) if e.path else None} for e in self.entries],
            "metrics": self.metrics,
        }


# -- reading the definitions -----------------------------------------------------------------

@lru_cache(maxsize=1)
def _definitions() -> Mapping[str, Any]:
    path = resource_path("datasets", SUITES_FILE)
    data = load_toml(path)
    for key in ("protocol", "alignment_defaults", "suites"):
        if not isinstance(data.get(key), dict):
            raise SuiteError(f"{path}: missing table [{key}]")
    return MappingProxyType(data)


def default_protocol_options() -> dict[str, Any]:
    """The protocol defaults of ``suites.toml`` ([protocol] plus [alignment_defaults])."""
    data = _definitions()
    return {**data["protocol"], "alignment_defaults": dict(data["alignment_defaults"])}


def suite_names() -> list[str]:
    """Names of the built-in suites, in the order of ``suites.toml``."""
    return list(_definitions()["suites"])


def get_suite(name: str, sample_root: str | os.PathLike | None = None, generate: bool = True) -> Suite:
    """The suite called ``name``, or the suite described by a ``suite.json`` path / folder.

    ``sample``: the sample data under ``sample_root`` (default: the sample root of
    ``dpbench.sample``), generated first when missing if ``generate`` is true.
    """
    definitions = _definitions()["suites"]
    if name not in definitions:
        candidate = Path(name)
        if candidate.is_file() or (candidate.is_dir() and (candidate / SUITE_JSON).is_file()):
            return suite_from_json(candidate)
        raise UnknownNameError("suite", name, definitions)
    return _builtin_suite(name, sample_root, generate, seen=())


def _builtin_suite(name: str, sample_root, generate: bool, seen: tuple[str, ...]) -> Suite:
    definitions = _definitions()["suites"]
    if name in seen:
        raise SuiteError(f"suites.toml: suite {name!r} includes itself (via {' -> '.join(seen)})")
    if name not in definitions:
        raise UnknownNameError("suite", name, definitions)
    spec = definitions[name]
    where = f"suites.toml [suites.{name}]"
    protocol = {**default_protocol_options(), **dict(spec.get("protocol", {}))}
    common = {
        "name": name,
        "description": str(spec.get("description", "")),
        "protocol": MappingProxyType(protocol),
        "paper_tables": tuple(spec.get("paper_tables", ())),
    }
    if spec.get("source") == "sample":
        root = _sample_root(sample_root, generate)
        suite = suite_from_json(root)
        return replace(suite, **common, source="sample")
    if "include" in spec:
        merged: dict[str, SuiteEntry] = {}
        for part in spec["include"]:
            for entry in _builtin_suite(part, sample_root, generate, seen + (name,)).entries:
                if entry.dataset in merged:
                    old = merged[entry.dataset]
                    tasks = _in_task_order(set(old.tasks) | set(entry.tasks))
                    merged[entry.dataset] = replace(old, tasks=tasks)
                else:
                    merged[entry.dataset] = entry
        return Suite(entries=tuple(merged.values()), **common)
    return Suite(entries=_parse_entries(spec.get("datasets"), where, base=None), **common)


def _task_names() -> tuple[str, ...]:
    from dpbench.tasks import task_names

    return task_names()


def _in_task_order(tasks) -> tuple[str, ...]:
    """``tasks`` in the task registry's order."""
    wanted = set(tasks)
    return tuple(t for t in _task_names() if t in wanted)


def _sample_root(sample_root, generate: bool) -> Path:
    if sample_root is not None and not generate:
        return Path(sample_root)
    from dpbench.sample import default_sample_root, ensure_sample_suite

    if generate:
        return Path(ensure_sample_suite(sample_root))
    return Path(default_sample_root())


def suite_from_json(path: str | os.PathLike) -> Suite:
    """A suite from a ``suite.json`` (the sample suite's format) or a folder holding one.

    Format: ``{"datasets": [{"name": <registry name>, "path": <folder, relative to the file>,
    "split": <split or null>, "tasks": [<task>, ...]}, ...]}``; optional ``"name"``,
    ``"description"`` and ``"protocol"`` (overrides of the protocol defaults).
    """
    path = Path(path)
    file = path / SUITE_JSON if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"{file}: suite file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SuiteError(f"{file}: unreadable suite file ({exc})") from exc
    if not isinstance(data, dict):
        raise SuiteError(f"{file}: expected a JSON object with a 'datasets' list")
    overrides = data.get("protocol", {})
    if not isinstance(overrides, dict):
        raise SuiteError(f"{file}: 'protocol' must be an object of protocol options")
    return Suite(
        name=str(data.get("name") or file.parent.name or "custom"),
        description=str(data.get("description", f"datasets listed in {file}")),
        entries=_parse_entries(data.get("datasets"), str(file), base=file.parent),
        protocol=MappingProxyType({**default_protocol_options(), **overrides}),
        source="file",
        root=file.parent,
    )


def _parse_entries(items: Any, where: str, base: Path | None) -> tuple[SuiteEntry, ...]:
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)) or not items:
        raise SuiteError(f"{where}: 'datasets' must be a non-empty list")
    entries: list[SuiteEntry] = []
    for number, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
            raise SuiteError(f"{where}: datasets[{number}] needs a 'name'")
        name = item["name"]
        tasks = item.get("tasks")
        if not isinstance(tasks, Sequence) or isinstance(tasks, str) or not tasks:
            raise SuiteError(f"{where}: dataset {name!r} needs a non-empty 'tasks' list")
        known = _task_names()
        for task in tasks:
            if task not in known:
                raise SuiteError(f"{where}: dataset {name!r}: unknown task {task!r}; "
                                 f"expected one of {', '.join(known)}")
        if any(e.dataset == name for e in entries):
            raise SuiteError(f"{where}: dataset {name!r} is listed twice")
        folder = item.get("path")
        if folder is not None:
            folder = Path(folder)
            if base is not None and not folder.is_absolute():
                folder = base / folder
        split = item.get("split")
        entries.append(SuiteEntry(dataset=name, tasks=_in_task_order(tasks),
                                  split=None if split is None else str(split), path=folder))
    return tuple(entries)


__all__ = ["Suite", "SuiteEntry", "SuiteError", "default_protocol_options", "get_suite",
           "suite_from_json", "suite_names"]
