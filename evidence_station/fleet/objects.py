"""The bucket: footage objects ``sha256/<hex>`` under Object Lock COMPLIANCE.

What each call promises:

* :func:`check_bucket` — Object Lock and versioning are on, and a default retention, if
  the bucket has one, is COMPLIANCE and not shorter than the shortest retention period
  (R6): otherwise the bucket is refused before anything is sent.
* :meth:`Bucket.put` — one PUT with ``x-amz-checksum-sha256`` = the clip's hash (the
  server checks the whole object; the checksum it reports back is compared too, since
  not every S3 implementation refuses a mismatch), lock mode, retain-until and legal
  hold set in the same request. Larger files go multipart: SHA-256 per part, parts the
  server already holds (an upload cut off earlier) are kept when their ETag (MD5) matches
  the local bytes, then retention is set and the whole object is read back and re-hashed.
* :meth:`Bucket.extend` — retain-until only ever moves later; a legal hold on or off.
* :meth:`Bucket.delete` — after retention (its lock has run out): every version goes.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from evidence_station.fleet import BucketRefusedError, FleetError

log = logging.getLogger(__name__)

MIB = 1024 * 1024
_READ = 4 * MIB


def key_for(sha256: str) -> str:
    return f"sha256/{sha256}"


def b64(digest_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(digest_hex)).decode()


def s3_client(endpoint_url: str | None, region: str, timeout_s: float) -> Any:
    """A boto3 client; credentials from the usual AWS variables or files (never config)."""
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "s3", endpoint_url=endpoint_url, region_name=region,
        config=BotoConfig(connect_timeout=timeout_s, read_timeout=timeout_s,
                          retries={"max_attempts": 2, "mode": "standard"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))


def describe(err: Exception) -> str:
    """One line for status and messages: the S3 error code, or the network failure."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = error.get("Code", "?")
        text = error.get("Message", "")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId"):
            return f"S3 refused the credentials ({code}: {text}); check AWS_ACCESS_KEY_ID / " \
                   "AWS_SECRET_ACCESS_KEY or the credentials file"
        if code in ("AccessDenied", "403"):
            return f"S3 AccessDenied: {text} (the key's policy lacks this action, or an Object " \
                   "Lock still in force refuses it)"
        return f"S3 {code}: {text}"
    if isinstance(err, BotoCoreError):
        return f"S3 unreachable or misconfigured: {err}"
    return f"{type(err).__name__}: {err}"


@dataclass(frozen=True)
class Lock:
    retain_until: datetime
    legal_hold: bool


@dataclass
class UploadReport:
    sha256: str
    size: int
    version_id: str | None
    multipart: bool
    parts_sent: int = 0
    parts_kept: int = 0
    reused: bool = False  # the object was there already (verified, not re-sent)


def _months_to_days(months: int) -> int:
    return months * 28  # the shortest a month can be: a default never shorter than R6's months


