"""How one snapshot's tables become Parquet files, and how a history read is narrowed.

The file-level half of :mod:`.snapshots`: argument checks (snapshot ids, UTC bounds, id lists,
column projections), frame -> sorted Arrow table of a schema, Parquet bytes with zstd, small row
groups and ``zimun.*`` key-value metadata, and the predicate that ``history()`` pushes down.
No filesystem access here.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Iterable
from typing import Any, cast

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .._errors import InputError
from .._schema import (
    DAY_KEY,
    PAIR_KEY,
    SLOT_KEY,
    SLOTS,
    TABLES,
    UTC_INSTANT,
    Column,
    Table,
    empty_frame,
)

COMPRESSION = "zstd"
ROW_GROUP_ROWS = 4_096  # rows per Parquet row group: one service spans one or two, so
# history(services=...) skips the rest of each file by statistics (128k: 2.4x slower)
# A letter is required so that DuckDB's hive reader keeps the partition key a string: it would
# read an all-digit id as BIGINT (or a date-like one as DATE) and clash with the file's column.
_ID_PATTERN = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# A compacted day (1.2 M rows) in groups of this many: a footer 4x smaller than at 4,096 (it
# is read before any row), still about three services a group. One service of 16 days read
# in 44 ms at 16,384, 79 ms at 4,096, 55 ms at 32,768, 90 ms at 65,536.
COMPACTED_ROW_GROUP_ROWS = 16_384
# the columns history() and other engines filter on: only theirs carry statistics
_FILTERED = ["snapshot_id", "fetched_at", "service_id", "location_id", "slot_start", "local_date"]
_SORT_KEYS = {
    "slots": SLOT_KEY,
    "days": DAY_KEY,
    "errors": PAIR_KEY,
}

_COLUMNS = {c.name: c for c in SLOTS.columns}
LISTING = Table(
    "snapshots",
    (
        Column("snapshot_id", pa.string(), "id of the snapshot"),
        Column("fetched_at", UTC_INSTANT, "when the fetch started (UTC)"),
        Column("api_host", pa.string(), "the API host it came from"),
        Column("n_slots", pa.int32(), "rows of the slots table"),
        Column("n_days", pa.int32(), "rows of the days table"),
        Column("n_errors", pa.int32(), "rows of the errors table"),
        Column("services", pa.int32(), "number of distinct services with slots"),
        Column("complete", pa.bool_(), "True when no service/location failed"),
    ),
)


def utc_timestamp(value: Any, argument: str) -> pd.Timestamp:
    """A tz-aware datetime, Timestamp or ISO string as a UTC Timestamp; naive ones are refused."""
    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"cannot read {value!r} as a time", argument=argument, allowed="an ISO time"
        ) from exc
    if moment.tzinfo is None:
        raise InputError(
            f"{value!r} has no time zone",
            argument=argument,
            allowed="a tz-aware datetime or an ISO string with an offset, e.g. 2026-03-29T00:00Z",
        )
    return moment.tz_convert("UTC")


def as_list(value: str | Iterable[str] | None) -> list[str] | None:
    """None stays None; one id becomes a list of one (a str is not iterated char by char)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Iterable) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{value!r:.80} is not an id or a list of ids", allowed="strings")
    return list(value)


def check_id(snapshot_id: object) -> str:
    """The id itself if it can name a snapshot's files and partitions, else InputError."""
    if not isinstance(snapshot_id, str) or not _ID_PATTERN.fullmatch(snapshot_id):
        raise InputError(
            f"{snapshot_id!r} cannot name a snapshot",
            argument="snapshot_id",
            allowed="1-128 letters, digits, '.', '_' or '-', with a letter, starting with a letter "
            "or digit, e.g. 20260327T080000Z-3f2a",
        )
    return snapshot_id


def to_arrow_table(frame: pd.DataFrame | pa.Table, spec: Table, snapshot_id: str) -> pa.Table:
    """The table as a sorted Arrow table of ``spec``'s schema; other columns or ids refused.

    A frame is converted; an Arrow table (a fetch's, never read as a frame) is only checked.
    """
    names = frame.column_names if isinstance(frame, pa.Table) else list(frame.columns)
    extra = sorted(set(names) - set(spec.names))
    missing = [name for name in spec.names if name not in names]
    if extra or missing:
        raise InputError(
            f"the {spec.name} frame has extra columns {extra} and lacks {missing}; "
            "only the schema's columns are stored (never customer contact fields)",
            argument=spec.name,
            allowed=f"exactly the columns {spec.names}",
        )
    if isinstance(frame, pa.Table):
        table = frame.select(spec.names).cast(spec.arrow_schema)
    else:
        table = pa.Table.from_pandas(frame[spec.names], preserve_index=False)
        table = table.cast(spec.arrow_schema)
    ids = pc.unique(table["snapshot_id"])
    if table["snapshot_id"].null_count or not set(ids.to_pylist()) <= {snapshot_id}:
        others = sorted(str(i) for i in ids.drop_null().to_pylist() if i != snapshot_id)
        raise InputError(
            f"the {spec.name} frame has rows of snapshots {others} (or none), "
            f"not of meta['snapshot_id'] {snapshot_id!r}"
        )
    return table.sort_by([(k, "ascending") for k in _SORT_KEYS[spec.name]])


