"""A store of availability snapshots as Parquet folders that any engine reads as they are.

Layout under ``root`` (a local folder or an fsspec URL such as ``s3://bucket/zimun``)::

    slots/<id>.parquet        one file per table per snapshot, zstd; the id is a column inside
    days/<id>.parquet
    errors/<id>.parquet
    manifests/<id>.json       written last: the snapshot exists once this does
    _staging/<id>-<run>/      a local save's files until they are committed (engines skip _*)
    .lock                     while an export holds the store

A table folder is a plain Parquet dataset: no ``key=value`` folder names, so pandas
(``read_parquet("<root>/slots")``), Polars, DuckDB, pyarrow, Dask and Spark read the same
columns and types with no options, and no partition key clashes with the file's own
``snapshot_id`` column. A save encodes every file first; on a local disk it writes them
under ``_staging/`` (which no engine looks into) and commits each with one rename, on an
object store with one PUT each, ``slots`` last, then the manifest. A run killed before its
commit leaves nothing in the table folders; one killed between the renames or PUTs leaves
files no manifest names, which :meth:`SnapshotStore.clean` (run by every ``snapshot``
command) deletes. Stores of the earlier ``slots/snapshot_id=<id>/part-0.parquet`` layout
stay readable through their manifests; :meth:`SnapshotStore.migrate` moves them.

Credentials written into the URL (``s3://KEY:SECRET@bucket/x``) never appear in the store's
repr, its notebook view or its error messages: they show as ``***``.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import html
import json
import os
import re
import threading
import uuid
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from .._errors import (
    ConfigError,
    DamagedSnapshotWarning,
    InputError,
    SnapshotError,
    ZimunError,
)
from .._schema import (
    SCHEMA_VERSION,
    SLOT_KEY,
    SLOTS,
    TABLES,
    AvailabilitySnapshot,
    empty_frame,
    frame_from_arrow,
)
from ._catalog import CATALOG_NAME, INDEX_SCHEMA, catalog_bytes, index_of, read_catalog
from ._files import (
    LISTING,
    as_list,
    check_id,
    compacted_bytes,
    history_filter,
    instant_bound,
    parquet_bytes,
    projection,
    to_arrow_table,
    utc_timestamp,
)
from ._lock import StoreLock

MANIFEST_VERSION = 1
_LAYOUT = {"slots", "days", "errors", "manifests", "_staging", ".lock"}
# Parquet read with each page's CRC32 checked (files are written with them): a flipped bit
# is an error there, so a file damaged inside at its size is found, never read as other rows
_CHECKED_PARQUET = ds.ParquetFileFormat(
    default_fragment_scan_options=ds.ParquetFragmentScanOptions(page_checksum_verification=True)
)
_FETCH_ORDER = ["fetched_at", "snapshot_id", *SLOT_KEY]  # the order history() gives rows in
_STAGING = "_staging"  # a leading "_": pyarrow, Dask, Spark and Polars' folder scans skip it
_COMMIT_ORDER = ("days", "errors", "slots")  # slots, the table engines read, appears last
_COMPACTED = re.compile(r"\d{4}-\d{2}-\d{2}-c[0-9a-f]{12}\.parquet")  # <day>-c<hash>.parquet
_LEGACY_FOLDER = "snapshot_id="  # the layout before: slots/snapshot_id=<id>/part-0.parquet
# Greedy up to the last "@": a raw secret may hold "@" or "/" (AWS secret keys do).
_USERINFO = re.compile(r"://(\S*)@")
_PROBLEM_CHARS = 300  # a damaged store's notebook view says what is wrong in one short line


_OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "oss"}
_SECRET_WORDS = ("key", "secret", "token", "password", "credential")


def _secret_values(options: dict[str, Any]) -> tuple[str, ...]:
    """The values of storage options whose key names a secret, nested ones too."""
    found: builtins.list[str] = []
    for name, value in options.items():
        if isinstance(value, dict):
            found += _secret_values(value)
        elif any(word in name.lower() for word in _SECRET_WORDS) and value:
            found.append(str(value))
    return tuple(found)


def secrets_in(url: str, storage_options: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The credentials a store URL and its storage options carry, longest first.

    What a store shows as ``***``: the ``user:password`` of each ``scheme://user:password@``
    in the URL, and the values of storage options whose key names a secret (key, secret,
    token, password, credential), nested ones too. The CLI redacts its messages with them.
    """
    found = _userinfo(url) + _secret_values(storage_options or {})
    return tuple(sorted(set(found), key=len, reverse=True))


def _userinfo(url: str) -> tuple[str, ...]:
    """The ``user:password`` part of each ``scheme://user:password@`` in ``url``."""
    return tuple(info for info in _USERINFO.findall(url) if info)


def _snapshot_of_file(path: str) -> str:
    """The snapshot id a table file belongs to, by its name (either layout)."""
    name = path.rsplit("/", 1)[-1]
    if name == "part-0.parquet" or name.startswith("part-"):
        folder = path.rsplit("/", 2)[-2]
        return folder.removeprefix(_LEGACY_FOLDER)
    return name.removesuffix(".parquet")


def _is_own_path(path: object, table: str, snapshot_id: str) -> bool:
    """Whether a manifest may give ``path`` as its table's file.

    Its own file (this layout's or the earlier one's), or a compacted file of its table
    (``<table>/<day>-c<hash>.parquet``).
    """
    if not isinstance(path, str):
        return False
    own = (
        f"{table}/{snapshot_id}.parquet",
        f"{table}/{_LEGACY_FOLDER}{snapshot_id}/part-0.parquet",
    )
    return path in own or bool(_COMPACTED.fullmatch(path.removeprefix(f"{table}/")))


def _is_count(value: object) -> bool:
    """A row or byte count: a whole number an int64 holds, not a bool."""
    return type(value) is int and 0 <= value < 2**63


def _write_synced(path: str, data: bytes) -> None:
    """Write a local file and sync it to disk before anything is renamed onto it."""
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _replace_file(path: str, data: bytes) -> None:
    """Replace a local file so that readers see all of the old or all of the new one."""
    temp = f"{path}.{uuid.uuid4().hex}.tmp"  # not *.json: never listed as a manifest
    _write_synced(temp, data)
    os.replace(temp, path)


def _lists_meet(lists: pa.ChunkedArray, wanted: builtins.list[str]) -> pa.Array:
    """Per row, whether its list holds any of ``wanted`` (a snapshot's services, say)."""
    flat = lists.combine_chunks()
    hits = pc.is_in(pc.list_flatten(flat), pa.array(wanted, pa.string()))
    rows = pc.list_parent_indices(flat).filter(hits)
    meet = np.zeros(len(flat), dtype=bool)
    meet[np.unique(rows.to_numpy())] = True
    return pa.array(meet)


def _fetched_at(manifest: dict[str, Any]) -> datetime:
    """The manifest's fetch time, UTC (datetime's parser: 30x pandas', once per manifest)."""
    return datetime.fromisoformat(manifest["fetched_at"]).astimezone(UTC)


