"""The S3 data lake: key layout, partition manifests, reading and replacing partitions, quarantine.

S3 has no transactions, so a partition is only trusted through its manifest: the data object is
written first and the manifest last, and readers verify the manifest's checksum and row count. A
partition whose manifest does not match its data is reported, never loaded.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from botocore.exceptions import ClientError

from shopflow.contracts import Entity
from shopflow.errors import ShopflowError

DATA_FILE = "part-00000.csv.gz"
MANIFEST_FILE = "_manifest.json"
VALIDATION_FILE = "validation_result.json"
LANDING_EVENTS_PREFIX = "landing/clickstream/events"


class LakeError(ShopflowError, RuntimeError):
    """A lake partition is missing or inconsistent; the message names the key."""


def entity_prefix(entity: Entity, zone: str = "raw") -> str:
    """Every partition of an entity in a zone: `<zone>/<source>/<entity>/`."""
    return f"{zone}/{entity.source}/{entity.name}/"


def partition_prefix(entity: Entity, dt: date, zone: str = "raw") -> str:
    return f"{entity_prefix(entity, zone)}dt={dt.isoformat()}/"


def landing_prefix(dt: date) -> str:
    return f"{LANDING_EVENTS_PREFIX}/dt={dt.isoformat()}/"


def landing_key(dt: date, hour: int) -> str:
    return f"{landing_prefix(dt)}hour={hour:02d}/events.jsonl.gz"


def day_interval(dt: date) -> tuple[datetime, datetime]:
    """The UTC interval [dt 00:00, dt+1 00:00) a partition covers."""
    start = datetime(dt.year, dt.month, dt.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class Manifest:
    entity: str
    dt: date
    row_count: int
    sha256: str
    watermark: str | None
    interval_start: str
    interval_end: str
    extracted_at: str
    columns: list[str]
    full_history: bool = False

    def to_json(self) -> bytes:
        body = {**self.__dict__, "dt": self.dt.isoformat()}
        return json.dumps(body, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, key: str) -> Manifest:
        try:
            body = json.loads(raw)
            body["dt"] = date.fromisoformat(body["dt"])
            return cls(**body)
        except (ValueError, KeyError, TypeError) as err:
            raise LakeError(f"manifest {key} is malformed: {err}") from err


@dataclass(frozen=True)
class Partition:
    manifest: Manifest
    csv_bytes: bytes  # uncompressed CSV, header row first
    data_key: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Lake:
    """Reads and writes partitions in one bucket."""

    def __init__(self, client, bucket: str):
        self.client = client
        self.bucket = bucket

    # --- objects ----------------------------------------------------------------------------------
    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise LakeError(f"s3://{self.bucket}/{key} does not exist") from None
            raise

    def put(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

    def delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            if chunk:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})

    # --- partitions -------------------------------------------------------------------------------
    def write_partition(self, entity: Entity, manifest: Manifest, csv_bytes: bytes) -> str:
        """Replace the partition: data first, manifest last, then drop objects no longer part of it."""
        prefix = partition_prefix(entity, manifest.dt)
        stale = set(self.list_keys(prefix))
        data_key, manifest_key = prefix + DATA_FILE, prefix + MANIFEST_FILE
        # mtime=0 keeps the gzip bytes identical for identical data: re-extracts are byte-for-byte equal.
        self.put(data_key, gzip.compress(csv_bytes, compresslevel=6, mtime=0), "application/gzip")
        self.put(manifest_key, manifest.to_json(), "application/json")
        self.delete_keys(sorted(stale - {data_key, manifest_key}))
        return data_key

    def read_partition(self, entity: Entity, dt: date) -> Partition:
        """Read a partition and check it against its manifest."""
        prefix = partition_prefix(entity, dt)
        manifest = Manifest.from_json(self.get(prefix + MANIFEST_FILE), prefix + MANIFEST_FILE)
        data_key = prefix + DATA_FILE
        try:
            csv_bytes = gzip.decompress(self.get(data_key))
        except (OSError, EOFError) as err:
            raise LakeError(f"s3://{self.bucket}/{data_key} is not a valid gzip file: {err}") from err
        actual = sha256_hex(csv_bytes)
        if actual != manifest.sha256:
            raise LakeError(
                f"s3://{self.bucket}/{data_key}: checksum {actual[:12]} does not match its manifest "
                f"({manifest.sha256[:12]}); the partition was modified or half-written - re-extract {dt}"
            )
        return Partition(manifest=manifest, csv_bytes=csv_bytes, data_key=data_key)

    def partition_dates(self, entity: Entity, zone: str = "raw") -> list[date]:
        """Dates that have a manifest in `zone`, oldest first."""
        prefix = entity_prefix(entity, zone)
        dates = set()
        for key in self.list_keys(prefix):
            if key.endswith("/" + MANIFEST_FILE) or (zone != "raw" and key.endswith("/" + VALIDATION_FILE)):
                dates.add(date.fromisoformat(key[len(prefix) :].split("/", 1)[0].removeprefix("dt=")))
        return sorted(dates)

    def has_partition_before(self, entity: Entity, dt: date) -> bool:
        """Whether a raw partition (a manifest) of `entity` exists for a date before `dt`.

        Keys list in date order (`dt=YYYY-MM-DD`), so this reads from the oldest partition and stops at
        the first manifest or at `dt`: one request, however long the lake's history (listing every
        partition on each daily extract made a year's replay quadratic).
        """
        prefix = entity_prefix(entity)
        bound = f"{prefix}dt={dt.isoformat()}/"
        # Small pages: the answer is almost always among the oldest partition's two keys.
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": 10}
        )
        for page in pages:
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key >= bound:
                    return False
                if key.endswith("/" + MANIFEST_FILE):
                    return True
        return False

    def quarantine_partition(self, entity: Entity, dt: date, validation_result: dict) -> str:
        """Copy the partition to the quarantine zone with the validation result beside it."""
        source = partition_prefix(entity, dt)
        target = partition_prefix(entity, dt, zone="quarantine")
        self.delete_keys(self.list_keys(target))
        for key in self.list_keys(source):
            self.client.copy_object(
                Bucket=self.bucket, Key=target + key[len(source) :], CopySource={"Bucket": self.bucket, "Key": key}
            )
        self.put(
            target + VALIDATION_FILE, json.dumps(validation_result, indent=2, default=str).encode(), "application/json"
        )
        return target

    def clear_quarantine(self, entity: Entity, dt: date) -> None:
        """Remove a partition's quarantine copy once a corrected version has loaded."""
        self.delete_keys(self.list_keys(partition_prefix(entity, dt, zone="quarantine")))
