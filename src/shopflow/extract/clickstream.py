"""Clickstream: check the day's 24 hourly landed objects and promote them into the raw zone.

Landing objects are what the delivery service wrote; they stay where they are (the landing zone is
the source). A missing hour, a truncated gzip, a line that is not JSON or lacks a field stops the
promotion with an error naming the object and line: nothing of the day reaches the raw zone.
"""

from __future__ import annotations

import gzip
import json
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from shopflow.contracts import EVENTS
from shopflow.extract import ExtractError, ExtractResult, rows_to_csv, write_partition
from shopflow.lake import Lake, LakeError, landing_key, landing_prefix

HOURS = range(24)
REQUIRED_FIELDS = ("event_id", "session_id", "visitor_id", "event_type", "device_type", "referrer", "event_time")


def _decode_object(lake: Lake, key: str) -> list[dict]:
    try:
        text = gzip.decompress(lake.get(key)).decode("utf-8")
    except (OSError, EOFError, zlib.error) as err:
        raise ExtractError(f"clickstream: s3://{lake.bucket}/{key} is not a complete gzip file ({err})") from err
    except UnicodeDecodeError as err:
        raise ExtractError(f"clickstream: s3://{lake.bucket}/{key} is not UTF-8 text ({err})") from err
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as err:
            raise ExtractError(
                f"clickstream: s3://{lake.bucket}/{key} line {number} is not valid JSON ({err.msg}): {line[:120]!r}"
            ) from None
        if not isinstance(event, dict):
            raise ExtractError(
                f"clickstream: s3://{lake.bucket}/{key} line {number} is not a JSON object: {line[:120]!r}"
            )
        missing = [f for f in REQUIRED_FIELDS if event.get(f) in (None, "")]
        if missing:
            raise ExtractError(
                f"clickstream: s3://{lake.bucket}/{key} line {number} lacks {', '.join(missing)}: {line[:120]!r}"
            )
        events.append(event)
    return events


def extract_clickstream(lake: Lake, dt: date) -> ExtractResult:
    """Promote landing/clickstream/events/dt=<dt>/ (24 hourly objects) to raw/clickstream/events/dt=<dt>/."""
    present = set(lake.list_keys(landing_prefix(dt)))
    missing = [h for h in HOURS if landing_key(dt, h) not in present]
    if missing:
        raise ExtractError(
            f"clickstream: landing for {dt} is incomplete, hours {missing} have no object under "
            f"s3://{lake.bucket}/{landing_prefix(dt)}; the delivery may still be running - retry later"
        )
    columns = EVENTS.data_column_names
    rows: list[list[Any]] = []
    # The 24 reads are independent: in parallel, the day costs about one round trip instead of 24.
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="clickstream-get") as pool:
        futures = [pool.submit(_decode_object, lake, landing_key(dt, hour)) for hour in HOURS]
        for future in futures:  # in hour order, so the first failing hour is the one reported
            try:
                events = future.result()
            except LakeError as err:  # deleted between listing and reading
                raise ExtractError(f"clickstream: {err}") from err
            rows.extend([event.get(c) for c in columns] + [dt.isoformat()] for event in events)
    rows.sort(key=lambda row: (str(row[columns.index("event_time")]), str(row[0])))
    watermark = max((str(r[columns.index("event_time")]) for r in rows), default=None)
    return write_partition(lake, EVENTS, dt, rows_to_csv(EVENTS.column_names, rows), len(rows), watermark)
