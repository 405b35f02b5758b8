"""Per-dataset ranks and the paper's "Avg. Rank" (Table 1).

The paper ranks methods per dataset on δ1 (higher is better) and averages each method's ranks
over the datasets where it has a value; missing entries (e.g. ZeroDepth's OOM cells) are skipped,
not counted as last. The paper does not state its tie rule. dpbench's default, ``"max"``, gives
every member of a tied group the worst position of the group (two methods tied for 5th and 6th
both get 6): of the usual rules it is the only one that reproduces the paper's printed ZoeDepth
value (5.3, which needs ZoeDepth's ETH3D tie with Metric3D at 34.2 to count as 6th).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from dpbench.report.options import DEFAULT_TIE_RULE, TIE_RULES


def _present(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def rank_values(
    values: Mapping[str, float | None], *, higher_is_better: bool = True, ties: str = DEFAULT_TIE_RULE
) -> dict[str, float]:
    """Rank the entries of one column (1 = best); missing/NaN entries get no rank.

    ``ties``: "max" → a tied group shares its worst position, "min" → its best position
    (competition ranking), "average" → the mean of its positions.
    """
    if ties not in TIE_RULES:
        raise ValueError(f"unknown tie rule {ties!r}; expected one of {TIE_RULES}")
    present = {key: float(v) for key, v in values.items() if _present(v)}
    sign = 1.0 if higher_is_better else -1.0
    ranks: dict[str, float] = {}
    for key, value in present.items():
        better = sum(1 for other in present.values() if sign * other > sign * value)
        tied = sum(1 for other in present.values() if other == value)  # includes itself
        best_position, worst_position = better + 1, better + tied
        if ties == "max":
            ranks[key] = float(worst_position)
        elif ties == "min":
            ranks[key] = float(best_position)
        else:
            ranks[key] = (best_position + worst_position) / 2.0
    return ranks


def average_ranks(
    table: Mapping[str, Mapping[str, float | None]],
    *,
    higher_is_better: bool = True,
    ties: str = DEFAULT_TIE_RULE,
) -> dict[str, float | None]:
    """Mean over datasets of each method's per-dataset rank: ``table[method][dataset] -> value``.

    A method is ranked only on the datasets where it has a value; one with no value anywhere
    gets ``None``.
    """
    datasets = sorted({d for row in table.values() for d in row})
    per_method: dict[str, list[float]] = {method: [] for method in table}
    for dataset in datasets:
        column = {method: row.get(dataset) for method, row in table.items()}
        for method, rank in rank_values(column, higher_is_better=higher_is_better, ties=ties).items():
            per_method[method].append(rank)
    return {method: (sum(r) / len(r) if r else None) for method, r in per_method.items()}
