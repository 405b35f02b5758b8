"""Progress of long work: a live bar on a terminal, one summary line per unit of work in logs.

Every long loop of dpbench (scoring a dataset, writing the sample suite, downloading weights,
reading many runs for a report, bootstrap resampling) reports through :func:`progress`, so that an
interactive user sees a bar with rate and ETA while a CI log or a redirected file gets one line
when the unit of work ends (``sintel: 23 img in 41.2 s (0.56 img/s)``) instead of thousands of
carriage-return updates. ``DPBENCH_PROGRESS=bars|lines|off`` overrides the detection.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

#: Values of ``DPBENCH_PROGRESS``: force bars, force summary lines, or nothing.
PROGRESS_STYLES = ("bars", "lines", "off")


def progress_style(enabled: bool = True) -> str:
    """``bars`` on a terminal, ``lines`` otherwise, ``off`` when disabled (env var overrides)."""
    if not enabled:
        return "off"
    forced = os.environ.get("DPBENCH_PROGRESS", "").strip().lower()
    if forced in PROGRESS_STYLES:
        return forced
    stream = sys.stderr
    return "bars" if hasattr(stream, "isatty") and stream.isatty() else "lines"


def _amount(value: float, unit: str, unit_scale: bool) -> str:
    """``value`` with its unit, bytes as KiB/MiB/GiB when ``unit_scale``."""
    if not unit_scale:
        return f"{value:.0f} {unit}" if float(value).is_integer() else f"{value:.2f} {unit}"
    for prefix in ("", "Ki", "Mi", "Gi", "Ti"):
        if abs(value) < 1024 or prefix == "Ti":
            return f"{value:.1f} {prefix}{unit}" if prefix else f"{value:g} {unit}"
        value /= 1024
    return f"{value:g} {unit}"  # not reached


class Progress:
    """One unit of long work. ``advance(n)`` as it goes, ``note(text)`` for a side remark (a
    postfix on the bar, a line in logs), ``close()`` at the end (a context manager closes it)."""

    def __init__(self, *, total: float | None, desc: str, unit: str = "it", initial: float = 0,
                 unit_scale: bool = False, style: str = "lines", say: Callable[[str], None] | None = None):
        self.total, self.desc, self.unit, self.unit_scale = total, desc, unit, unit_scale
        self.count = float(initial)
        self.initial = float(initial)
        self.style = style
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self.started = time.perf_counter()
        self.closed = False
        self._bar = None
        if style == "bars":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, unit_scale=unit_scale,
                             unit_divisor=1024 if unit_scale else 1000, dynamic_ncols=True, leave=True,
                             smoothing=0.1)

    def advance(self, n: float = 1) -> None:
        """Count ``n`` more units done."""
        self.count += n
        if self._bar is not None:
            self._bar.update(n)

    def note(self, text: str) -> None:
        """A remark about the current state: the bar's postfix, or one line in logs."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)
        elif self.style == "lines":
            self.say(f"{self.desc}: {text}")

    def summary(self) -> str:
        """``desc: done[/total] unit in S s (rate)`` for the work counted since the start."""
        seconds = time.perf_counter() - self.started
        done = self.count - self.initial
        shown = _amount(self.count, self.unit, self.unit_scale)
        if self.total is not None and self.total != self.count:
            shown = f"{shown} of {_amount(self.total, self.unit, self.unit_scale)}"
        rate = f" ({_amount(done / seconds, self.unit, self.unit_scale)}/s)" if seconds > 0 and done > 0 else ""
        return f"{self.desc}: {shown} in {seconds:.1f} s{rate}"

    def close(self) -> None:
        """End the unit: close the bar, or print the summary line in logs (once)."""
        if self.closed:
            return
        self.closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.style == "lines":
            self.say(self.summary())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(*, total: float | None, desc: str, unit: str = "it", enabled: bool = True, initial: float = 0,
             unit_scale: bool = False, say: Callable[[str], None] | None = None) -> Progress:
    """A :class:`Progress` in the style :func:`progress_style` picks (``say`` prints log lines)."""
    return Progress(total=total, desc=desc, unit=unit, initial=initial, unit_scale=unit_scale,
                    style=progress_style(enabled), say=say)


__all__ = ["PROGRESS_STYLES", "Progress", "progress", "progress_style"]
