"""Uncertainty of the reported numbers: bootstrap intervals over images, paired comparisons of
runs, significance for ``dpbench check`` and rank stability (formulas: ``docs/statistics.md``).

Modules: :mod:`~dpbench.stats.bootstrap` (resampling, per-dataset metric distributions),
:mod:`~dpbench.stats.ranks` (average-rank distributions), :mod:`~dpbench.stats.compare` (two runs,
paired), :mod:`~dpbench.stats.significance` (``dpbench check --significant``),
:mod:`~dpbench.stats.command` (the ``dpbench compare`` command).
"""
