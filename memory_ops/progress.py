"""A plain-text progress bar for long commands (import, reembed): done/total, items, rate and ETA on stderr."""

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressBar:
    """A plain-text progress bar with item rate and ETA on stderr.

    Progress is measured in `total` units (the importer uses bytes of input, known before any file is
    parsed, so files are parsed one at a time; reembed counts vectors); the items done (`unit`: turns,
    vectors) and their rate are shown next to it. On a terminal it redraws one line (at most 10 times a
    second); otherwise (CI, a log file) it prints a line at every 10 % step, so logs stay short.
    """

    def __init__(
        self, total: float, label: str = "importing", stream: TextIO | None = None, unit: str = "turns"
    ) -> None:
        self.total = max(0.0, float(total))
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.unit = unit
        self.done = 0.0
        self.items = 0
        self.note = ""
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._last_step = 0

    def line(self) -> str:
        """The current state as one line."""
        elapsed = time.monotonic() - self._started
        frac = min(1.0, self.done / self.total) if self.total else 1.0
        rate = self.items / elapsed if elapsed > 0 else 0.0
        width = 30
        filled = int(frac * width)
        bar = "#" * filled + "-" * (width - filled)
        eta = _clock(elapsed * (1 - frac) / frac) if 0 < frac < 1 else ("0:00:00" if frac >= 1 else "-:--:--")
        note = f"  {self.note}" if self.note else ""
        return (
            f"{self.label} [{bar}] {frac:4.0%}  {self.items:,} {self.unit}  {rate:,.0f} {self.unit}/s  ETA {eta}{note}"
        )

    def advance(self, units: float, items: int = 0) -> None:
        """Count `units` more of the total (and `items` more items) and redraw when due."""
        self.done = min(self.total, self.done + units)
        self.items += items
        now = time.monotonic()
        finished = self.done >= self.total
        if self.tty:
            if now - self._last_draw >= 0.1 or finished:
                self._last_draw = now
                print("\r" + self.line(), end="", file=self.stream, flush=True)
            return
        step = int(self.done * 10 / self.total) if self.total else 10
        if step > self._last_step:
            self._last_step = step
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the line (terminal) so later output starts on a fresh one."""
        if self.tty:
            print("\r" + self.line(), file=self.stream, flush=True)


class NoProgress(ProgressBar):
    """Counts without printing."""

    def advance(self, units: float, items: int = 0) -> None:
        self.done = min(self.total, self.done + units)
        self.items += items

    def close(self) -> None:
        pass
