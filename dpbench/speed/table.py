"""The Table 5-style print of speed runs: one row per (model, size)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from dpbench._table import format_table
from dpbench.speed.fp32 import format_difference
from dpbench.store import RunStore

COLUMNS = ("model", "params", "GFLOPs@HD", "GMACs@HD", "native", "size", "ms (median)", "p10-p90 ms",
           "forward ms", "img/s", "peak MiB", "status")
#: The column shown (before ``status``) when any row was compared with its fp32 reference.
FP32_COLUMN = "max rel Δ vs fp32"


def _num(value, digits: int = 1) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return f"{number:.{digits}f}" if math.isfinite(number) else "n/a"


def _params(value) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    return f"{value / 1e6:.1f}M" if value < 1e9 else f"{value / 1e9:.3f}G"


def speed_table_rows(store: RunStore) -> list[dict]:
    """Rows of the print for one speed run."""
    manifest = store.manifest
    speed = manifest.get("speed", {})
    model = manifest.get("model", {})
    name = model.get("name", "?")
    if model.get("config") not in (None, "default"):
        name += f" ({model['config']})"
    hd = speed.get("flops_at_hd")
    native = speed.get("native_hw")
    common = {
        "model": name, "params": _params(speed.get("params")),
        "GFLOPs@HD": _num(hd / 1e9 if hd else None, 0), "GMACs@HD": _num(hd / 2e9 if hd else None, 0),
        "native": f"{native[1]}x{native[0]}" if native else "n/a",
    }
    rows = []
    order = {label: i for i, label in enumerate(speed.get("sizes", []))}
    frame = store.rows()
    for _, row in sorted(frame.iterrows(), key=lambda item: order.get(item[1]["sample_id"], len(order))):
        ok = row["status"] == "ok"
        size = f"{row['sample_id']} {int(row['width'])}x{int(row['height'])}" if math.isfinite(row["width"]) \
            else row["sample_id"]
        rows.append({**common, "size": size,
                     "ms (median)": _num(row["latency_ms_median"]) if ok else "-",
                     "p10-p90 ms": f"{_num(row['latency_ms_p10'])}-{_num(row['latency_ms_p90'])}" if ok else "-",
                     "forward ms": _num(row["forward_ms_median"]) if ok else "-",
                     "img/s": _num(row["images_per_s"], 2) if ok else "-",
                     "peak MiB": _num(row["peak_mem_mb"], 0) if ok else "-",
                     FP32_COLUMN: format_difference(row.get("out_max_rel_diff")) if ok else "-",
                     "status": "ok" if ok else row["error"].split(":")[0]})
    return rows


def format_speed_table(stores: Sequence[RunStore]) -> str:
    """The text table of several speed runs (a candidate and its baseline, typically)."""
    rows = [r for store in stores for r in speed_table_rows(store)]
    columns = COLUMNS
    if any(r[FP32_COLUMN] not in ("n/a", "-") for r in rows):
        columns = (*COLUMNS[:-1], FP32_COLUMN, COLUMNS[-1])
    return format_table(rows, columns)


__all__ = ["format_speed_table", "speed_table_rows"]
