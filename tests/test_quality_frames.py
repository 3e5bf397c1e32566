"""read_partition_frame: typed columns, bad values kept visible, exact CSV line numbers, clear read errors."""

from __future__ import annotations

import gzip
from datetime import date

import pandas as pd
import pytest

from shopflow.contracts import EVENTS, ORDER_ITEMS, PRODUCTS
from shopflow.quality.frames import (
    EVENT_HOUR_COLUMN,
    PartitionReadError,
    csv_line,
    expected_frame_columns,
    read_partition_frame,
    unparsed_column,
)

ITEMS_HEADER = "order_item_id,order_id,product_id,quantity,unit_price,created_at,updated_at,dt\n"


def test_columns_are_typed_and_helpers_follow_in_order():
    csv = ITEMS_HEADER + "1,10,3,2,10.50,2026-01-03T10:00:00+00:00,2026-01-03T10:00:00.123456Z,2026-01-03\n"
    frame = read_partition_frame(ORDER_ITEMS, csv.encode())
    assert list(frame.columns) == expected_frame_columns(ORDER_ITEMS)
    assert str(frame["order_item_id"].dtype) == "Int64"
    assert str(frame["unit_price"].dtype) == "float64"
    assert str(frame["updated_at"].dtype) == "datetime64[us, UTC]"
    assert frame.at[0, "dt"] == date(2026, 1, 3)
    assert frame.at[0, "updated_at"] == pd.Timestamp("2026-01-03T10:00:00.123456Z")
    assert frame[unparsed_column("quantity")].isna().all()


def test_unparseable_values_become_null_but_stay_visible():
    csv = ITEMS_HEADER + (
        "1,10,x,2,1e5,2026-13-03T10:00:00Z,2026-01-03T10:00:00Z,2026-02-30\n"
        "2,99999999999999999999,3000000000,,123456789.00,,2026-01-03 10:00:00,2026-01-03\n"
    )
    frame = read_partition_frame(ORDER_ITEMS, csv.encode())
    unparsed = {c: frame[unparsed_column(c)].tolist() for c in ("order_id", "product_id", "unit_price", "dt")}
    assert unparsed["product_id"] == ["x", "3000000000"]  # 3e9 overflows integer (int4)
    assert unparsed["order_id"] == [pd.NA, "99999999999999999999"]  # overflows bigint
    assert unparsed["unit_price"] == ["1e5", "123456789.00"]  # scientific notation; > numeric(10,2)
    assert unparsed["dt"] == ["2026-02-30", pd.NA]
    assert frame[unparsed_column("created_at")].tolist() == ["2026-13-03T10:00:00Z", pd.NA]
    assert frame["product_id"].isna().all() and frame["unit_price"].isna().all()
    # An empty field is NULL, not unparsed.
    assert pd.isna(frame.at[1, "quantity"]) and pd.isna(frame.at[1, unparsed_column("quantity")])
    # A naive timestamp is read as UTC.
    assert frame.at[1, "updated_at"] == pd.Timestamp("2026-01-03T10:00:00Z")


def test_gzip_is_detected_and_event_hour_derived():
    csv = (
        "event_id,session_id,visitor_id,customer_id,event_type,product_id,order_id,device_type,referrer,event_time,dt\n"
        "a,b,c,,page_view,,,mobile,google,2026-01-03T04:05:06.789Z,2026-01-03\n"
    )
    frame = read_partition_frame(EVENTS, gzip.compress(csv.encode()))
    assert frame.at[0, EVENT_HOUR_COLUMN] == 4
    assert list(frame.columns)[-1] == EVENT_HOUR_COLUMN


def test_line_numbers_follow_quoted_newlines():
    header = "product_id,title,price,description,category,image,rating_rate,rating_count,dt\n"
    csv = header + (
        '1,Bag,9.99,"two\nlines",jewelery,https://x.test/1.jpg,3.9,10,2026-01-03\n'
        "2,Ring,5.00,one line,jewelery,https://x.test/2.jpg,4.1,5,2026-01-03\n"
    )
    frame = read_partition_frame(PRODUCTS, csv.encode())
    assert frame.at[0, "description"] == "two\nlines"
    assert [csv_line(frame, 0), csv_line(frame, 1)] == [2, 4]
    assert csv_line(frame, 5) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (ITEMS_HEADER.encode() + b"1,2,3\n", "line 2 has 3 fields, the header has 8"),
        (b"order_item_id,order_id\n1,2,3,4\n5,6,7,8\n", "line 2 has 4 fields"),
        (b"a,a\n1,2\n", r"repeats column\(s\) a"),
        (b"\x1f\x8bnot gzip at all", "does not decompress"),
        (b"title\n\xff\xfe\n", "not UTF-8"),
    ],
)
def test_unreadable_partitions_raise_a_clear_error(data, message):
    with pytest.raises(PartitionReadError, match=message):
        read_partition_frame(ORDER_ITEMS, data)


def test_blank_trailing_line_and_header_only_file_are_fine():
    frame = read_partition_frame(ORDER_ITEMS, (ITEMS_HEADER + "\n").encode())
    assert len(frame) == 0
    assert list(frame.columns) == expected_frame_columns(ORDER_ITEMS)
