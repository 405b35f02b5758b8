"""Discovery shared by the dataset and model registries: built-in modules and entry points."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger(__name__)


def import_submodules(package: str, path: Iterable[str], skip: set[str]) -> None:
    """Import every public module of ``package`` (so that it registers itself), except ``skip``."""
    for module in pkgutil.iter_modules(path):
        if module.name not in skip and not module.name.startswith("_"):
            importlib.import_module(f"{package}.{module.name}")


def load_entry_points(group: str, what: str) -> Iterator[tuple[str, str, Any]]:
    """Yield ``(name, value, object)`` of each loadable entry point of ``group``.

    A plug-in that fails to import is logged and skipped: a broken plug-in must not break dpbench.
    """
    for ep in entry_points(group=group):
        try:
            obj = ep.load()
        except Exception as exc:
            log.warning("could not load %s plug-in %r (%s): %s", what, ep.name, ep.value, exc)
            continue
        yield ep.name, ep.value, obj
