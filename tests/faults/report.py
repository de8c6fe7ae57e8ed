"""The fault report: one row per fault a test injected, printed as a table after the run.

A test records what it observed (counts and times measured in the run); the table adds whether
the test passed, so a row never claims more than the assertions that followed it checked.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

_COLUMNS = (("fault injected", 30), ("what the service did", 54), ("data lost", 30), ("test", 6))


@dataclass(frozen=True, slots=True)
class FaultRow:
    """One injected fault and what came of it."""

    test: str
    fault: str
    service_did: str
    data_lost: bool
    evidence: str


@dataclass
class FaultLog:
    """Every row recorded in this run, and each test's outcome."""

    rows: list[FaultRow] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)


class FaultReport:
    """Given to a fault test as the ``fault_report`` fixture; call it once per fault."""

    def __init__(self, log: FaultLog, test: str) -> None:
        self._log = log
        self._test = test

    def __call__(self, fault: str, service_did: str, *, data_lost: bool, evidence: str) -> None:
        """Record a fault, what the service did (with measured numbers) and the data check."""
        self._log.rows.append(FaultRow(self._test, fault, service_did, data_lost, evidence))


def render(log: FaultLog) -> list[str]:
    """The rows as a plain-text table, each cell wrapped to its column."""
    widths = [width for _, width in _COLUMNS]
    lines = [_line([name for name, _ in _COLUMNS], widths)]
    lines.append("-+-".join("-" * width for width in widths))
    for row in log.rows:
        lost = f"{'YES' if row.data_lost else 'no'}: {row.evidence}"
        outcome = log.outcomes.get(row.test, "?")
        cells = [row.fault, row.service_did, lost, outcome]
        wrapped = [
            textwrap.wrap(cell, width) or [""] for cell, width in zip(cells, widths, strict=True)
        ]
        for n in range(max(len(parts) for parts in wrapped)):
            lines.append(_line([parts[n] if n < len(parts) else "" for parts in wrapped], widths))
        lines.append("-+-".join("-" * width for width in widths))
    return lines


def _line(cells: list[str], widths: list[int]) -> str:
    return " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