def _size(n_bytes: int) -> str:
    """``1,234,567 bytes (1.2 MiB)``."""
    value, unit = float(n_bytes), "bytes"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{n_bytes:,} bytes" if unit == "bytes" else f"{n_bytes:,} bytes ({value:.1f} {unit})"


class SnapshotStore:
    """Parquet snapshots under a local folder or an fsspec URL.

    Parameters
    ----------
    root : str or os.PathLike
        ``"data/"``, ``"file:///srv/zimun"``, ``"memory://zimun"``, ``"s3://bucket/zimun"``, ...
    storage_options : dict or None
        Passed to fsspec: an object store's endpoint and credentials, for instance
        ``{"endpoint_url": "http://127.0.0.1:9000", "key": ..., "secret": ...}`` for s3fs.
        Values under keys naming a secret (key, secret, token, password, credential) never
        appear in the store's repr or messages.

    On an object store (``s3://``, ``gs://``, ``az://``, ...) the bucket must exist: a store
    never creates one, so a mistyped bucket is an error, not a new bucket. The lock and each
    manifest are created with a conditional PUT (``If-None-Match``) where the store supports
    it, so two writers cannot both take the lock or both commit one snapshot id.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "data/",
        *,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = os.fspath(root)
        self._secrets = secrets_in(self.url, storage_options)
        self._shown_url = self._redact(self.url)
        self.fs, path = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        self.root = path.rstrip("/") or "/"
        self._local = isinstance(self.fs, LocalFileSystem)
        protocols = {self.fs.protocol} if isinstance(self.fs.protocol, str) else self.fs.protocol
        self._bucket = self.root.split("/")[0] if set(protocols) & _OBJECT_STORES else None
        self._bucket_seen = False
        self._arrow_fs = (
            pafs.LocalFileSystem()
            if self._local
            else pafs.PyFileSystem(pafs.FSSpecHandler(self.fs))
        )
        self._lock = StoreLock(self.fs, self.root, local=self._local, folders=self._bucket is None)
        self._lock_depth = 0
        self._threads = threading.RLock()  # threads sharing this store take turns

    def __repr__(self) -> str:
        # No I/O: a repr must be instant, even for a store across the network.
        return f"SnapshotStore({self._shown_url!r})"

    def _repr_html_(self) -> str:
        """A summary for notebooks, read from the manifests; it never raises.

        The root, how many snapshots, their rows and bytes on disk, the first and last fetch,
        and how many are incomplete; an empty store says so, a damaged one says what is wrong.
        """
        try:
            rows = self._summary()
        # a notebook cell ending in `store` must never traceback: storage and manifest faults
        except (ZimunError, OSError, ValueError, KeyError, TypeError) as exc:
            rows = {"root": self._shown_url, "problem": f"{type(exc).__name__}: {exc}"}
        if "problem" in rows:
            problem = self._redact(rows["problem"]).splitlines()[0]
            if len(problem) > _PROBLEM_CHARS:
                problem = problem[: _PROBLEM_CHARS - 1] + "\N{HORIZONTAL ELLIPSIS}"
            rows["problem"] = problem
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td>{html.escape(str(value))}</td></tr>"
            for name, value in rows.items()
        )
        return f"<table><caption>SnapshotStore</caption>{cells}</table>"

    def _summary(self) -> dict[str, str]:
        """The rows of the notebook view, from what the manifests record."""
        manifests, damaged = self._read_manifests()
        rows = {"root": self._shown_url}
        if damaged:  # said first, in one short line: the rest is what the sound ones hold
            said = str(next(iter(damaged.values())))
            more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
            rows["problem"] = f"left out: {said}{more}"
        if not manifests:
            return rows if damaged else rows | {"snapshots": "0: empty, no snapshot saved here yet"}
        # By instant, not by the listing's order, which compares the ISO strings: within one
        # second, "08:00:00.5Z" sorts before "08:00:00Z".
        by_time = sorted(manifests, key=_fetched_at)
        first, last = _fetched_at(by_time[0]), _fetched_at(by_time[-1])
        n_bytes = sum(entry["bytes"] for m in manifests for entry in m["files"].values())
        incomplete = sum(m["files"]["errors"]["rows"] > 0 for m in manifests)

        def total_rows(table: str) -> int:
            return sum(int(m["files"][table]["rows"]) for m in manifests)

        return rows | {
            "snapshots": f"{len(manifests):,}",
            "slots (rows)": f"{total_rows('slots'):,}",
            "days (rows)": f"{total_rows('days'):,}",
            "size on disk": _size(n_bytes),
            "first fetched_at (UTC)": first.strftime("%Y-%m-%d %H:%M:%S"),
            "last fetched_at (UTC)": last.strftime("%Y-%m-%d %H:%M:%S"),
            "latest snapshot": by_time[-1]["snapshot_id"],
            "incomplete (failed services)": f"{incomplete:,}",
        }

    def _redact(self, text: str) -> str:
        """``text`` with the URL's credentials as ``***`` (the fs paths carry them too)."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def _table_path(self, table: str, snapshot_id: str) -> str:
        return self._path(table, f"{snapshot_id}.parquet")

    def _relative(self, path: str) -> str:
        return path[len(self.root.rstrip("/")) + 1 :]

    def _manifest_path(self, snapshot_id: str) -> str:
        return self._path("manifests", f"{snapshot_id}.json")

    # -- writing ---------------------------------------------------------------------------

    def save(self, snapshot: AvailabilitySnapshot) -> str:
        """Store a snapshot: its three tables, then the manifest that makes it visible.

        Takes the store's lock for the duration (re-entrant inside :meth:`lock`).

        Parameters
        ----------
        snapshot : AvailabilitySnapshot
            Frames with exactly the columns of ``schema.SLOTS``/``DAYS``/``ERRORS``; ``meta``
            with at least ``snapshot_id`` and a tz-aware ISO ``fetched_at``.

        Returns
        -------
        str
            The snapshot id. Raises SnapshotError if the id is already stored (snapshots are
            immutable) or the root is not a store, InputError if a frame has other columns
            than the schema's or the meta is unusable.
        """
        meta = dict(snapshot.meta)
        snapshot_id = check_id(meta.get("snapshot_id"))
        fetched_at = utc_timestamp(meta.get("fetched_at"), "meta['fetched_at']")
        tables = {
            name: to_arrow_table(snapshot.held(name), spec, snapshot_id)
            for name, spec in TABLES.items()
        }
        with self.lock():
            self._check_root()
            if self.fs.exists(self._manifest_path(snapshot_id)):
                raise SnapshotError(
                    f"snapshot {snapshot_id!r} is already in {self._shown_url}; snapshots are "
                    "immutable: save the new fetch under a new id"
                )
            # what is stored is what the counts and version describe: a selected or hand-made
            # snapshot gets its own; what only the fetch knows (its calls) is kept
            meta["counts"] = dict(meta.get("counts") or {}) | {
                name: t.num_rows for name, t in tables.items()
            }
            meta["schema_version"] = SCHEMA_VERSION  # the tables were cast to this schema
            encoded = {name: parquet_bytes(t, name, meta) for name, t in tables.items()}
            files = self._commit_files(snapshot_id, encoded)
            self._put_manifest(self._manifest(meta, fetched_at, tables, files))
            self._write_catalog()
        return snapshot_id

    def _check_root(self) -> None:
        """Refuse to start a store in a file or in a folder holding things that are not a store.

        A folder that already is a store (it has ``manifests/``) may hold other things beside
        it, such as the ``reports/`` an export writes next to its snapshots.
        """
        if not self.fs.exists(self.root):
            return
        if not self.fs.isdir(self.root):
            raise SnapshotError(f"{self._shown_url} is a file, not a snapshot store: pass a folder")
        names = {p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(self.root, detail=False)}
        if "manifests" in names:
            return
        foreign = sorted(n for n in names - _LAYOUT if not n.startswith("."))
        if foreign:
            raise SnapshotError(
                f"{self._shown_url} holds {foreign}, which are not part of a snapshot store; "
                "pass a new or empty folder, or an existing store"
            )

    def _commit_files(
        self, snapshot_id: str, encoded: dict[str, bytes], finals: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Put each table's file in place, ``slots`` last; return their manifest entries.

        Locally the files are written and synced under ``_staging/`` first and each is
        committed by one rename, so no table folder ever holds a partial file; an object store
        shows each object whole or not at all, so one PUT each does the same there. The files
        go to ``<table>/<snapshot_id>.parquet`` unless ``finals`` names them.
        """
        if finals is None:
            finals = {name: self._table_path(name, snapshot_id) for name in _COMMIT_ORDER}
        if self._bucket is None:  # on an object store makedirs could create a bucket
            for final in finals.values():
                self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        if self._local:
            staging = self._path(_STAGING, f"{snapshot_id}-{uuid.uuid4().hex[:12]}")
            os.makedirs(staging, exist_ok=True)
            staged = {name: f"{staging}/{name}.parquet" for name in _COMMIT_ORDER}
            for name, path in staged.items():
                _write_synced(path, encoded[name])
            for name in _COMMIT_ORDER:
                os.replace(staged[name], finals[name])
            os.rmdir(staging)
            with contextlib.suppress(OSError):  # left by a killed run: clean() empties it
                os.rmdir(self._path(_STAGING))
        else:
            for name in _COMMIT_ORDER:
                self.fs.pipe_file(finals[name], encoded[name])
        return {
            name: {
                "path": self._relative(finals[name]),
                "rows": pq.read_metadata(pa.BufferReader(encoded[name])).num_rows,
                "bytes": len(encoded[name]),
                "sha256": hashlib.sha256(encoded[name]).hexdigest(),
            }
            for name in TABLES
        }

    @staticmethod
    def _manifest(
        meta: dict[str, Any],
        fetched_at: pd.Timestamp,
        tables: dict[str, pa.Table],
        files: dict[str, Any],
    ) -> dict[str, Any]:
        slots = tables["slots"]
        return {
            "manifest_version": MANIFEST_VERSION,
            "snapshot_id": meta["snapshot_id"],
            "fetched_at": fetched_at.isoformat().replace("+00:00", "Z"),
            "schema_version": meta["schema_version"],
            "services": sorted(pc.unique(slots["service_id"]).drop_null().to_pylist()),
            "locations": sorted(pc.unique(slots["location_id"]).drop_null().to_pylist()),
            "files": files,
            "meta": meta,
        }

    def _put_manifest(self, manifest: dict[str, Any], *, replace: bool = False) -> None:
        """Write the manifest so that readers see all of it or nothing.

        On an object store a new one is created only if none is there (``replace`` rewrites).
        """
        path = self._manifest_path(manifest["snapshot_id"])
        data = json.dumps(manifest, indent=2, default=str).encode()
        if self._bucket is None:
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        if not self._local:  # one PUT: object stores show the whole object or none
            if replace:
                self.fs.pipe_file(path, data)
            else:
                self._put_once(path, data)
            return
        _replace_file(path, data)

    def _put_once(self, path: str, data: bytes) -> None:
        """PUT a new manifest only if there is none (If-None-Match where the store has it).

        A second writer of the same id then fails instead of replacing the first one's
        manifest; a rewrite (:meth:`migrate`) replaces it on purpose, so it checks nothing.
        """
        try:
            self.fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            raise SnapshotError(
                f"snapshot {path.rsplit('/', 1)[-1].removesuffix('.json')!r} was committed by "
                "another writer meanwhile; snapshots are immutable"
            ) from None
        except TypeError:  # a filesystem without mode=: one PUT, unconditional
            self.fs.pipe_file(path, data)

    def clean(self) -> builtins.list[str]:
        """Delete what runs killed mid-save left behind: files no manifest names.

        That is everything under ``_staging/``, and table files (of this layout or the
        earlier one) that no manifest names: such files are never read by this class, but they
        take space and outside engines reading a table folder would see them. Takes the
        store's lock, so a running export's files are never touched. The ``snapshot`` command
        runs this after each save.

        Returns
        -------
        list of str
            The removed paths, relative to the root.
        """
        with self.lock():
            manifests, _ = self._read_manifests(listing=True)
            named = {path for m in manifests for path in m["paths"].values()}
            # compacted files are shared and renamed in place: only compact() and prune(), which
            # read every manifest, may judge one unnamed
            files = self._table_files()  # one listing of the table folders
            named |= {path for path in files if _COMPACTED.search(path)}
            if self._has("manifests") and not self.fs.isdir(self._path("manifests")):
                raise SnapshotError(
                    f"{self._shown_url}: manifests is a file, not the folder of manifests; "
                    "nothing was cleaned"
                )
            # a file whose snapshot has a manifest, sound or not, is never deleted: the
            # manifest may be restored, or name the file's earlier path (a stopped migrate)
            ids = {
                path.rsplit("/", 1)[-1].removesuffix(".json")
                for path in self.fs.glob(self._path("manifests", "*.json"))
            }
            found = [path for path in files if _snapshot_of_file(path) not in ids]
            if not ids and len({_snapshot_of_file(path) for path in found}) > 1:
                raise SnapshotError(
                    f"{self._shown_url} has table files of several snapshots but no manifest at "
                    "all: the manifests were lost or moved, not left by a killed run; nothing "
                    "was cleaned (restore manifests/ first)"
                )
            found += self.fs.glob(self._path("manifests", "*.tmp"))  # a killed os.replace
            orphans = sorted(path for path in found if path not in named)
            staged = self.fs.find(self._path(_STAGING)) if self._has(_STAGING) else []
            for path in orphans:
                self.fs.rm(path)
            if staged:
                self.fs.rm(self._path(_STAGING), recursive=True)
            self._remove_bare_legacy_folders()
            if self._has("manifests"):
                self._write_catalog()
        return [self._relative(path) for path in sorted(orphans + staged)]

    def _has(self, *parts: str) -> bool:
        return bool(self.fs.exists(self._path(*parts)))

    def _table_files(self) -> builtins.list[str]:
        """Every Parquet file in the table folders, of this layout and of the earlier one."""
        found: builtins.list[str] = []
        for table in TABLES:
            found += self.fs.glob(self._path(table, "*.parquet"))
            found += self.fs.glob(self._path(table, f"{_LEGACY_FOLDER}*", "*"))
        return found

    def _remove_bare_legacy_folders(self) -> None:
        for table in TABLES:  # folders of the earlier layout left empty
            for folder in self.fs.glob(self._path(table, f"{_LEGACY_FOLDER}*")):
                if not self.fs.ls(folder, detail=False):
                    self.fs.rmdir(folder)

    def migrate(self) -> builtins.list[str]:
        """Rewrite snapshots of the earlier layout (``slots/snapshot_id=<id>/part-0.parquet``).

        One snapshot at a time, under the store's lock: its files are checked against the
        manifest (sha256), rewritten as ``<table>/<id>.parquet`` with what files carry now
        (pandas' dtypes among them, so plain pandas reads them as the store does), committed as
        a save commits, then the manifest is rewritten to name them, and only then are the old
        files deleted. A run stopped anywhere leaves every snapshot readable through its
        manifest, and a rerun carries on. A snapshot whose old files are damaged is left as it
        is, with a DamagedSnapshotWarning.

        Returns
        -------
        list of str
            The ids of the snapshots rewritten (none if the store is in the current layout).
        """
        moved = []
        with self.lock():
            for manifest in self._manifests(listing=True):
                if not any(f"/{_LEGACY_FOLDER}" in path for path in manifest["paths"].values()):
                    continue
                snapshot_id = manifest["snapshot_id"]
                try:
                    tables = {name: self._read_table(manifest, name) for name in TABLES}
                except SnapshotError as problem:
                    self._report(problem, strict=False)
                    continue
                meta = manifest["meta"] | {"schema_version": SCHEMA_VERSION}
                encoded = {name: parquet_bytes(t, name, meta) for name, t in tables.items()}
                old = builtins.list(manifest["paths"].values())
                manifest["files"] = self._commit_files(snapshot_id, encoded)
                self._put_manifest(
                    {k: v for k, v in manifest.items() if k != "paths"}, replace=True
                )
                for path in old:
                    if f"/{_LEGACY_FOLDER}" in path and self.fs.exists(path):
                        self.fs.rm(path)
                moved.append(snapshot_id)
            self._remove_bare_legacy_folders()
            if moved:
                self._write_catalog(every=True)
        return moved

    # -- years of snapshots ------------------------------------------------------------------

    def compact(self, before: Any = None) -> pd.DataFrame:
        """Merge each UTC day of snapshots fetched before ``before`` into one file per table.

        An hourly export makes 24 files a day per table; after this, one. No row and no
        snapshot identity is lost: each snapshot keeps its manifest, which now names the day's
        file (and its own row count), and reads back exactly as before (:meth:`load`,
        :meth:`history`, ``store.verify()``). Each snapshot's rows stay in row groups of their
        own, in fetch order, so filters on a service or a snapshot still skip the rest. Safe
        to stop: the day's file is committed before any manifest names it, and the files it
        replaces are deleted only after every manifest was rewritten; a rerun finishes it.

        Parameters
        ----------
        before : datetime, pandas.Timestamp, str or None
            Only days that ended by then (tz-aware); default: the start of today, UTC.

        Returns
        -------
        pandas.DataFrame
            One row per day compacted: ``day``, ``snapshots``, ``files`` (the day's new
            files, relative to the root).
        """
        cutoff = (
            pd.Timestamp.now(tz="UTC").floor("D")
            if before is None
            else utc_timestamp(before, "before")
        )
        done = []
        with self.lock():
            days: dict[str, builtins.list[dict[str, Any]]] = {}
            for manifest in self._manifests(listing=True):
                fetched = _fetched_at(manifest)
                day_end = pd.Timestamp(fetched.date(), tz="UTC") + pd.Timedelta(days=1)
                if day_end <= cutoff:
                    days.setdefault(fetched.date().isoformat(), []).append(manifest)
            for day, group in sorted(days.items()):
                paths = {m["paths"]["slots"] for m in group}
                if len(group) < 2 and not any(_COMPACTED.search(p) for p in paths):
                    continue
                if len(paths) == 1 and _COMPACTED.search(next(iter(paths))):
                    continue  # compacted already
                files = self._compact_group(day, group)
                done.append({"day": day, "snapshots": len(group), "files": files})
            if done:
                self._rewrite_catalog_and_delete_unnamed()
        return pd.DataFrame(done, columns=["day", "snapshots", "files"])

    def _compact_group(self, day: str, group: builtins.list[dict[str, Any]]) -> builtins.list[str]:
        """Write the group's tables as one file each, then point every manifest at them."""
        ids = [m["snapshot_id"] for m in group]
        digest = hashlib.sha256(",".join(ids).encode()).hexdigest()[:12]
        finals = {name: self._path(name, f"{day}-c{digest}.parquet") for name in _COMMIT_ORDER}
        encoded, rows = {}, {}
        for name in TABLES:
            read: dict[str, pa.Table] = {}  # a compacted day's file: read once for all
            parts = [self._read_table(m, name, read) for m in group]  # checked against sha256
            rows[name] = [len(part) for part in parts]
            encoded[name] = compacted_bytes(parts, name, ids)
        entries = self._commit_files(day, encoded, finals)
        for manifest, position in zip(group, range(len(group)), strict=True):
            manifest["files"] = {
                name: entries[name] | {"rows": rows[name][position], "file_rows": sum(rows[name])}
                for name in TABLES
            }
            self._put_manifest({k: v for k, v in manifest.items() if k != "paths"}, replace=True)
            manifest["paths"] = {name: finals[name] for name in TABLES}
        return [self._relative(finals[name]) for name in TABLES]

    def _rewrite_catalog_and_delete_unnamed(self) -> None:
        """After compact or prune: the catalogue from every manifest, then unnamed files.

        A file goes when no sound manifest names it any more. Nothing is deleted while a
        manifest is damaged: it may name a file this cannot see.
        """
        index, damaged = self._write_catalog(every=True)  # it deletes: read the truth
        if damaged:
            return
        named = {
            self._path(entry["path"])
            for text in index.column("manifest").to_pylist()
            for entry in json.loads(text)["files"].values()
        }
        for path in self._table_files():
            if path not in named:
                self.fs.rm(path)

    def prune(self, before: Any = None, *, keep_last: int | None = None) -> builtins.list[str]:
        """Delete old snapshots: those fetched before ``before``, or all but the newest few.

        Each manifest goes first (the snapshot is gone for every reader at once), then the
        catalogue, then files no manifest names. A compacted day that keeps some of its
        snapshots is rewritten without the others, so no engine reading the folders sees
        pruned rows.

        Parameters
        ----------
        before : datetime, pandas.Timestamp, str or None
            Delete snapshots fetched before this instant (tz-aware).
        keep_last : int or None
            Or: keep only this many of the newest snapshots (0 deletes all).

        Returns
        -------
        list of str
            The ids deleted, oldest first.
        """
        if (before is None) == (keep_last is None):
            raise InputError("give before=... or keep_last=..., one of them", argument="prune")
        if keep_last is not None and (
            isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 0
        ):
            raise InputError(f"{keep_last!r}", argument="keep_last", allowed="a count >= 0")
        cutoff = None if before is None else utc_timestamp(before, "before")
        with self.lock():
            manifests = self._manifests(listing=True)
            if cutoff is not None:
                gone = [m for m in manifests if _fetched_at(m) < cutoff]
            else:
                gone = manifests[: max(0, len(manifests) - (keep_last or 0))]
            ids = {m["snapshot_id"] for m in gone}
            for manifest in gone:
                self.fs.rm(self._manifest_path(manifest["snapshot_id"]))
            kept = [m for m in manifests if m["snapshot_id"] not in ids]
            shrunk = {m["paths"]["slots"] for m in gone} & {m["paths"]["slots"] for m in kept}
            for path in sorted(shrunk):  # a compacted day losing some: rewritten without them
                group = [m for m in kept if m["paths"]["slots"] == path]
                self._compact_group(_fetched_at(group[0]).date().isoformat(), group)
            self._rewrite_catalog_and_delete_unnamed()
        return [m["snapshot_id"] for m in gone]

    # -- the lock --------------------------------------------------------------------------

    @contextmanager
    def lock(self, lease_s: float | None = None) -> Iterator[None]:
        """Hold the store's writer lock, ``<root>/.lock``, for the ``with`` block.

        Re-entrant within one store object and thread; other threads of this process using the
        same store object wait for it (another object of the same root is refused, as another
        process is). A stale lock is taken over: empty or garbled, or
        its owner gone (a dead pid of this host, a pid reused by another process, an earlier
        boot), or an owner this host cannot check (another host) older than its lease. On
        local disks creating and taking over are atomic; on object stores creating is atomic
        where fsspec can write conditionally, and taking over is best effort
        (:mod:`zimun_analytics.store._lock`).

        Parameters
        ----------
        lease_s
            How long other hosts should presume this hold alive; default
            ``STORE_LOCK_LEASE_S`` (1 hour). Give longer holds a longer lease.

        Raises
        ------
        SnapshotError
            Another live process holds the lock (the message names it and the file).
        """
        with self._threads:  # re-entrant for the thread holding it; other threads wait
            if not self._lock_depth:
                self._check_bucket()
            held = None if self._lock_depth else self._lock.acquire(lease_s)
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if held is not None:
                    self._lock.release(held)

    # -- reading ---------------------------------------------------------------------------

    def _manifests(
        self, strict: bool = False, *, listing: bool = False
    ) -> builtins.list[dict[str, Any]]:
        """Every sound manifest, sorted by fetched_at then id; the only source of what exists.

        A damaged one (not JSON, fields missing or of the wrong type, a bad ``fetched_at``,
        another schema version) is left out with a DamagedSnapshotWarning naming it, so one
        bad file never hides the others; ``strict`` raises its SnapshotError instead.
        """
        manifests, problems = self._read_manifests(listing=listing)
        for problem in problems.values():
            self._report(problem, strict)
        return manifests

    def _check_bucket(self) -> None:
        """Refuse an object store whose bucket does not exist (it is never created for you)."""
        if self._bucket is None or self._bucket_seen:
            return
        try:  # info, not exists: exists reads missing credentials as a missing bucket
            self.fs.info(self._bucket)
        except FileNotFoundError:
            raise ConfigError(
                f"bucket {self._bucket!r} of {self._shown_url} does not exist, or these "
                "credentials cannot see it: create it first (a store never creates a bucket)"
            ) from None
        self._bucket_seen = True

    def _read_manifests(
        self, *, every: bool = False, listing: bool = False
    ) -> tuple[builtins.list[dict[str, Any]], dict[str, SnapshotError]]:
        """The sound manifests as dicts, sorted, and the damaged ones' errors by snapshot id."""
        index, problems = self._index(every=every, listing=listing)
        manifests = [
            self._with_paths(json.loads(text)) for text in index.column("manifest").to_pylist()
        ]
        return manifests, problems

    def _index(
        self, *, every: bool = False, listing: bool = False
    ) -> tuple[pa.Table, dict[str, SnapshotError]]:
        """The catalogue rows of every sound manifest, sorted, and the damaged ones' errors.

        From the catalogue where there is one (:mod:`._catalog`): completed from a listing
        of ``manifests/`` on a local disk or with ``listing`` (a writer, under the lock), as
        it is on an object store (one GET). ``every`` reads every manifest itself, as
        :meth:`verify` does.
        """
        self._check_bucket()
        if self.fs.exists(self.root) and not self.fs.isdir(self.root):
            raise SnapshotError(f"{self._shown_url} is a file, not a snapshot store: pass a folder")
        if self._has("manifests") and not self.fs.isdir(self._path("manifests")):
            raise SnapshotError(
                f"{self._shown_url}: manifests is a file, not the folder of manifests"
            )
        catalogue = None if every else self._catalogue()
        if catalogue is not None and not (self._local or listing):
            return catalogue, {}
        folder = self._path("manifests")
        found = self.fs.find(folder, maxdepth=1, detail=True) if self._has("manifests") else {}
        listed = {
            path.rsplit("/", 1)[-1].removesuffix(".json"): (path, int(info["size"]))
            for path, info in found.items()
            if path.endswith(".json")
        }
        kept = INDEX_SCHEMA.empty_table() if catalogue is None else catalogue
        if catalogue is not None:  # rows whose manifest is there, unchanged in size
            sizes = pa.array([listed.get(i, ("", -2))[1] for i in kept["snapshot_id"].to_pylist()])
            kept = kept.filter(pc.equal(kept["manifest_bytes"], sizes))
        known = set(kept["snapshot_id"].to_pylist())
        unread = [path for snapshot_id, (path, _) in listed.items() if snapshot_id not in known]
        manifests, problems = [], {}
        for path, data in (self.fs.cat(unread) if unread else {}).items():
            snapshot_id = path.rsplit("/", 1)[-1].removesuffix(".json")
            try:
                manifests.append(self._parse_manifest(path, data))
            except SnapshotError as problem:
                problems[snapshot_id] = problem
        if manifests:
            sizes_by_id = {m["snapshot_id"]: listed[m["snapshot_id"]][1] for m in manifests}
            kept = pa.concat_tables([kept, index_of(manifests, sizes_by_id)])
        order = pc.sort_indices(kept, [("fetched_at", "ascending"), ("snapshot_id", "ascending")])
        return kept.take(order), problems

    def _catalogue(self) -> pa.Table | None:
        """The catalogue's rows; None when there is none or it cannot be read."""
        try:
            data = self.fs.cat_file(self._path("manifests", CATALOG_NAME))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return read_catalog(data)

    def _with_paths(self, manifest: dict[str, Any]) -> dict[str, Any]:
        manifest["paths"] = {name: self._path(manifest["files"][name]["path"]) for name in TABLES}
        return manifest

    def _write_catalog(self, *, every: bool = False) -> tuple[pa.Table, dict[str, SnapshotError]]:
        """Rewrite the catalogue (under the lock, after writes); return what it read.

        From itself and a listing of the manifests after a save (new manifests are read);
        from every manifest (``every``) after rewriting manifests in place, which a listing
        cannot tell from unchanged ones when their size stays the same.
        """
        index, damaged = self._index(listing=True, every=every)
        path = self._path("manifests", CATALOG_NAME)
        data = catalog_bytes(index)
        if self._local:
            os.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            _replace_file(path, data)
        else:
            self.fs.pipe_file(path, data)  # one PUT: whole or not at all
        return index, damaged

    def _report(self, problem: SnapshotError, strict: bool) -> None:
        if strict:
            raise problem
        warnings.warn(f"skipped: {problem}", DamagedSnapshotWarning, stacklevel=4)

    def _parse_manifest(self, path: str, data: bytes) -> dict[str, Any]:
        """A manifest checked field by field; anything off is a SnapshotError naming it.

        Its id must be its file's name, and each file it names must be its own table's file
        of that id (``<table>/<id>.parquet``, or the earlier ``<table>/snapshot_id=<id>/
        part-0.parquet``): a manifest pointing elsewhere is damaged, never followed.
        """
        shown = self._redact(path)
        named = path.rsplit("/", 1)[-1].removesuffix(".json")
        try:
            manifest = json.loads(data)
            if not isinstance(manifest, dict):
                raise TypeError("it is not a JSON object")
            snapshot_id = manifest["snapshot_id"]
            if snapshot_id != named:
                raise ValueError(f"it names snapshot {snapshot_id!r:.80}, not {named!r}")
            check_id(snapshot_id)
            for name in TABLES:
                entry = manifest["files"][name]
                if not (
                    isinstance(entry, dict)
                    and _is_own_path(entry.get("path"), name, snapshot_id)
                    and isinstance(entry.get("sha256"), str)
                    and all(_is_count(entry.get(k)) for k in ("rows", "bytes"))
                ):
                    raise TypeError(f"its {name} entry is {entry!r:.200}")
            for key in ("services", "locations"):
                listed = manifest[key]
                if not isinstance(listed, builtins.list) or not all(
                    isinstance(i, str) for i in listed
                ):
                    raise TypeError(f"{key} is not a list of ids")
            meta = manifest["meta"]
            if not isinstance(meta, dict) or not isinstance(meta.get("api_host", ""), str | None):
                raise TypeError("meta is not an object with a text api_host")
            fetched_at = datetime.fromisoformat(manifest["fetched_at"])
            if fetched_at.tzinfo is None:
                raise ValueError(f"fetched_at {manifest['fetched_at']!r} has no time zone")
        except (ValueError, KeyError, TypeError, RecursionError, InputError) as exc:
            raise SnapshotError(
                f"manifest {shown} is damaged ({type(exc).__name__}: {str(exc)[:200]}); "
                "restore it, or delete it to drop that snapshot"
            ) from None
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise SnapshotError(
                f"manifest {shown} has schema version {manifest.get('schema_version')!r}; this "
                f"zimun-analytics reads version {SCHEMA_VERSION!r}: install a matching version"
            )
        return self._with_paths(cast(dict[str, Any], manifest))

    def _manifest_of(self, snapshot_id: str) -> dict[str, Any]:
        path = self._manifest_path(check_id(snapshot_id))
        try:
            data = self.fs.cat_file(path)
        except FileNotFoundError:
            raise SnapshotError(
                f"no snapshot {snapshot_id!r} in {self._shown_url}; see the stored ids with "
                f"SnapshotStore({self._shown_url!r}).list()"
            ) from None
        return self._parse_manifest(path, data)

    def list(self, *, strict: bool = False) -> pd.DataFrame:
        """One row per stored snapshot, oldest first.

        A snapshot whose manifest is damaged is left out with a DamagedSnapshotWarning that
        names it (``strict=True`` raises SnapshotError instead); its files are not checked
        here (:meth:`verify` does).

        Returns
        -------
        pandas.DataFrame
            Columns ``snapshot_id``, ``fetched_at`` (UTC), ``api_host``, ``n_slots``,
            ``n_days``, ``n_errors``, ``services`` (number of distinct services with slots)
            and ``complete`` (no service/location failed).
        """
        index = self._sound_index(strict)
        table = pa.table(
            {
                "snapshot_id": index["snapshot_id"],
                "fetched_at": index["fetched_at"],
                "api_host": index["api_host"],
                "n_slots": index["n_slots"],
                "n_days": index["n_days"],
                "n_errors": index["n_errors"],
                "services": pc.list_value_length(index["services"]),
                "complete": pc.equal(index["n_errors"], 0),
            }
        )
        return frame_from_arrow(table.cast(LISTING.arrow_schema), LISTING)

    def _sound_index(self, strict: bool) -> pa.Table:
        """The index of the sound manifests; the damaged ones reported (see _manifests)."""
        index, problems = self._index()
        for problem in problems.values():
            self._report(problem, strict)
        return index

    def files(  # builtins.list: the method above shadows the name
        self, table: str = "slots", *, strict: bool = False
    ) -> builtins.list[str]:
        """Paths of one table's files of every stored snapshot, for DuckDB, Polars, Spark.

        Parameters
        ----------
        table : {"slots", "days", "errors"}
            Which table.

        Returns
        -------
        list of str
            Local paths for a local store; URLs (``s3://bucket/zimun/slots/<id>.parquet``)
            for a remote one, which engines open with the same storage options. Credentials
            written into the store's URL are never part of them.
        """
        if table not in TABLES:
            raise InputError(f"{table!r}", argument="table", allowed=", ".join(TABLES))
        paths = [m["paths"][table] for m in self._manifests(strict)]
        return paths if self._local else [self.fs.unstrip_protocol(path) for path in paths]

    def load(self, snapshot_id: str) -> AvailabilitySnapshot:
        """Read one snapshot back, checking each file against the manifest's sha256.

        Parameters
        ----------
        snapshot_id : str
            An id from :meth:`list`.

        Returns
        -------
        AvailabilitySnapshot
            ``slots``, ``days`` and ``errors`` with the columns and dtypes of
            ``schema.SLOTS``/``DAYS``/``ERRORS``, and the ``meta`` stored with it.
        """
        manifest = self._manifest_of(snapshot_id)
        frames = {name: self._read_file(manifest, name) for name in TABLES}
        return AvailabilitySnapshot(**frames, meta=manifest["meta"])

    def _read_file(self, manifest: dict[str, Any], name: str) -> pd.DataFrame:
        return frame_from_arrow(self._read_table(manifest, name), TABLES[name])

    def _read_table(
        self,
        manifest: dict[str, Any],
        name: str,
        read: dict[str, tuple[str, pa.Table]] | None = None,
    ) -> pa.Table:
        """One table of a snapshot, checked against its manifest's sha256.

        ``read`` keeps whole files already read, with their sha256, by path: a caller reading
        several snapshots of one compacted file reads and hashes it once.
        """
        path, entry = manifest["paths"][name], manifest["files"][name]
        if read is None or path not in read:
            try:
                data = self.fs.cat_file(path)
            except (FileNotFoundError, IsADirectoryError):
                data = b""
            digest = hashlib.sha256(data).hexdigest()
            try:
                whole = pq.read_table(pa.BufferReader(data), page_checksum_verification=True)
            except (pa.ArrowException, OSError) as exc:  # never raw pyarrow
                if digest == entry["sha256"]:  # written so, or a bug
                    raise self._damaged(manifest, path, f"cannot be read ({exc})") from None
                whole = None
            if read is None:
                read = {}
            read[path] = (digest, whole)
        digest, whole = read[path]
        if digest != entry["sha256"] or whole is None:
            raise self._damaged(manifest, path, "is missing or differs from what it wrote")
        if "file_rows" in entry:  # a compacted file: this snapshot's rows of it
            return whole.filter(pc.equal(whole["snapshot_id"], manifest["snapshot_id"]))
        return whole

    def _damaged(self, manifest: dict[str, Any] | str, path: str, what: str) -> SnapshotError:
        """The error of a damaged file of a snapshot (its manifest, or its id)."""
        snapshot_id = manifest if isinstance(manifest, str) else manifest["snapshot_id"]
        manifest_path = self._manifest_path(snapshot_id)
        return SnapshotError(
            self._redact(
                f"snapshot {snapshot_id!r}: {path} {what}; restore it, or delete "
                f"{manifest_path} to drop the snapshot"
            )
        )

    def _file_problems(
        self, manifest: dict[str, Any], tables: Iterable[str], sizes: dict[str, int], sha: bool
    ) -> SnapshotError | None:
        """What is wrong with a snapshot's files (size always, sha256 if ``sha``), or None."""
        for name in tables:
            path, entry = manifest["paths"][name], manifest["files"][name]
            size = sizes.get(path)
            if size is None:
                return self._damaged(manifest, path, "is missing")
            if size != entry["bytes"]:
                return self._damaged(
                    manifest, path, f"is {size:,} bytes where it wrote {entry['bytes']:,}"
                )
            if sha and hashlib.sha256(self.fs.cat_file(path)).hexdigest() != entry["sha256"]:
                return self._damaged(manifest, path, "differs from what it wrote (sha256)")
        return None

    def _sizes(self, tables: Iterable[str]) -> dict[str, int]:
        """Every file's size under the table folders: one listing each, not a request a file."""
        sizes: dict[str, int] = {}
        for name in tables:
            folder = self._path(name)
            if self.fs.exists(folder):
                found = self.fs.find(folder, detail=True)
                sizes.update({path: int(info["size"]) for path, info in found.items()})
        return sizes

    def verify(self, sha256: bool = True) -> pd.DataFrame:
        """Every problem of the store, each in one row; an empty frame when there is none.

        Checks every manifest (readable, complete, this schema version) and every file it
        names: present, of the size it wrote, with its sha256 (unless ``sha256=False``), a
        Parquet file of the rows it wrote. Also lists files no manifest names (a run killed
        mid-save: :meth:`clean` removes them). Reads every file once with ``sha256``.

        Returns
        -------
        pandas.DataFrame
            Columns ``snapshot_id``, ``path`` (relative to the root) and ``problem``.
        """
        manifests, damaged = self._read_manifests(every=True)
        rows: builtins.list[dict[str, str | None]] = [
            {"snapshot_id": i, "path": f"manifests/{i}.json", "problem": str(e)}
            for i, e in damaged.items()
        ]
        sizes = self._sizes(TABLES)
        for manifest in manifests:
            for name in TABLES:
                path = manifest["paths"][name]
                problem = self._file_problems(manifest, [name], sizes, sha256)
                if problem is None:
                    problem = self._footer_problem(manifest, name)
                if problem is not None:
                    rows.append(
                        {
                            "snapshot_id": manifest["snapshot_id"],
                            "path": self._relative(path),
                            "problem": str(problem),
                        }
                    )
        named = {path for m in manifests for path in m["paths"].values()}
        for path in sorted(set(self._table_files()) - named):
            stem = path.rsplit("/", 1)[-1].removesuffix(".parquet")
            if stem in damaged:
                continue  # its manifest's problem is listed already
            rows.append(
                {
                    "snapshot_id": None,
                    "path": self._relative(path),
                    "problem": "no manifest names this file (a run killed mid-save); "
                    "clean() removes it",
                }
            )
        return pd.DataFrame(rows, columns=["snapshot_id", "path", "problem"]).astype("string")

    def _footer_problem(self, manifest: dict[str, Any], name: str) -> SnapshotError | None:
        path = manifest["paths"][name]
        try:
            with self.fs.open(path, "rb") as file:
                rows = pq.ParquetFile(file).metadata.num_rows
        except (pa.ArrowException, OSError) as exc:
            return self._damaged(manifest, path, f"is not a readable Parquet file ({exc})")
        entry = manifest["files"][name]
        written = entry.get("file_rows", entry["rows"])  # a compacted file: all it holds
        if rows != written:
            return self._damaged(manifest, path, f"holds {rows:,} rows where it wrote {written:,}")
        return None

    def history(
        self,
        start: Any = None,
        end: Any = None,
        services: str | Iterable[str] | None = None,
        locations: str | Iterable[str] | None = None,
        columns: Iterable[str] | None = None,
        *,
        strict: bool = False,
        verify: str = "size",
    ) -> pd.DataFrame:
        """Slots of every stored snapshot fetched in ``[start, end)``, filtered as Parquet is read.

        Parameters
        ----------
        start, end : datetime, pandas.Timestamp, str or None
            Bounds on ``fetched_at``, start included, end excluded; tz-aware or ISO with an
            offset (naive times raise InputError). None leaves that side open.
        services, locations : str, iterable of str or None
            Keep only these service / location ids.
        columns : iterable of str or None
            Columns to read, in this order; all of ``schema.SLOTS`` by default.
        strict : bool
            Raise SnapshotError at the first damaged snapshot; by default it is left out with a
            DamagedSnapshotWarning naming it and what is wrong, and the rest is read.
        verify : {"size", "hash"}
            How each slots file is checked against its manifest before it is read: its size
            (one listing of the folder, no extra reads), or also its sha256 (reads every file
            once more: see the README for the cost).

        Returns
        -------
        pandas.DataFrame
            The columns of ``schema.SLOTS`` (or ``columns``) with its dtypes: ``snapshot_id``,
            ``fetched_at``, ``organization_id``, ``location_id``, ``service_id``,
            ``service_name``, ``timezone``, ``slot_start``, ``slot_end``, ``local_date``,
            ``local_hour``, ``weekday``, ``duration_minutes``, ``capacity``, ``available``,
            ``lead_time_hours``; ordered by fetch, then service, location and slot start.
        """
        spec = projection(columns)
        lo = None if start is None else utc_timestamp(start, "start")
        hi = None if end is None else utc_timestamp(end, "end")
        services, locations = as_list(services), as_list(locations)
        if verify not in ("size", "hash"):
            raise InputError(f"{verify!r}", argument="verify", allowed="'size' or 'hash'")
        chosen = self._chosen(self._sound_index(strict), lo, hi, services, locations)
        ids_of = self._sound_files(chosen, verify == "hash", strict)  # path -> its snapshots
        if not ids_of:
            return empty_frame(spec)
        compacted = any(_COMPACTED.fullmatch(path.rsplit("/", 1)[-1]) for path in ids_of)
        # a compacted file is sorted service first, then in fetch order: one service's rows
        # come out of the files (in fetch order) already as the history orders them
        resort = compacted and (services is None or len(set(services)) > 1)
        where = history_filter(lo, hi, services, locations)
        if compacted:  # a compacted file holds other snapshots too: only the chosen ones' rows
            chosen_ids = pc.field("snapshot_id").isin([i for ids in ids_of.values() for i in ids])
            where = chosen_ids if where is None else where & chosen_ids
        fragments = self._fragments_of_their_snapshots(ids_of, strict)
        try:
            table = self._scan(fragments, spec, where, in_fetch_order=resort)
        except (pa.ArrowException, OSError):  # a file damaged inside at its size: find it
            parts = []
            for fragment in fragments:
                try:
                    parts.append(self._scan([fragment], spec, where, in_fetch_order=resort))
                except (pa.ArrowException, OSError) as exc:
                    for snapshot_id in ids_of[fragment.path]:
                        what = f"cannot be read ({exc})"
                        self._report(self._damaged(snapshot_id, fragment.path, what), strict)
            if not parts:
                return empty_frame(spec)
            table = pa.concat_tables(parts)  # files in fetch order, each sorted: in order
        return frame_from_arrow(table, spec)

    @staticmethod
    def _chosen(
        index: pa.Table,
        lo: pd.Timestamp | None,
        hi: pd.Timestamp | None,
        services: builtins.list[str] | None,
        locations: builtins.list[str] | None,
    ) -> pa.Table:
        """The catalogue rows of snapshots fetched in ``[lo, hi)`` holding a wanted id."""
        keep = pa.array(np.ones(len(index), dtype=bool))
        if lo is not None:
            keep = pc.and_(keep, pc.greater_equal(index["fetched_at"], instant_bound(lo)))
        if hi is not None:
            keep = pc.and_(keep, pc.less(index["fetched_at"], instant_bound(hi)))
        for column, wanted in (("services", services), ("locations", locations)):
            if wanted is not None:
                keep = pc.and_(keep, _lists_meet(index[column], wanted))
        return index.filter(keep)

    def _sound_files(
        self, chosen: pa.Table, sha256: bool, strict: bool
    ) -> dict[str, builtins.list[str]]:
        """The slots files of ``chosen`` that match their manifests, with their snapshots.

        Sizes always (one listing of the folder), sha256 too if asked (a read of each file);
        a snapshot whose file does not match is reported and left out.
        """
        sizes = self._sizes(["slots"]) if len(chosen) else {}
        digests = (
            {
                m["snapshot_id"]: m["files"]["slots"]["sha256"]
                for m in (json.loads(text) for text in chosen["manifest"].to_pylist())
            }
            if sha256
            else {}
        )
        hashed: dict[str, str] = {}  # a compacted file is read once, whatever it holds
        ids_of: dict[str, builtins.list[str]] = {}
        for snapshot_id, relative, written in zip(
            chosen["snapshot_id"].to_pylist(),
            chosen["slots_path"].to_pylist(),
            chosen["slots_bytes"].to_pylist(),
            strict=True,
        ):
            path = self._path(relative)
            size = sizes.get(path)
            if size is None:
                what = "is missing"
            elif size != written:
                what = f"is {size:,} bytes where it wrote {written:,}"
            elif sha256 and digests[snapshot_id] != self._sha256(path, hashed):
                what = "differs from what it wrote (sha256)"
            else:
                ids_of.setdefault(path, []).append(snapshot_id)
                continue
            self._report(self._damaged(snapshot_id, path, what), strict)
        return ids_of

    def _sha256(self, path: str, known: dict[str, str]) -> str:
        if path not in known:
            known[path] = hashlib.sha256(self.fs.cat_file(path)).hexdigest()
        return known[path]

    def _fragments_of_their_snapshots(
        self, ids_of: dict[str, builtins.list[str]], strict: bool
    ) -> builtins.list[Any]:
        """The files as scan fragments, but those whose footer names other snapshots.

        The footer is read once here and kept by the fragment for the scan: a file swapped in
        at the same size names other snapshots.
        """
        fragments = []
        for fragment in self._slots_dataset(builtins.list(ids_of)).get_fragments():
            metadata = fragment.physical_schema.metadata or {}
            held = metadata.get(b"zimun.snapshot_ids") or metadata.get(b"zimun.snapshot_id", b"")
            if set(ids_of[fragment.path]) <= set(held.decode(errors="replace").split(",")):
                fragments.append(fragment)
                continue
            what = "holds another snapshot's rows (its footer names another id)"
            for snapshot_id in ids_of[fragment.path]:
                self._report(self._damaged(snapshot_id, fragment.path, what), strict)
        return fragments

    def _slots_dataset(self, paths: builtins.list[str]) -> ds.FileSystemDataset:
        return ds.dataset(
            paths, schema=SLOTS.arrow_schema, format=_CHECKED_PARQUET, filesystem=self._arrow_fs
        )

    def _scan(
        self, fragments: builtins.list[Any], spec: Any, where: Any, *, in_fetch_order: bool
    ) -> pa.Table:
        """The rows of ``fragments``; ``in_fetch_order`` sorts compacted files' rows back.

        A compacted file keeps one service's rows together (service first); the history is
        ordered by fetch, then service, location and slot start, as loose files give it.
        """
        dataset = ds.FileSystemDataset(
            fragments, SLOTS.arrow_schema, _CHECKED_PARQUET, filesystem=self._arrow_fs
        )
        if not in_fetch_order:
            return dataset.to_table(columns=spec.names, filter=where)
        columns = list(dict.fromkeys([*spec.names, *_FETCH_ORDER]))
        return self._in_fetch_order(dataset.to_table(columns=columns, filter=where)).select(
            spec.names
        )

    @staticmethod
    def _in_fetch_order(table: pa.Table) -> pa.Table:
        return table.sort_by([(key, "ascending") for key in _FETCH_ORDER])
