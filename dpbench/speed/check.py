"""``check_speed``: is a candidate slower than a baseline measured with it? Exit codes as ``dpbench check``.

The compared number is the median latency per image of the full ``predict`` path
(``ms_per_image_median``) at every size. The verdict:

- 0: at every size the candidate takes at most ``(1 + tolerance)`` × the baseline's time;
- 1: the candidate is slower than that at some size, or failed (e.g. OOM) at a size where the
  baseline succeeded;
- 2: the runs cannot be compared: not speed runs, no baseline referenced, different device,
  device name or host, or different size lists.

Ratios are only meaningful between numbers measured together: pass a run made with
``--baseline-model`` (its manifest names its baseline run) or the two runs of such a job; other
pairs are compared too, with a note.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from dpbench.speed.run import KIND
from dpbench.store import RunStore, StoreError

EXIT_PASS, EXIT_SLOWER, EXIT_NOT_COMPARABLE = 0, 1, 2


def _open(run: RunStore | str | os.PathLike, runs_dir: str | os.PathLike | None) -> RunStore:
    if isinstance(run, RunStore):
        return run
    path = Path(run)
    if not (path / "manifest.json").exists() and runs_dir is not None:
        path = Path(runs_dir) / str(run)
    return RunStore(path)


def _per_image(rows) -> dict[str, tuple[str, float, str]]:
    """size label -> (status, ms per image, error text)."""
    out = {}
    for _, row in rows.iterrows():
        value = row.get("ms_per_image_median", math.nan)
        if not math.isfinite(value) and math.isfinite(row.get("latency_ms_median", math.nan)):
            batch = row.get("batch_size", 1.0)
            value = row["latency_ms_median"] / (batch if math.isfinite(batch) and batch > 0 else 1.0)
        out[str(row["sample_id"])] = (str(row["status"]), float(value), str(row["error"]))
    return out


def check_speed(candidate_run: RunStore | str | os.PathLike,
                baseline_run_or_same_run: RunStore | str | os.PathLike | None = None,
                tolerance: float = 0.10, runs_dir: str | os.PathLike | None = None) -> tuple[int, list[str]]:
    """Compare a candidate speed run with its baseline; ``(exit_code, lines)`` (see module doc).

    ``baseline_run_or_same_run``: the baseline run, or the candidate run itself / None to use
    the baseline run its manifest references (a sibling folder).
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    try:
        candidate = _open(candidate_run, runs_dir)
    except StoreError as exc:
        return EXIT_NOT_COMPARABLE, [f"not comparable: {exc}"]
    lines: list[str] = []
    same = baseline_run_or_same_run is None
    if not same:
        try:
            baseline = _open(baseline_run_or_same_run, runs_dir)
        except StoreError as exc:
            return EXIT_NOT_COMPARABLE, [f"not comparable: {exc}"]
        same = baseline.path.resolve() == candidate.path.resolve()
    if same:
        reference = candidate.manifest.get("speed", {}).get("baseline_run")
        if not reference:
            return EXIT_NOT_COMPARABLE, [f"not comparable: run {candidate.run_id} has no baseline run "
                                         "(measure with --baseline-model or pass a baseline run)"]
        try:
            baseline = RunStore(candidate.path.parent / reference)
        except StoreError as exc:
            return EXIT_NOT_COMPARABLE, [f"not comparable: baseline run {reference}: {exc}"]
    problems = []
    for store in (candidate, baseline):
        if store.manifest.get("kind") != KIND:
            problems.append(f"run {store.run_id} is not a speed run")
    if problems:
        return EXIT_NOT_COMPARABLE, [f"not comparable: {p}" for p in problems]
    env_c, env_b = candidate.manifest.get("environment", {}), baseline.manifest.get("environment", {})
    for key, label in (("device", "device"), ("device_name", "device name"), ("hostname", "host")):
        if env_c.get(key) != env_b.get(key):
            problems.append(f"different {label}: {env_c.get(key)!r} vs {env_b.get(key)!r}")
    rows_c, rows_b = _per_image(candidate.rows()), _per_image(baseline.rows())
    if set(rows_c) != set(rows_b) or not rows_c:
        problems.append(f"different sizes: {sorted(rows_c)} vs {sorted(rows_b)}")
    if problems:
        return EXIT_NOT_COMPARABLE, [f"not comparable: {p}" for p in problems]

    together = (candidate.manifest.get("speed", {}).get("baseline_run") == baseline.run_id
                or baseline.manifest.get("speed", {}).get("candidate_run") == candidate.run_id)
    name_c = candidate.manifest.get("model", {}).get("name")
    name_b = baseline.manifest.get("model", {}).get("name")
    lines.append(f"speed check: {name_c} ({candidate.run_id}) vs {name_b} ({baseline.run_id}) on "
                 f"{env_c.get('device_name')}, tolerance +{tolerance:.0%}")
    if not together:
        lines.append("note: the two runs were not measured in the same job; the ratios may reflect "
                     "machine load as much as the models")
    for key in ("precision",):
        if env_c.get(key) != env_b.get(key):
            lines.append(f"note: different {key}: {env_c.get(key)} vs {env_b.get(key)}")
    order = candidate.manifest.get("speed", {}).get("sizes") or sorted(rows_c)
    slower = False
    for label in [s for s in order if s in rows_c] + sorted(set(rows_c) - set(order)):
        (status_c, ms_c, error_c), (status_b, ms_b, error_b) = rows_c[label], rows_b[label]
        if status_c != "ok" and status_b == "ok":
            slower = True
            lines.append(f"{label}: FAILED  candidate failed ({error_c}) where the baseline took {ms_b:.1f} ms/image")
        elif status_c != "ok":
            lines.append(f"{label}: n/a  both failed (candidate: {error_c}; baseline: {error_b})")
        elif status_b != "ok":
            lines.append(f"{label}: ok  candidate {ms_c:.1f} ms/image; the baseline failed ({error_b})")
        else:
            ratio = ms_c / ms_b if ms_b > 0 else math.inf
            verdict = "SLOWER" if ratio > 1 + tolerance + 1e-12 else "ok"
            slower |= verdict == "SLOWER"
            lines.append(f"{label}: {verdict}  candidate {ms_c:.1f} ms/image, baseline {ms_b:.1f} ms/image, "
                         f"ratio {ratio:.3f} (limit {1 + tolerance:.3f})")
    lines.append("result: " + ("SLOWER than the baseline" if slower else "pass"))
    return (EXIT_SLOWER if slower else EXIT_PASS), lines


__all__ = ["EXIT_NOT_COMPARABLE", "EXIT_PASS", "EXIT_SLOWER", "check_speed"]
