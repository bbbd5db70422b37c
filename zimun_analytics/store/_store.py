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
import uuid
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import fsspec
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
    SLOTS,
    TABLES,
    AvailabilitySnapshot,
    empty_frame,
    frame_from_arrow,
)
from ._files import (
    LISTING,
    as_list,
    check_id,
    history_filter,
    parquet_bytes,
    projection,
    to_arrow_table,
    utc_timestamp,
)
from ._lock import StoreLock

MANIFEST_VERSION = 1
_LAYOUT = {"slots", "days", "errors", "manifests", "_staging", ".lock"}
_STAGING = "_staging"  # a leading "_": pyarrow, Dask, Spark and Polars' folder scans skip it
_COMMIT_ORDER = ("days", "errors", "slots")  # slots, the table engines read, appears last
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
    return tuple(sorted(found, key=len, reverse=True))  # longest first: no partial redaction


def _userinfo(url: str) -> tuple[str, ...]:
    """The ``user:password`` part of each ``scheme://user:password@`` in ``url``."""
    return tuple(info for info in _USERINFO.findall(url) if info)


def _fetched_at(manifest: dict[str, Any]) -> pd.Timestamp:
    return pd.Timestamp(manifest["fetched_at"]).tz_convert("UTC")


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
        self._secrets = _userinfo(self.url) + _secret_values(storage_options or {})
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
            first = str(next(iter(damaged.values())))
            more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
            rows["problem"] = f"left out: {first}{more}"
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

    def _commit_files(self, snapshot_id: str, encoded: dict[str, bytes]) -> dict[str, Any]:
        """Put each table's file in place, ``slots`` last; return their manifest entries.

        Locally the files are written and synced under ``_staging/`` first and each is
        committed by one rename, so no table folder ever holds a partial file; an object store
        shows each object whole or not at all, so one PUT each does the same there.
        """
        finals = {name: self._table_path(name, snapshot_id) for name in _COMMIT_ORDER}
        if self._bucket is None:  # on an object store makedirs could create a bucket
            for final in finals.values():
                self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        if self._local:
            staging = self._path(_STAGING, f"{snapshot_id}-{uuid.uuid4().hex[:12]}")
            os.makedirs(staging, exist_ok=True)
            staged = {name: f"{staging}/{name}.parquet" for name in _COMMIT_ORDER}
            for name, path in staged.items():
                with open(path, "wb") as file:
                    file.write(encoded[name])
                    file.flush()
                    os.fsync(file.fileno())
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
        temp = f"{path}.{uuid.uuid4().hex}.tmp"  # not *.json: never listed
        with open(temp, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)

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
            manifests, damaged = self._read_manifests()
            named = {path for m in manifests for path in m["paths"].values()}
            # a damaged manifest's files may be what restoring it needs: never delete them
            named |= {
                path
                for path in self._table_files()
                if any(f"/{i}.parquet" in path or f"/{_LEGACY_FOLDER}{i}/" in path for i in damaged)
            }
            found = self._table_files()
            found += self.fs.glob(self._path("manifests", "*.tmp"))  # a killed os.replace
            orphans = sorted(path for path in found if path not in named)
            staged = self.fs.find(self._path(_STAGING)) if self._has(_STAGING) else []
            for path in orphans:
                self.fs.rm(path)
            if staged:
                self.fs.rm(self._path(_STAGING), recursive=True)
            self._remove_bare_legacy_folders()
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
        """Move snapshots of the earlier layout (``slots/snapshot_id=<id>/part-0.parquet``).

        Each file moves to ``<table>/<id>.parquet`` and its manifest is rewritten to name it,
        one snapshot at a time, under the store's lock; the files' bytes, and so their sha256,
        do not change. Each manifest is rewritten right after its snapshot's files move: a run
        stopped halfway leaves the snapshots before it moved and those after it as they were,
        and a rerun carries on (the one it stopped in reads again once the rerun moved it).

        Returns
        -------
        list of str
            The ids of the snapshots moved (none if the store is in the current layout).
        """
        moved = []
        with self.lock():
            for manifest in self._manifests():
                legacy = {
                    name: path
                    for name, path in manifest["paths"].items()
                    if f"/{_LEGACY_FOLDER}" in path
                }
                if not legacy:
                    continue
                snapshot_id = manifest["snapshot_id"]
                for name, path in legacy.items():
                    final = self._table_path(name, snapshot_id)
                    if self.fs.exists(path):  # else a stopped migration moved it already
                        self.fs.mv(path, final)
                    manifest["files"][name]["path"] = self._relative(final)
                self._put_manifest(
                    {k: v for k, v in manifest.items() if k != "paths"}, replace=True
                )
                moved.append(snapshot_id)
            self._remove_bare_legacy_folders()
        return moved

    # -- the lock --------------------------------------------------------------------------

    @contextmanager
    def lock(self, lease_s: float | None = None) -> Iterator[None]:
        """Hold the store's writer lock, ``<root>/.lock``, for the ``with`` block.

        Re-entrant within one store object. A stale lock is taken over: empty or garbled, or
        its owner gone (a dead pid of this host, a pid reused by another process, an earlier
        boot), or an owner this host cannot check (another host) older than its lease. On
        local disks creating and taking over are atomic; on object stores creating is atomic
        where fsspec can write conditionally, and taking over is best effort
        (:mod:`zimun_analytics.storelock`).

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

    def _manifests(self, strict: bool = False) -> builtins.list[dict[str, Any]]:
        """Every sound manifest, sorted by fetched_at then id; the only source of what exists.

        A damaged one (not JSON, fields missing or of the wrong type, a bad ``fetched_at``,
        another schema version) is left out with a DamagedSnapshotWarning naming it, so one
        bad file never hides the others; ``strict`` raises its SnapshotError instead.
        """
        manifests, problems = self._read_manifests()
        for problem in problems.values():
            self._report(problem, strict)
        return manifests

    def _check_bucket(self) -> None:
        """Refuse an object store whose bucket does not exist (it is never created for you)."""
        if self._bucket is None or self._bucket_seen:
            return
        if not self.fs.exists(self._bucket):
            raise ConfigError(
                f"bucket {self._bucket!r} of {self._shown_url} does not exist, or these "
                "credentials cannot see it: create it first (a store never creates a bucket)"
            )
        self._bucket_seen = True

    def _read_manifests(self) -> tuple[builtins.list[dict[str, Any]], dict[str, SnapshotError]]:
        """The sound manifests, sorted, and the damaged ones' errors by their snapshot id."""
        self._check_bucket()
        if self.fs.exists(self.root) and not self.fs.isdir(self.root):
            raise SnapshotError(f"{self._shown_url} is a file, not a snapshot store: pass a folder")
        paths = self.fs.glob(self._path("manifests", "*.json"))
        manifests, problems = [], {}
        for path, data in (self.fs.cat(paths) if paths else {}).items():
            try:
                manifests.append(self._parse_manifest(path, data))
            except SnapshotError as problem:
                problems[path.rsplit("/", 1)[-1].removesuffix(".json")] = problem
        manifests.sort(key=lambda m: (m["fetched_at"], m["snapshot_id"]))
        return manifests, problems

    def _report(self, problem: SnapshotError, strict: bool) -> None:
        if strict:
            raise problem
        warnings.warn(f"skipped: {problem}", DamagedSnapshotWarning, stacklevel=4)

    def _parse_manifest(self, path: str, data: bytes) -> dict[str, Any]:
        shown = self._redact(path)
        try:
            manifest = json.loads(data)
            files = {name: manifest["files"][name] for name in TABLES}
            for entry in files.values():
                if not (
                    isinstance(entry["path"], str)
                    and isinstance(entry["sha256"], str)
                    and all(isinstance(entry[k], int) for k in ("rows", "bytes"))
                ):
                    raise TypeError(f"a file entry is {entry!r:.200}")
            if not isinstance(manifest["snapshot_id"], str):
                raise TypeError("snapshot_id is not a string")
            for key in ("services", "locations"):
                if not isinstance(manifest[key], builtins.list):
                    raise TypeError(f"{key} is not a list")
            if not isinstance(manifest["meta"], dict):
                raise TypeError("meta is not an object")
            fetched_at = pd.Timestamp(manifest["fetched_at"])
            if fetched_at.tzinfo is None:
                raise ValueError(f"fetched_at {manifest['fetched_at']!r} has no time zone")
        except (ValueError, KeyError, TypeError) as exc:  # a bad date is a ValueError too
            raise SnapshotError(
                f"manifest {shown} is damaged ({type(exc).__name__}: {exc}); restore it, or "
                "delete it to drop that snapshot"
            ) from None
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise SnapshotError(
                f"manifest {shown} has schema version {manifest.get('schema_version')!r}; this "
                f"zimun-analytics reads version {SCHEMA_VERSION!r}: install a matching version"
            )
        manifest["paths"] = {name: self._path(entry["path"]) for name, entry in files.items()}
        return cast(dict[str, Any], manifest)

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
        rows = [
            {
                "snapshot_id": m["snapshot_id"],
                "fetched_at": pd.Timestamp(m["fetched_at"]).to_pydatetime(),
                "api_host": m["meta"].get("api_host"),
                "n_slots": m["files"]["slots"]["rows"],
                "n_days": m["files"]["days"]["rows"],
                "n_errors": m["files"]["errors"]["rows"],
                "services": len(m["services"]),
                "complete": m["files"]["errors"]["rows"] == 0,
            }
            for m in self._manifests(strict)
        ]
        table = pa.Table.from_pylist(rows, schema=LISTING.arrow_schema)
        return frame_from_arrow(table, LISTING)

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
        path, entry = manifest["paths"][name], manifest["files"][name]
        try:
            data = self.fs.cat_file(path)
        except FileNotFoundError:
            data = b""
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise self._damaged(manifest, path, "is missing or differs from what it wrote")
        try:
            table = pq.read_table(pa.BufferReader(data))
        except (pa.ArrowException, OSError) as exc:  # written so, or a bug: never raw pyarrow
            raise self._damaged(manifest, path, f"cannot be read ({exc})") from None
        return frame_from_arrow(table, TABLES[name])

    def _damaged(self, manifest: dict[str, Any], path: str, what: str) -> SnapshotError:
        manifest_path = self._manifest_path(manifest["snapshot_id"])
        return SnapshotError(
            self._redact(
                f"snapshot {manifest['snapshot_id']!r}: {path} {what}; restore it, or delete "
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
        manifests, damaged = self._read_manifests()
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
        if rows != manifest["files"][name]["rows"]:
            written = manifest["files"][name]["rows"]
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
        chosen = [
            m
            for m in self._manifests(strict)
            if (lo is None or _fetched_at(m) >= lo)
            and (hi is None or _fetched_at(m) < hi)
            and (services is None or set(services) & set(m["services"]))
            and (locations is None or set(locations) & set(m["locations"]))
        ]
        sizes = self._sizes(["slots"]) if chosen else {}
        sound = []
        for manifest in chosen:
            problem = self._file_problems(manifest, ["slots"], sizes, verify == "hash")
            if problem is None:
                sound.append(manifest)
            else:
                self._report(problem, strict)
        if not sound:
            return empty_frame(spec)
        where = history_filter(lo, hi, services, locations)
        try:
            table = self._read_slots([m["paths"]["slots"] for m in sound], spec, where)
        except (pa.ArrowException, OSError):  # a file damaged inside at its size: find it
            parts = []
            for manifest in sound:
                try:
                    parts.append(self._read_slots([manifest["paths"]["slots"]], spec, where))
                except (pa.ArrowException, OSError) as exc:
                    path = manifest["paths"]["slots"]
                    self._report(self._damaged(manifest, path, f"cannot be read ({exc})"), strict)
            if not parts:
                return empty_frame(spec)
            table = pa.concat_tables(parts)
        return frame_from_arrow(table, spec)

    def _read_slots(self, paths: builtins.list[str], spec: Any, where: Any) -> pa.Table:
        dataset = ds.dataset(
            paths, schema=SLOTS.arrow_schema, format="parquet", filesystem=self._arrow_fs
        )
        return dataset.to_table(columns=spec.names, filter=where)
