"""R14 case files as the ledger projects them (``case.end``, ``case.close``), and the
facts the rule needs of each case number: its labelled recordings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hashing.ledger import Event

if TYPE_CHECKING:  # the catalog's read side: plain sqlite3 (catalog/reader.py, issue 16)
    from evidence_station.catalog import Catalog
    from evidence_station.catalog.reader import Rows

# the projected table (created by Catalog._ensure_schema)
CASE_FILE_COLUMNS: dict[str, type] = {
    "case_number": str, "ended_on": str, "ended_by": str, "ended_at": str, "ended_seq": int,
    "formed_on": str, "formed_by": str, "formed_at": str, "formed_seq": int,
}


class CaseFileQueries:
    def __init__(self, db: Rows) -> None:
        self.db = db

    def case_file(self, case_number: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from case_files where case_number = ?", [case_number]))
        return dict(rows[0]) if rows else None

    def case_files(self) -> dict[str, dict[str, Any]]:
        return {row["case_number"]: dict(row) for row in self.db.query("select * from case_files")}

    def any_case(self) -> bool:
        """Whether any clip carries a case number or any case file is recorded."""
        return bool(next(iter(self.db.execute(
            "select exists (select 1 from case_last) or exists (select 1 from case_files)")))[0])

    def last_recordings(self, case_number: str | None = None) -> dict[str, str | None]:
        """Each case number with a labelled clip, and the time of its last labelled
        recording as recorded (the recorded time, else the ingest time; None when the clips
        have neither): ``case_last``, kept by triggers on ``labels`` (catalog/indexes.py)."""
        sql = "select case_number, last_text from case_last"
        params: list[str] = []
        if case_number is not None:
            sql += " where case_number = ?"
            params.append(case_number)
        return {row["case_number"]: row["last_text"] for row in self.db.query(sql, params)}

    def labelled_recordings(self, case_number: str | None = None) -> list[dict[str, Any]]:
        """Every clip currently labelled with a case number (deleted ones too: a deletion
        does not change when the enforcement ended), with its recorded and ingested time."""
        sql = ("select l.case_number, c.clip_id, c.recorded_at, c.ingested_at, c.deleted_at "
               "from labels l join clips c on c.clip_id = l.clip_id "
               "where l.case_number is not null and l.case_number != ''")
        params: list[str] = []
        if case_number is not None:
            sql += " and l.case_number = ?"
            params.append(case_number)
        return [dict(row) for row in self.db.query(sql + " order by c.first_seq", params)]


# -- projectors (registered in projection.PROJECTORS) -------------------------------------
def project_case_end(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    catalog.table("case_files").upsert(
        {"case_number": fields["case_number"], "ended_on": fields["ended_on"],
         "ended_by": fields["actor"], "ended_at": fields["time"], "ended_seq": event.seq},
        pk="case_number")


def project_case_close(catalog: Catalog, event: Event) -> None:
    fields = event.fields
    catalog.table("case_files").upsert(
        {"case_number": fields["case_number"], "formed_on": fields["formed_on"],
         "formed_by": fields["actor"], "formed_at": fields["time"], "formed_seq": event.seq},
        pk="case_number")
