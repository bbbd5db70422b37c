"""The catalogue: every sound manifest of a store in one small Parquet file.

``<root>/manifests/_catalog.parquet`` holds one row per snapshot: what ``list()`` shows and
``history()`` selects on as columns, and the whole manifest as JSON for everything else. A
reader so learns what exists with one read instead of one request per manifest (8,760 of
them after a year of hourly exports), and ``list()`` parses no JSON at all.

The manifests stay the truth. The catalogue is rewritten under the store's lock after every
change: after a save or clean from itself and a listing of ``manifests/`` (a manifest it
lacks, from a run killed between its manifest and the catalogue or an older version's save,
or whose size changed is read; one that is gone is dropped), after compact, prune and
migrate, which rewrite manifests in place, from every manifest. A reader on a local disk, where
listing a folder is cheap, does the same, so it sees exactly the manifests there are; a
reader on an object store trusts the catalogue (one GET) and catches up at the next write.

No filesystem access here: manifests and bytes in, Arrow tables and bytes out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .._schema import UTC_INSTANT

CATALOG_NAME = "_catalog.parquet"  # not *.json: a listing of manifests never meets it
CATALOG_VERSION = "1"
INDEX_SCHEMA = pa.schema(
    [
        ("snapshot_id", pa.string()),
        ("fetched_at", UTC_INSTANT),
        ("api_host", pa.string()),
        ("n_slots", pa.int64()),
        ("n_days", pa.int64()),
        ("n_errors", pa.int64()),
        ("services", pa.list_(pa.string())),
        ("locations", pa.list_(pa.string())),
        ("slots_path", pa.string()),  # relative to the root, as the manifest has it
        ("slots_bytes", pa.int64()),
        ("manifest_bytes", pa.int64()),  # the manifest file's size when it was read
        ("manifest", pa.string()),  # the manifest as JSON, without the reader's "paths"
    ],
    metadata={"zimun.catalog_version": CATALOG_VERSION},
)


def index_of(manifests: list[dict[str, Any]], sizes: dict[str, int]) -> pa.Table:
    """The catalogue rows of sound manifests; ``sizes`` are their files' sizes by snapshot id."""
    stored = [{k: v for k, v in m.items() if k != "paths"} for m in manifests]
    columns: dict[str, list[Any]] = {
        "snapshot_id": [m["snapshot_id"] for m in stored],
        "fetched_at": [m["fetched_at"] for m in stored],
        "api_host": [m["meta"].get("api_host") for m in stored],
        "n_slots": [m["files"]["slots"]["rows"] for m in stored],
        "n_days": [m["files"]["days"]["rows"] for m in stored],
        "n_errors": [m["files"]["errors"]["rows"] for m in stored],
        "services": [m["services"] for m in stored],
        "locations": [m["locations"] for m in stored],
        "slots_path": [m["files"]["slots"]["path"] for m in stored],
        "slots_bytes": [m["files"]["slots"]["bytes"] for m in stored],
        "manifest_bytes": [sizes.get(m["snapshot_id"], -1) for m in stored],
        "manifest": [json.dumps(m, separators=(",", ":"), default=str) for m in stored],
    }
    # ISO with an offset, checked when the manifest was read; Arrow's parser is stricter
    fetched = [datetime.fromisoformat(text).astimezone(UTC) for text in columns.pop("fetched_at")]
    table = pa.table(
        {
            "snapshot_id": columns.pop("snapshot_id"),
            "fetched_at": pa.array(fetched, UTC_INSTANT),
            **columns,
        }
    )
    return table.select(INDEX_SCHEMA.names).cast(INDEX_SCHEMA)


def catalog_bytes(index: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(index.cast(INDEX_SCHEMA), sink, compression="zstd")
    data: bytes = sink.getvalue().to_pybytes()
    return data


def read_catalog(data: bytes) -> pa.Table | None:
    """The catalogue's rows, or None if it is unreadable or of another version.

    None makes the reader fall back to the manifests themselves: a damaged catalogue costs
    speed, never a snapshot.
    """
    try:
        table = pq.read_table(pa.BufferReader(data))
        version = (table.schema.metadata or {}).get(b"zimun.catalog_version")
        if version != CATALOG_VERSION.encode():
            return None
        return table.select(INDEX_SCHEMA.names).cast(INDEX_SCHEMA)
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError):
        return None