@functools.cache
def _pandas_metadata(spec: Table) -> bytes:
    """Pandas' own key of the table's dtypes, so plain pandas and Dask read the frames we do.

    Without it, an integer column with nulls reads as float64 in pandas (and in Dask's
    partitions, while Dask's metadata says int16); with it, as the nullable ``Int16``.
    """
    schema = pa.Schema.from_pandas(empty_frame(spec), preserve_index=False)
    return cast(bytes, schema.metadata[b"pandas"])


def parquet_bytes(table: pa.Table, name: str, meta: dict[str, Any]) -> bytes:
    """Parquet with zstd and row groups small enough to prune, with zimun.* key-value pairs.

    The pairs (``schema_version``, ``snapshot_id``, ``table``, ``parameters``) come from the
    snapshot's meta, as the manifest's do, so a file read alone says what it is.
    """
    metadata = {
        "schema_version": meta["schema_version"],
        "snapshot_id": meta["snapshot_id"],
        "table": name,
        "parameters": json.dumps(meta.get("parameters", {}), default=str),
    }
    pairs: dict[str | bytes, str | bytes] = {f"zimun.{k}": v for k, v in metadata.items()}
    pairs[b"pandas"] = _pandas_metadata(TABLES[name])
    table = table.replace_schema_metadata(pairs)
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression=COMPRESSION,
        row_group_size=ROW_GROUP_ROWS,
        write_page_checksum=True,  # a reader then finds a page changed on disk (CRC32)
        write_statistics=_FILTERED,  # min/max where readers filter: footers 4x smaller
    )
    data: bytes = sink.getvalue().to_pybytes()
    return data


def compacted_bytes(parts: list[pa.Table], name: str, snapshot_ids: list[str]) -> bytes:
    """Several snapshots' tables as one Parquet file, sorted service first.

    One service's rows of every snapshot of the day then lie together, in a row group or
    two, so ``history(services=[one])`` decodes little more than what it returns; readers
    put rows back in fetch order. The footer names every snapshot it holds
    (``zimun.snapshot_ids``), in fetch order.
    """
    spec = TABLES[name]
    order = {snapshot_id: i for i, snapshot_id in enumerate(snapshot_ids)}
    table = pa.concat_tables(part.cast(spec.arrow_schema) for part in parts)
    fetch_order = pa.array([order[i] for i in table["snapshot_id"].to_pylist()], pa.int32())
    keys = [k for k in _SORT_KEYS[name] if k != "snapshot_id"]
    ranked = table.append_column("_order", fetch_order)
    ranked = ranked.sort_by(
        [(keys[0], "ascending"), ("_order", "ascending")] + [(k, "ascending") for k in keys[1:]]
    )
    table = ranked.drop_columns(["_order"]).replace_schema_metadata(
        {
            b"pandas": _pandas_metadata(spec),
            b"zimun.table": name.encode(),
            b"zimun.snapshot_ids": ",".join(snapshot_ids).encode(),
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression=COMPRESSION,
        row_group_size=COMPACTED_ROW_GROUP_ROWS,
        write_page_checksum=True,
        write_statistics=_FILTERED,  # min/max where readers filter: footers 4x smaller
    )
    data: bytes = sink.getvalue().to_pybytes()
    return data


def projection(columns: Iterable[str] | None) -> Table:
    """The slots columns ``history(columns=...)`` asks for, as a Table spec, checked."""
    if columns is None:
        return SLOTS
    names = as_list(columns) or []
    unknown = [name for name in names if name not in _COLUMNS]
    if len(set(names)) != len(names):
        raise InputError(f"columns {names} name one twice", argument="columns")
    if unknown or not names:
        raise InputError(
            f"unknown or no columns {unknown}", argument="columns", allowed=str(SLOTS.names)
        )
    return Table("slots", tuple(_COLUMNS[name] for name in names))


def instant_bound(moment: pd.Timestamp) -> pa.Scalar:
    """A bound as a microsecond instant that compares as ``moment`` does with stored ones.

    Stored instants are whole microseconds, so ``x >= t`` and ``x < t`` hold exactly when
    they hold for ``t`` rounded up (down would admit a snapshot just before the bound).
    """
    return pa.scalar(moment.ceil("us").to_pydatetime(), UTC_INSTANT)


def history_filter(
    lo: pd.Timestamp | None,
    hi: pd.Timestamp | None,
    services: list[str] | None,
    locations: list[str] | None,
) -> pc.Expression | None:
    """The pushed-down predicate on fetched_at, service_id and location_id."""
    parts = []
    if lo is not None:
        parts.append(pc.field("fetched_at") >= instant_bound(lo))
    if hi is not None:
        parts.append(pc.field("fetched_at") < instant_bound(hi))
    if services is not None:
        parts.append(pc.field("service_id").isin(services))
    if locations is not None:
        parts.append(pc.field("location_id").isin(locations))
    return functools.reduce(operator.and_, parts) if parts else None
