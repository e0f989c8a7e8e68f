"""Report builders (R15): numbers and plots in, a printable HTML page out.

Pure apart from drawing: the caller gathers the data from the station; these functions
only shape it. Plots are matplotlib (Agg) PNGs embedded in the page, with a CJK font so
Chinese labels render; the same HTML is printed to PDF by the caller.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.ticker import MaxNLocator

from retention.policy import add_months

plt.rcParams["font.family"] = ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]
plt.rcParams["axes.unicode_minus"] = False
_TEMPLATES = Environment(loader=PackageLoader("retention", "templates"),
                         autoescape=select_autoescape(["html"]))


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def expiry_by_month(expiries: Sequence[date], today: date, months: int = 12) -> list[tuple[str, int]]:
    """Pure: how many clips reach the end of retention in each of the next ``months``."""
    buckets = [add_months(today.replace(day=1), n) for n in range(months)]
    counts = Counter(f"{d.year}-{d.month:02d}" for d in expiries)
    overdue = sum(1 for d in expiries if d < buckets[0])
    rows = [("≤" + f"{buckets[0].year}-{buckets[0].month:02d}", overdue + counts.pop(
        f"{buckets[0].year}-{buckets[0].month:02d}", 0))]
    rows += [(f"{b.year}-{b.month:02d}", counts.get(f"{b.year}-{b.month:02d}", 0)) for b in buckets[1:]]
    return rows


def bar_plot(rows: Sequence[tuple[str, int]], title: str, ylabel: str) -> str:
    figure, axes = plt.subplots(figsize=(8, 3.2))
    axes.bar([label for label, _ in rows], [value for _, value in rows], color="#1f3b63")
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.tick_params(axis="x", rotation=45, labelsize=8)
    return _png(figure)


def histogram(values: Sequence[float], title: str, xlabel: str) -> str:
    figure, axes = plt.subplots(figsize=(8, 3.2))
    axes.hist(list(values) or [0], bins=20, color="#8a3b12")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    return _png(figure)


def render(template: str, **context: Any) -> str:
    return _TEMPLATES.get_template(template).render(**context)


def retention_report(*, station: str, today: date, classes: Mapping[str, int],
                     expiries: Sequence[date], expired: Sequence[Mapping[str, Any]],
                     holds: Sequence[Mapping[str, Any]], requests: Sequence[Mapping[str, Any]],
                     deletions: Sequence[Mapping[str, Any]], checkpoint: str) -> str:
    plot = bar_plot(expiry_by_month(expiries, today), "每月到期片段 Clips reaching end of retention",
                    "片段 clips")
    return render("report_retention.html", station=station, today=today, classes=classes,
                  plot=plot, expired=expired, holds=holds, requests=requests, deletions=deletions,
                  checkpoint=checkpoint)


MAX_WEEK_LABELS = 14  # a quarter names every week; a year every 4th


def line_plot(labels: Sequence[str], series: Mapping[str, Sequence[int]], title: str,
              xlabel: str, ylabel: str, *, bars: bool = False) -> str:
    """Per-week series (R15 compliance report): one line per figure, or bars for one."""
    figure, axes = plt.subplots(figsize=(8, 3.0))
    for index, (name, values) in enumerate(series.items()):
        if bars:
            axes.bar(list(labels), list(values), color="#1f3b63", label=name)
        else:
            # distinct markers and dashes: equal series must not hide one another
            axes.plot(list(labels), list(values), label=name, marker="osD^v"[index % 5],
                      linestyle=["-", "--", "-.", ":", "-"][index % 5], markersize=7 - index,
                      color=["#8a3b12", "#1f3b63", "#3b7d3b", "#7a4fa3", "#b08a00"][index % 5])
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    # every week is plotted, every n-th named: laying out a rotated label per week was most
    # of the drawing (0.5 s for a year's two plots, the web page's cost at 10^6 clips)
    step = max(1, -(-len(labels) // MAX_WEEK_LABELS))  # 1 for no labels: range() needs it
    axes.set_xticks(range(0, len(labels), step), [labels[i] for i in range(0, len(labels), step)])
    axes.tick_params(axis="x", rotation=45, labelsize=8)
    if len(series) > 1:
        axes.legend(fontsize=8)
    return _png(figure)
