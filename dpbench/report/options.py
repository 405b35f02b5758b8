"""The choices of ``dpbench report`` (output formats, tie rules), defined once for the library and
the command line; this module imports nothing heavy so that ``dpbench --help`` stays fast."""

from __future__ import annotations

#: Output formats of a report.
FORMATS = ("markdown", "csv", "latex", "html", "json")
#: How a tied group shares positions in the average rank (see :mod:`dpbench.report.rank`).
TIE_RULES = ("max", "min", "average")
DEFAULT_TIE_RULE = "max"
#: Row orders of the report tables: best first (``rank``) or alphabetical (``name``).
SORT_ORDERS = ("rank", "name")
#: How a report treats an entry below full coverage (see :mod:`dpbench.report.coverage`).
FAILURE_MODES = ("exclude", "worst")
DEFAULT_FAILURE_MODE = "exclude"
