"""Compliance report (R15) at catalog scale (run on demand:
``python benchmarks/bench_compliance.py [--clips 100000]``; full size is ``--clips 1000000``).

A real catalog (the station's schema, ``Catalog``) is filled in SQL with ``--clips`` clips
over one year — 50 officers, 100 devices, review flags, labels, evidence, discs, access
registrations and deletions in fixed proportions — then the report's queries run for a
month and for the whole year. The baseline, measured in the same run on the same file,
is one grouped scan of the clips table (``select officer_id, device_id, count(*) from
clips group by 1, 2``): the cheapest query that looks at every clip once. Ratios say how
many such scans a report costs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evidence_station import compliance  # noqa: E402
from evidence_station.catalog import Catalog  # noqa: E402
from evidence_station.compliance_report import render_html  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
YEAR_S = 365 * 86400



sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrows import add_json_out, full_size, row, write_rows  # noqa: E402


def fill(catalog: Catalog, clips: int, officers: int, devices: int) -> None:
    """One year of a station's footage, in SQL (seconds, not an ingest run): clip i is
    device i mod ``devices``'s and officer i mod ``officers``'s."""
    db = catalog.db
    spread = f"(i * {YEAR_S} / {clips})"
    with db.conn:
        db.execute(f"""with recursive n(i) as (select 0 union all select i + 1 from n where i < {clips - 1})
            insert into clips (clip_id, sha256, size, first_seq, ingested_at, recorded_at,
                               device_id, officer_id, source_path, flags)
            select printf('%016x', i), printf('%064x', i), 50000000, i,
                   strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || {spread} || ' seconds',
                            '+' || (case when i % 10 = 0 then 4 else 0 end) || ' days', '+6 hours'),
                   strftime('%Y-%m-%dT%H:%M:%S+08:00', '2026-01-01', '+' || {spread} || ' seconds'),
                   'CAM-' || (i % {devices}), printf('%06d', i % {officers}), 'DCIM/x.MP4', '[]' from n""")
        db.execute("""insert into analysis (clip_id, seq, analysed_at, duration_s, media)
            select clip_id, first_seq, ingested_at, 600,
                   case when first_seq % 500 = 0 then '{"kind": "audio"}' else '{"kind": "video"}' end
            from clips where first_seq % 20 != 0""")
        for kind, every in (("late_storage", 10), ("statement_unreadable", 4),
                            ("interruption_unexplained", 50), ("clock_drift", 33)):
            db.execute(f"""insert into review (flag_id, clip_id, kind, article, figures, raised_seq,
                           raised_at, state) select clip_id || '-{kind}', clip_id, '{kind}', 'R',
                           '{{}}', first_seq, ingested_at, case when first_seq % 3 = 0 then
                           'resolved' else 'open' end from clips where first_seq % {every} = 0""")
        db.execute("""insert into labels (clip_id, case_number, party, handler, labelled_by,
                       labelled_at, seq) select clip_id, 'C-' || (first_seq / 40), 'p', 'h', 'li',
                       ingested_at, first_seq from clips where first_seq % 3 != 0""")
        db.execute("""insert into evidence (clip_id, collector, collected_at, location,
                       fact_to_prove, designated_by, designated_at, seq) select clip_id, 'c',
                       ingested_at, 'l', 'f', 'li', ingested_at, first_seq from clips
                       where first_seq % 100 = 0""")
        db.execute("""insert into disc_clips (id, seq, clip_id, case_number, volume_id, verified,
                       burned_at) select first_seq || ':' || clip_id, first_seq, clip_id, 'C', 'V',
                       1, ingested_at from clips where first_seq % 200 = 0""")
        db.execute("""insert into access (seq, clip_id, kind, person, approver, reason, outside,
                       actor, time) select first_seq, clip_id, 'view', 'v', 'a', 'r',
                       first_seq % 1000 = 0, 'li', ingested_at from clips where first_seq % 200 = 0""")
        db.execute("""insert into deletions (clip_id, sha256, requested_by, approved_by, klass,
                       rule, expired_on, deleted_at, seq) select clip_id, sha256, 'a', 'b', 'general',
                       'R6', '2026-06-01', ingested_at, first_seq from clips where first_seq % 1000 = 7""")
        db.execute(f"""with recursive d(value) as
                       (select 0 union all select value + 1 from d where value < {devices - 1})
                       insert into devices (device_id, officer_id, first_seen, last_seen, sessions,
                       last_docked, storage_total, storage_free) select 'CAM-' || value,
                       printf('%06d', value % {officers}), '2026-01-01', '2026-12-01', 10,
                       case when value % 7 = 0 then '2026-09-01T00:00:00Z' else '2026-12-30T00:00:00Z' end,
                       32000000000, case when value % 9 = 0 then 1000000000 else 20000000000 end from d""")


CPU: list[float] = []  # the CPU seconds of the last timed() call


def timed(action: object) -> tuple[float, object]:
    """Wall seconds (and, in CPU, this process's CPU seconds: on a shared machine the
    wall time includes waiting for a core; SQLite runs in this process)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = action()  # type: ignore[operator]
    CPU[:] = [time.process_time() - cpu]
    return time.perf_counter() - start, result


