"""Beyond one station: replication to the unit's central engines (DESIGN.md, "fleet").

The ledger is the outbox. Each station ships its events (canonical bytes exactly) to
PostgreSQL and its stored files to an S3 bucket with Object Lock; the central side is
existing engines, never a home-made cluster, and a station never waits on them to ingest,
label or burn.

- :mod:`.central` — the PostgreSQL mirror: ``ledger_event``, checkpoints, the fleet-wide
  catalog (projection of every station's events) and central alarms.
- :mod:`.objects` — the bucket: Object Lock checks, checksummed single and multipart
  uploads (resumable), retention extension, legal holds, deletion after retention.
- :mod:`.replicate` — one catch-up pass from a station, its local state and status, and
  the alarms it raises through the one door as the ``station`` actor.
- :mod:`.verify` — `fleet verify`: every station's chain, tree, checkpoints and every
  object, from PostgreSQL and the bucket alone.
"""

from __future__ import annotations

from evidence_station.errors import EXIT_FINDING, EvidenceStationError


class FleetError(EvidenceStationError):
    """A central engine cannot be used (unreachable, refused credentials, a bucket that
    does not lock): an environment problem, exit 2; the station goes on offline."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail)

    zh = "中心同步失败：{detail}"
    en = "fleet replication failed: {detail}"


class BucketRefusedError(FleetError):
    """The bucket would not keep footage as the rules demand (R11): no Object Lock, no
    versioning, or a default retention shorter than the shortest retention period."""

    zh = "拒绝使用该存储桶：{detail}"
    en = "bucket refused: {detail}"


class DivergedError(EvidenceStationError):
    """This station's ledger is not an extension of what the mirror holds for its origin:
    refused and alarmed, never merged (exit 1, a finding)."""

    exit_code = EXIT_FINDING

    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail)

    zh = "账本与中心镜像不一致，已拒绝同步并告警：{detail}"
    en = "ledger is not an extension of the central mirror; refused and alarmed: {detail}"
