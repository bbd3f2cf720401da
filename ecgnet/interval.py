"""A metric with its interval: the typed figure every table, gate and MLflow metric carries."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    """A metric with its 95 % patient-bootstrap interval."""

    value: float
    lo: float
    hi: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.lo:.3f}, {self.hi:.3f}]"

    def signed(self) -> str:
        """A difference as tables write it: '+0.039 [-0.042, +0.104]' (`parse` reads it back)."""
        return f"{self.value:+.3f} [{self.lo:+.3f}, {self.hi:+.3f}]"

    @classmethod
    def parse(cls, text: str) -> Interval:
        """What `str` writes (and a comparison table holds), read back: '0.743 [0.692, 0.793]', or
        'nan [nan, nan]' for a class the test split lacks."""
        number = r"([-+]?(?:[\d.]+|nan))"
        match = re.match(rf"^\s*{number}\s*\[{number},\s*{number}\]", text)
        if match is None:
            raise ValueError(f"not a figure with an interval: {text!r}")
        return cls(*(float(g) for g in match.groups()))

    def flat(self, name: str) -> dict[str, float]:
        """MLflow metric names: `name`, `name_lo`, `name_hi`."""
        return {name: self.value, f"{name}_lo": self.lo, f"{name}_hi": self.hi}

    @classmethod
    def from_json(cls, d: dict) -> Interval:
        return cls(float(d["value"]), float(d["lo"]), float(d["hi"]))
