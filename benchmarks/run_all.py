"""``make bench``: run every ``benchmarks/bench_*.py`` and print ONE table (issue 16).

Scripts are discovered, so a new ``bench_*.py`` joins without an edit here. Each runs in
its own process with ``--json-out FILE`` and writes rows in the format of
``benchmarks/benchrows.py``; a script that exits non-zero, times out or writes no rows is
a failed row naming the script and why, never a crash of the whole run. Every figure is
measured against a baseline from the same run; the table shows the value, the baseline,
their ratio, the target and pass/fail.

Sizes: ``--full`` (``make bench FULL=1``) sets ``BENCH_FULL=1`` for every script; the
default run is the smaller one (~10 minutes on 2 cores). ``--only a,b`` runs some scripts
(``bench_scale`` or ``scale``), ``--skip`` leaves some out; extra arguments for one script
go through ``BENCH_ARGS_<NAME>`` (``BENCH_ARGS_SCALE="--clips 1000000"``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def discover(only: set[str], skip: set[str]) -> list[Path]:
    def short(path: Path) -> str:
        return path.stem.removeprefix("bench_")

    scripts = sorted(HERE.glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if s.stem in only or short(s) in only]
    return [s for s in scripts if s.stem not in skip and short(s) not in skip]


def failed_row(script: Path, why: str) -> dict[str, Any]:
    return {"figure": f"{script.stem}: {why}", "value": float("nan"), "unit": "",
            "baseline": None, "baseline_name": "", "ratio": None, "target": "runs",
            "pass": False}


def valid(rows: Any) -> bool:
    return isinstance(rows, list) and all(
        isinstance(r, dict) and isinstance(r.get("figure"), str) for r in rows)


def run_script(script: Path, *, full: bool, timeout: float, log_dir: Path) -> list[dict[str, Any]]:
    """Run one script; its rows, or one failed row saying why."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["BENCH_FULL"] = "1" if full else "0"
    extra = shlex.split(env.get(f"BENCH_ARGS_{script.stem.removeprefix('bench_').upper()}", ""))
    out = log_dir / f"{script.stem}.json"
    log = log_dir / f"{script.stem}.log"
    command = [sys.executable, str(script), "--json-out", str(out), *extra]
    started = time.monotonic()
    print(f"== {script.name} ({' '.join(extra) or 'defaults'}) …", flush=True)
    with open(log, "wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                   cwd=ROOT, start_new_session=True)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)  # the script's own session: its children too
            process.wait()
            return [failed_row(script, f"timed out after {timeout:.0f} s (log {log})")]
    took = time.monotonic() - started
    print(f"   {script.name}: exit {code} in {took:.0f} s (log {log})", flush=True)
    rows: Any = None
    if out.exists():
        try:
            rows = json.loads(out.read_text(encoding="utf-8"))
        except ValueError as err:
            return [failed_row(script, f"rows are not JSON ({err})")]
    if rows is not None and not valid(rows):
        return [failed_row(script, "rows are not a list of {figure, value, …} objects")]
    rows = list(rows or [])
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or [""]
        rows.append(failed_row(script, f"exit {code}: {tail[0][:120]}"))
    elif not rows:
        rows.append(failed_row(script, "wrote no rows (--json-out not supported?)"))
    for item in rows:
        item.setdefault("script", script.stem)
    return rows


def number(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value != value:
        return "—"
    value = float(value)
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    grid = Table(title="evidence-station benchmarks (baselines measured in the same run)")
    for name, justify in (("script", "left"), ("figure", "left"), ("value", "right"),
                          ("baseline", "right"), ("ratio", "right"), ("target", "left"),
                          ("result", "left")):
        grid.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for item in rows:
        verdict = {True: "[green]pass[/green]", False: "[bold red]FAIL[/bold red]",
                   None: "[dim]info[/dim]"}[item.get("pass")]
        baseline = number(item.get("baseline"), item.get("unit", ""))
        if item.get("baseline_name") and item.get("baseline") is not None:
            baseline += f" ({item['baseline_name']})"
        ratio = item.get("ratio")
        grid.add_row(str(item.get("script", "")).removeprefix("bench_"), str(item["figure"]),
                     number(item.get("value"), item.get("unit", "")), baseline,
                     "—" if ratio is None else f"{float(ratio):.2f}×",
                     str(item.get("target") or ""), verdict)
    Console(width=max(140, Console().width)).print(grid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", default=os.environ.get("BENCH_FULL") == "1",
                        help="full-size run (BENCH_FULL=1)")
    parser.add_argument("--only", default="", help="comma-separated scripts to run")
    parser.add_argument("--skip", default=os.environ.get("BENCH_SKIP", ""),
                        help="comma-separated scripts to leave out")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per script (default 1800, full 6 h)")
    parser.add_argument("--json-out", type=Path, default=None, help="all rows as one JSON file")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="also write the table as Markdown (for the README)")
    args = parser.parse_args(argv)
    split = (lambda text: {part.strip() for part in text.split(",") if part.strip()})  # noqa: E731
    scripts = discover(split(args.only), split(args.skip))
    timeout = args.timeout or (6 * 3600 if args.full else 1800)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-logs-", dir=os.environ.get("BENCH_DIR")))
    rows: list[dict[str, Any]] = []
    for script in scripts:
        try:
            rows.extend(run_script(script, full=args.full, timeout=timeout, log_dir=log_dir))
        except OSError as err:
            rows.append(failed_row(script, f"could not run: {err}"))
    table(rows)
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.markdown is not None:
        args.markdown.write_text(markdown(rows), encoding="utf-8")
    return 1 if any(item.get("pass") is False for item in rows) else 0


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| script | figure | value | baseline | ratio | target | result |",
             "|---|---|---|---|---|---|---|"]
    for item in rows:
        ratio = item.get("ratio")
        baseline = number(item.get("baseline"), item.get("unit", ""))
        if item.get("baseline_name") and item.get("baseline") is not None:
            baseline += f" ({item['baseline_name']})"
        lines.append("| " + " | ".join([
            str(item.get("script", "")).removeprefix("bench_"), str(item["figure"]),
            number(item.get("value"), item.get("unit", "")), baseline,
            "—" if ratio is None else f"{float(ratio):.2f}×", str(item.get("target") or ""),
            {True: "pass", False: "FAIL", None: "info"}[item.get("pass")]]) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
