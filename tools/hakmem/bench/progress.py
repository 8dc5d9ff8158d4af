"""A plain text progress bar on stderr (no dependency): redrawn in place on a
terminal, one line per tenth of the work otherwise (CI logs stay short)."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30,
                 enabled: bool = True) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self._last_tenth = -1

    def step(self, label: str = "") -> None:
        self.done = min(self.done + 1, self.total)
        if not self.enabled:
            return
        frac = self.done / self.total
        elapsed = time.monotonic() - self.start
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        filled = int(round(frac * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        text = (f"[{bar}] {self.done}/{self.total} {100 * frac:3.0f}% "
                f"{elapsed:5.0f}s elapsed, ~{eta:.0f}s left  {label}")
        if self.tty:
            self.stream.write("\r" + text[:120].ljust(120))
            if self.done == self.total:
                self.stream.write("\n")
        else:
            tenth = int(frac * 10)
            if tenth != self._last_tenth or self.done == self.total:
                self._last_tenth = tenth
                self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + " " * 120 + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()
