"""The one row format every ``benchmarks/bench_*.py`` writes with ``--json-out FILE``, so
``benchmarks/run_all.py`` can print one table for all of them (issue 16, "make bench
prints one table").

A row is a figure measured in this run, its baseline measured in the same run (never a
number remembered from another machine), their ratio and the target the issue sets:
``{"figure", "value", "unit", "baseline", "baseline_name", "ratio", "target", "pass"}``.
``pass`` is None when a figure has no target (reported only).

Sizes: ``BENCH_FULL=1`` in the environment (``make bench FULL=1``) asks every script for
its full-size run; the default is a smaller one that keeps ``make bench`` near ten minutes
on two cores. Standard library only, so any script can import it.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


def full_size() -> bool:
    """True when the run is the full-size one (``BENCH_FULL=1``)."""
    return os.environ.get("BENCH_FULL", "") not in ("", "0")


def add_json_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json-out", type=Path, default=None, metavar="FILE",
                        help="also write the figures as JSON rows (benchmarks/run_all.py)")


def row(figure: str, value: float, unit: str, *, target: str = "",
        baseline: float | None = None, baseline_name: str = "", ratio: float | None = None,
        passed: bool | None = None) -> dict[str, Any]:
    """One row. ``ratio`` defaults to value / baseline when a baseline is given."""
    if ratio is None and baseline:
        ratio = value / baseline
    return {"figure": figure, "value": float(value), "unit": unit,
            "baseline": None if baseline is None else float(baseline),
            "baseline_name": baseline_name,
            "ratio": None if ratio is None else float(ratio),
            "target": target, "pass": passed}


def write_rows(path: Path | None, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` to ``path`` (nothing when the script runs on its own)."""
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)
