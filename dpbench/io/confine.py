"""Reading stays inside the folders the user named: the symlink (and HDF5 link) policy.

A folder handed to dpbench (a predictions folder, a dataset root) is trusted as a whole; what a
file or a link inside it points to is not. A symlink is followed only when its target stays
inside the folder that was named, so a prediction file, a ``<dir>/<dataset>`` folder or a
checkpoint shard linked to ``/etc/hostname`` or ``~/.ssh`` is refused with a message naming the
link and its target. Set ``DPBENCH_ALLOW_SYMLINKS=1`` to follow every symlink (for data that is
symlinked from another disk); the same switch lets HDF5 external links and external raw storage
(which read other files) be followed, see :mod:`dpbench.io.hdf5`.
"""

from __future__ import annotations

import os
from pathlib import Path

from dpbench.errors import DatasetError

ALLOW_SYMLINKS_ENV = "DPBENCH_ALLOW_SYMLINKS"
_TRUE = ("1", "true", "yes", "on")


def links_allowed() -> bool:
    """True when ``$DPBENCH_ALLOW_SYMLINKS`` is set to 1/true/yes/on (read at each call)."""
    return os.environ.get(ALLOW_SYMLINKS_ENV, "").strip().lower() in _TRUE


def confined(path: str | os.PathLike, root: str | os.PathLike, what: str,
             error: type[Exception] = DatasetError) -> Path:
    """``path`` unchanged when it resolves inside ``root`` (or links are allowed); else ``error``.

    ``root`` is the folder the user named; it may itself be a symlink. A ``path`` that does not
    exist is returned unchanged (the caller reports it as missing).
    """
    path = Path(path)
    if links_allowed() or not os.path.lexists(path):
        return path
    try:
        target = path.resolve(strict=True)
        base = Path(root).resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # a symlink loop, or a broken link
        raise error(f"{path}: cannot resolve {what} ({exc})") from None
    if target == base or base in target.parents:
        return path
    raise error(
        f"{path}: {what} is a link to {target}, outside {root}; links may only point inside the "
        f"folder you named (set ${ALLOW_SYMLINKS_ENV}=1 to follow links anywhere)"
    )