class Bucket:
    def __init__(self, client: Any, name: str, *, multipart_threshold: int, part_size: int) -> None:
        self.client = client
        self.name = name
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.on_part: Callable[[str, int], None] | None = None  # progress (and fault tests)

    # -- the bucket itself -------------------------------------------------------------------
    def check(self, *, minimum_months: int) -> None:
        """Refuse a bucket that cannot keep footage as R11 demands (module docstring)."""
        from botocore.exceptions import ClientError

        try:
            versioning = self.client.get_bucket_versioning(Bucket=self.name)
        except ClientError as err:
            raise FleetError(f"bucket {self.name}: {describe(err)}") from err
        except Exception as err:
            raise FleetError(f"bucket {self.name}: {describe(err)}") from err
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.name)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound"):
                raise BucketRefusedError(
                    f"bucket {self.name} has no Object Lock: footage there could be deleted or "
                    "overwritten inside its retention period (R11). Create the bucket with Object "
                    "Lock enabled (see README, fleet)") from err
            raise FleetError(f"bucket {self.name}: {describe(err)}") from err
        lock = config.get("ObjectLockConfiguration", {})
        if lock.get("ObjectLockEnabled") != "Enabled":
            raise BucketRefusedError(f"bucket {self.name}: Object Lock is not enabled")
        if versioning.get("Status") != "Enabled":
            raise BucketRefusedError(f"bucket {self.name}: versioning is not enabled "
                                     "(Object Lock needs it)")
        default = (lock.get("Rule") or {}).get("DefaultRetention")
        if default:
            days = int(default.get("Days") or 0) + 365 * int(default.get("Years") or 0)
            needed = _months_to_days(minimum_months)
            if default.get("Mode") != "COMPLIANCE":
                raise BucketRefusedError(
                    f"bucket {self.name}: default retention mode {default.get('Mode')} can be "
                    "lifted by an administrator; use COMPLIANCE")
            if days < needed:
                raise BucketRefusedError(
                    f"bucket {self.name}: default retention {days} days is shorter than the "
                    f"{minimum_months} months R6 demands (≥ {needed} days)")

    # -- one object --------------------------------------------------------------------------
    def head(self, sha256: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            answer: dict[str, Any] = self.client.head_object(
                Bucket=self.name, Key=key_for(sha256), ChecksumMode="ENABLED")
            return answer
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def put(self, path: Path, sha256: str, size: int, lock: Lock) -> UploadReport:
        """Upload ``path`` (already verified as ``sha256`` in the store) unless the object
        is there with that checksum; then only its lock is brought up to ``lock``."""
        existing = self.head(sha256)
        if existing is not None and self._matches(existing, sha256, size) and (
                self._whole_checksum(existing, sha256) or self._reads_back(sha256)):
            self.extend(sha256, lock, current=existing)
            return UploadReport(sha256, size, existing.get("VersionId"),
                                size > self.multipart_threshold, reused=True)
        if size > self.multipart_threshold:
            return self._multipart(path, sha256, size, lock)
        with path.open("rb") as body:
            answer = self.client.put_object(
                Bucket=self.name, Key=key_for(sha256), Body=body, ContentLength=size,
                ChecksumAlgorithm="SHA256", ChecksumSHA256=b64(sha256),
                ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=lock.retain_until,
                ObjectLockLegalHoldStatus="ON" if lock.legal_hold else "OFF")
        reported = answer.get("ChecksumSHA256")
        if reported is not None and reported != b64(sha256):
            raise FleetError(f"{key_for(sha256)}: the server stored checksum {reported}, "
                             f"not the clip's {b64(sha256)}")
        stored = self.head(sha256)
        if stored is None or not self._matches(stored, sha256, size):
            raise FleetError(f"{key_for(sha256)}: not there with the clip's checksum after upload")
        self.extend(sha256, lock, current=stored)  # servers that ignore lock headers on PUT
        return UploadReport(sha256, size, answer.get("VersionId"), False, parts_sent=1)

    @staticmethod
    def _whole_checksum(head: dict[str, Any], sha256: str) -> bool:
        """The server vouches for the whole object's SHA-256 (a single PUT's checksum)."""
        return bool(head.get("ChecksumSHA256") == b64(sha256))

    def _reads_back(self, sha256: str) -> bool:
        """A multipart object carries no whole-object checksum: its bytes are re-hashed
        before it counts as there (an object is verified, never taken on its word)."""
        return self.hash_object(sha256)[0] == sha256

    @staticmethod
    def _matches(head: dict[str, Any], sha256: str, size: int) -> bool:
        if int(head.get("ContentLength", -1)) != size:
            return False
        checksum = head.get("ChecksumSHA256")
        if checksum and "-" not in checksum and checksum == b64(sha256):
            return True
        # a multipart object's checksum is one of its parts' checksums: read it back
        return bool(head.get("Metadata", {}).get("sha256") == sha256)

    def extend(self, sha256: str, lock: Lock, *, current: dict[str, Any] | None = None) -> None:
        """Retain-until later (never earlier), COMPLIANCE; the legal hold as ``lock`` says."""
        current = current if current is not None else self.head(sha256)
        if current is None:
            raise FleetError(f"{key_for(sha256)} is not in bucket {self.name}")
        until = current.get("ObjectLockRetainUntilDate")
        if current.get("ObjectLockMode") != "COMPLIANCE" or until is None or until < lock.retain_until:
            self.client.put_object_retention(
                Bucket=self.name, Key=key_for(sha256),
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": lock.retain_until})
        held = current.get("ObjectLockLegalHoldStatus") == "ON"
        if held != lock.legal_hold:
            self.client.put_object_legal_hold(
                Bucket=self.name, Key=key_for(sha256),
                LegalHold={"Status": "ON" if lock.legal_hold else "OFF"})

    def delete(self, sha256: str) -> int:
        """Every version of the object (after an approved deletion; the lock has run out,
        so the server allows it — if not, its refusal is the error). Returns versions removed."""
        key = key_for(sha256)
        removed = 0
        pages = self.client.get_paginator("list_object_versions").paginate(Bucket=self.name, Prefix=key)
        for page in pages:
            for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                if version["Key"] != key:
                    continue
                if version in page.get("Versions", []):
                    self.client.put_object_legal_hold(
                        Bucket=self.name, Key=key, VersionId=version["VersionId"],
                        LegalHold={"Status": "OFF"})
                self.client.delete_object(Bucket=self.name, Key=key, VersionId=version["VersionId"])
                removed += 1
        return removed

    # -- multipart -----------------------------------------------------------------------------
    def _multipart(self, path: Path, sha256: str, size: int, lock: Lock) -> UploadReport:
        key = key_for(sha256)
        upload_id = self._open_upload(key)
        if upload_id is None:
            upload_id = self.client.create_multipart_upload(
                Bucket=self.name, Key=key, ChecksumAlgorithm="SHA256", Metadata={"sha256": sha256},
                ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=lock.retain_until,
                ObjectLockLegalHoldStatus="ON" if lock.legal_hold else "OFF")["UploadId"]
        held = self._held_parts(key, upload_id)
        report = UploadReport(sha256, size, None, True)
        parts = []
        whole = hashlib.sha256()
        with path.open("rb") as handle:
            number = 0
            while True:
                chunk = handle.read(self.part_size)
                if not chunk:
                    break
                number += 1
                whole.update(chunk)
                part_sha = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                etag = held.get(number)
                md5 = hashlib.md5(chunk, usedforsecurity=False).hexdigest()  # S3's part ETag
                if etag is not None and etag.strip('"') == md5:
                    report.parts_kept += 1  # sent before a cut: not sent again
                else:
                    etag = self.client.upload_part(
                        Bucket=self.name, Key=key, UploadId=upload_id, PartNumber=number,
                        Body=chunk, ChecksumSHA256=part_sha)["ETag"]
                    report.parts_sent += 1
                parts.append({"PartNumber": number, "ETag": etag, "ChecksumSHA256": part_sha})
                if self.on_part is not None:
                    self.on_part(sha256, number)
        if whole.hexdigest() != sha256:
            self.client.abort_multipart_upload(Bucket=self.name, Key=key, UploadId=upload_id)
            raise FleetError(f"{path}: the stored file no longer hashes to {sha256} (integrity alarm: "
                             "run `evidence-station check --verify-data`)")
        answer = self.client.complete_multipart_upload(
            Bucket=self.name, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
        report.version_id = answer.get("VersionId")
        self.extend(sha256, lock)  # some servers drop the lock headers of a multipart upload
        self.read_back(sha256)
        return report

    def _open_upload(self, key: str) -> str | None:
        """An unfinished multipart upload of ``key`` (cut off earlier), to resume."""
        answer = self.client.list_multipart_uploads(Bucket=self.name, Prefix=key)
        uploads = [u for u in answer.get("Uploads", []) if u["Key"] == key]
        return str(uploads[-1]["UploadId"]) if uploads else None

    def _held_parts(self, key: str, upload_id: str) -> dict[int, str]:
        held: dict[int, str] = {}
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.name, Key=key, UploadId=upload_id)
        for page in pages:
            for part in page.get("Parts", []):
                held[int(part["PartNumber"])] = str(part["ETag"])
        return held

    def read_back(self, sha256: str) -> str:
        """Download the object and re-hash it; raise unless it is ``sha256``."""
        digest, _ = self.hash_object(sha256)
        if digest != sha256:
            raise FleetError(f"{key_for(sha256)}: read back as {digest}, not {sha256}")
        return digest

    def hash_object(self, sha256: str) -> tuple[str, int]:
        body = self.client.get_object(Bucket=self.name, Key=key_for(sha256))["Body"]
        digest = hashlib.sha256()
        size = 0
        for chunk in iter(lambda: body.read(_READ), b""):
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size
