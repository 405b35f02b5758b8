"""The bundled sample suite: procedural scenes with exact ground truth, in real datasets' formats.

``dpbench sample`` (and ``dpbench run --suite sample``, through :func:`ensure_sample_suite`)
writes it; see :mod:`dpbench.sample.suite` for what is written and how exact it is, and
:mod:`dpbench.sample.render` / :mod:`dpbench.sample.scenes` for the renderer.
"""

from dpbench.sample.suite import (
    FORMAT,
    MANIFEST,
    default_sample_root,
    ensure_sample_suite,
    generate_sample_suite,
    is_generated,
    read_manifest,
    suite_status,
)

__all__ = [
    "FORMAT",
    "MANIFEST",
    "default_sample_root",
    "ensure_sample_suite",
    "generate_sample_suite",
    "is_generated",
    "read_manifest",
    "suite_status",
]