# (name, officers, devices): the unit the figures were first measured on, and a city unit
# whose officers each record every week (~50,000 officer-device-weeks in a year)
UNITS = (("", 50, 100), ("a city unit of 1,000 officers: ", 1000, 1000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=1_000_000 if full_size() else 100_000)
    add_json_out(parser)
    args = parser.parse_args()
    rows = []
    for unit_name, officers, devices in UNITS:
        rows += measure(args.clips, unit_name, officers, devices)
    write_rows(args.json_out, rows)


def measure(clips: int, unit_name: str, officers: int, devices: int) -> list[dict[str, object]]:
    """Every figure on one catalog of ``clips`` clips by ``officers`` and ``devices``."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-compliance-") as scratch:
        catalog = Catalog(Path(scratch) / "catalog.sqlite")
        took, _ = timed(lambda: fill(catalog, clips, officers, devices))
        print(f"{unit_name}filled {clips} clips ({officers} officers, {devices} devices) "
              f"in {took:.1f} s")
        db = catalog.db
        baseline, _ = timed(lambda: db.execute(
            "select officer_id, device_id, count(*) from clips group by 1, 2").fetchall())
        again, _ = timed(lambda: db.execute(
            "select officer_id, device_id, count(*) from clips group by 1, 2").fetchall())
        baseline, base_cpu = min(baseline, again), CPU[0]
        print(f"baseline: one grouped scan of {clips} clips: {baseline * 1000:.0f} ms "
              f"({base_cpu * 1000:.0f} ms CPU)")
        as_of = datetime(2027, 1, 5, 9, 0, tzinfo=ZONE)
        for name, start, end in (("one month", date(2026, 6, 1), date(2026, 6, 30)),
                                 ("one year", date(2026, 1, 1), date(2026, 12, 31))):
            options = compliance.Options(start, end, as_of, ZONE)
            # the web page's tables: no weekly series (its plots are images of their own)
            took, report = timed(lambda options=options: compliance.gather(
                db, "bench", options, series=False))
            unit = report.total().counts  # type: ignore[attr-defined]
            print(f"{name}: tables (web page) {took * 1000:.0f} ms = {took / baseline:.1f} × "
                  f"baseline (CPU {CPU[0] / base_cpu:.1f} ×); {unit['recordings']} recordings, "
                  f"{unit['late_storage']} late")
            rendered, html = timed(lambda options=options: render_html(
                db, compliance.gather(db, "bench", options), "zh", "checkpoint", as_of))
            print(f"{name}: the file (gather with series, HTML, plots, appendix) {rendered * 1000:.0f} ms = "
                  f"{rendered / baseline:.1f} × baseline (CPU {CPU[0] / base_cpu:.1f} ×; "
                  f"{len(str(html)) // 1024} KiB)")
            cell, found = timed(lambda options=options: compliance.items(
                db, options, "late_storage", "officer", "000010", limit=100))
            print(f"{name}: one figure's clip list (web) {cell * 1000:.0f} ms = "
                  f"{cell / baseline:.1f} × baseline (CPU {CPU[0] / base_cpu:.1f} ×; "
                  f"{found[1]} clips)")  # type: ignore[index]
            unit_list, unit_found = timed(lambda options=options: compliance.items(
                db, options, "late_storage", "unit", "", limit=100))
            print(f"{name}: the whole unit's clip list (web) {unit_list * 1000:.0f} ms = "
                  f"{unit_list / baseline:.1f} × baseline ({unit_found[1]} clips)")  # type: ignore[index]
            everything, listed = timed(lambda options=options: compliance.items(
                db, options, "recordings", "unit", "", limit=100, offset=100 * 500))
            print(f"{name}: the unit's recordings, page 501 (web) {everything * 1000:.0f} ms "
                  f"({listed[1]} clips)")  # type: ignore[index]
            rows += [row(f"{unit_name}compliance: the whole unit's clip list, {name}",
                         unit_list * 1000, "ms", baseline=baseline * 1000,
                         baseline_name="one grouped scan of the clips",
                         target="< 100 ms (web page)", passed=unit_list < 0.1),
                     row(f"{unit_name}compliance: the unit's recordings, page 501, {name}",
                         everything * 1000, "ms", baseline=baseline * 1000,
                         baseline_name="one grouped scan of the clips",
                         target="< 100 ms (web page)", passed=everything < 0.1)]
            rows += [row(f"{unit_name}compliance tables, {name}, {clips:,} clips", took * 1000,
                         "ms",
                         baseline=baseline * 1000, baseline_name="one grouped scan of the clips",
                         target="< 100 ms (web page)", passed=took < 0.1),
                     row(f"{unit_name}compliance figure's clip list, {name}", cell * 1000, "ms",
                         baseline=baseline * 1000, baseline_name="one grouped scan of the clips",
                         target="< 100 ms (web page)", passed=cell < 0.1)]
        catalog.close()
    return rows


if __name__ == "__main__":
    main()
