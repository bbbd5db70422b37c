"""The Parquet snapshot store: round trips, visibility through manifests, pushdown, diff, lock."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import fsspec
import html_tables
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from zimun_analytics import DamagedSnapshotWarning, SnapshotError, SnapshotStore
from zimun_analytics._config import STORE_LOCK_WRITE_GRACE_S
from zimun_analytics._errors import InputError
from zimun_analytics._schema import (
    DAYS,
    DIFF,
    ERRORS,
    SCHEMA_VERSION,
    SLOTS,
    TABLES,
    AvailabilitySnapshot,
    frame_from_arrow,
)
from zimun_analytics.analysis import diff_snapshots
from zimun_analytics.cli import main as cli_main
from zimun_analytics.store import _files as snapshotfiles
from zimun_analytics.store import _lock as storelock
from zimun_analytics.store import _store as snapshots

SERVICES = {"s_cut": "Haircut", "s_color": "Colouring", "s_beard": "Beard trim"}
# Both zones change to summer time around 2026-03-27/29, inside the generated days.
LOCATIONS = {"l_berlin": "Europe/Berlin", "l_jlm": "Asia/Jerusalem"}
SLOT = pd.Timedelta(minutes=30)
KEYS = ["service_id", "location_id", "slot_start"]


def make_snapshot(
    snapshot_id: str = "20260327T080000Z-a",
    fetched_at: str = "2026-03-27T08:00:00Z",
    *,
    slots_per_location: int = 144,
    errors: list[dict] | None = None,
) -> AvailabilitySnapshot:
    """A synthetic snapshot: 30-minute slots from 27 March local midnight, every service x
    location; ``s_beard`` reports no capacity (nulls)."""
    fetched = pd.Timestamp(fetched_at)
    parts = []
    for service_id, name in SERVICES.items():
        for location_id, zone in LOCATIONS.items():
            local = pd.date_range("2026-03-27", periods=slots_per_location, freq=SLOT, tz=zone)
            parts.append(
                pd.DataFrame(
                    {
                        "service_id": service_id,
                        "service_name": name,
                        "location_id": location_id,
                        "timezone": zone,
                        "slot_start": local.tz_convert("UTC"),
                        "local_date": local.normalize().tz_localize(None),
                        "local_hour": local.hour,
                        "weekday": local.day_of_week,
                        "n": range(slots_per_location),
                    }
                )
            )
    slots = pd.concat(parts, ignore_index=True)
    slots["snapshot_id"] = snapshot_id
    slots["fetched_at"] = fetched
    slots["organization_id"] = "o_1"
    slots["slot_end"] = slots["slot_start"] + SLOT
    slots["duration_minutes"] = 30
    reported = slots["service_id"] != "s_beard"
    slots["capacity"] = pd.Series(2, index=slots.index, dtype="Int16").where(reported)
    slots["available"] = (slots["n"] % 3).astype("Int16").where(reported)
    slots["lead_time_hours"] = (slots["slot_start"] - fetched) / pd.Timedelta(hours=1)
    return AvailabilitySnapshot(
        slots=_typed(slots, SLOTS),
        days=_typed(_days_of(slots), DAYS),
        errors=_typed(pd.DataFrame(errors or [], columns=ERRORS.names), ERRORS),
        meta={
            "snapshot_id": snapshot_id,
            "fetched_at": fetched_at,
            "api_host": "sandbox.test",
            "parameters": {"days_ahead": 3, "services": sorted(SERVICES)},
            "package_version": "0.1.0",
            "schema_version": SCHEMA_VERSION,
            "counts": {"slots": len(slots)},
        },
    )


def _days_of(slots: pd.DataFrame) -> pd.DataFrame:
    keys = ["snapshot_id", "fetched_at", "organization_id", "location_id", "service_id"]
    keys += ["service_name", "timezone", "local_date"]
    days = slots.groupby(keys, as_index=False).agg(
        n_slots=("n", "size"), free_capacity=("available", lambda s: s.sum(min_count=1))
    )
    days["status"] = "open"
    days["holiday_name"] = None
    return days


def _typed(frame: pd.DataFrame, spec) -> pd.DataFrame:
    table = pa.Table.from_pandas(frame[spec.names], preserve_index=False)
    return frame_from_arrow(table, spec)


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path):
    """An empty store on a local folder or on fsspec's in-memory filesystem."""
    if request.param == "local":
        yield SnapshotStore(tmp_path / "store")
        return
    url = f"memory://zimun-{uuid.uuid4().hex}"
    yield SnapshotStore(url)
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


@pytest.fixture
def local_store(tmp_path) -> SnapshotStore:
    return SnapshotStore(str(tmp_path / "store"))


# -- round trips and listing ------------------------------------------------------------------


def test_save_then_load_round_trips_frames_dtypes_and_meta(store):
    original = make_snapshot(errors=[{"snapshot_id": "20260327T080000Z-a", "service_id": "s_x"}])
    assert store.save(original) == original.snapshot_id
    loaded = store.load(original.snapshot_id)
    pd.testing.assert_frame_equal(loaded.slots, _sorted(original.slots, KEYS))
    pd.testing.assert_frame_equal(
        loaded.days, _sorted(original.days, ["service_id", "location_id", "local_date"])
    )
    pd.testing.assert_frame_equal(loaded.errors, original.errors)
    assert loaded.meta["counts"] == {"slots": 864, "days": 24, "errors": 1}
    assert {k: v for k, v in loaded.meta.items() if k != "counts"} == {
        k: v for k, v in original.meta.items() if k != "counts"
    }


def test_save_counts_what_it_stores_and_keeps_what_only_the_fetch_knew(store):
    original = make_snapshot()
    original.meta["counts"] = {"slots": 1, "days": 1, "errors": 0, "calls": 7}  # stale but calls
    store.save(original)
    stored = store.load(original.snapshot_id).meta
    assert stored["counts"] == {"slots": 864, "days": 24, "errors": 0, "calls": 7}
    assert stored["schema_version"] == SCHEMA_VERSION


def _as_arrow(snapshot: AvailabilitySnapshot) -> AvailabilitySnapshot:
    """The snapshot as a fetch hands it over: Arrow tables, no frame made yet."""
    tables = {
        name: pa.Table.from_pandas(getattr(snapshot, name), preserve_index=False).cast(
            spec.arrow_schema
        )
        for name, spec in TABLES.items()
    }
    return AvailabilitySnapshot(**tables, meta=dict(snapshot.meta))


def test_a_snapshot_of_arrow_tables_is_saved_without_becoming_frames(store):
    original = make_snapshot()
    arrow = _as_arrow(original)
    store.save(arrow)
    assert all(isinstance(arrow.held(name), pa.Table) for name in TABLES)  # never converted
    loaded = store.load(original.snapshot_id)
    pd.testing.assert_frame_equal(loaded.slots, _sorted(original.slots, KEYS))
    assert "slots=864, days=24, errors=0" in repr(arrow) and arrow.complete


def test_a_frame_read_and_edited_is_what_is_saved(store):
    arrow = _as_arrow(make_snapshot())
    arrow.slots.loc[0, "available"] = 0  # read (it becomes a frame), then edited in place
    assert isinstance(arrow.held("slots"), pd.DataFrame)
    store.save(arrow)
    loaded = store.load(arrow.snapshot_id).slots
    first = arrow.slots.loc[0, KEYS].tolist()
    row = loaded[(loaded[KEYS] == first).all(axis=1)]
    assert row["available"].tolist() == [0]


def test_list_has_one_row_per_snapshot_sorted_by_fetched_at(store):
    store.save(make_snapshot("b", "2026-03-27T09:00:00+00:00"))
    failed = [{"snapshot_id": "a", "service_id": "s_cut", "location_id": "l_jlm"}]
    store.save(make_snapshot("a", "2026-03-27T08:00:00Z", errors=failed))
    listing = store.list()
    assert listing["snapshot_id"].tolist() == ["a", "b"]
    assert listing.columns.tolist() == snapshots.LISTING.names
    assert str(listing["fetched_at"].dtype) == "datetime64[us, UTC]"
    assert listing["fetched_at"].iloc[1] == pd.Timestamp("2026-03-27T09:00Z")
    assert listing[["n_slots", "n_days", "n_errors", "services"]].iloc[0].tolist() == [
        864,
        24,
        1,
        3,
    ]
    assert listing["complete"].tolist() == [False, True]
    assert listing["api_host"].tolist() == ["sandbox.test"] * 2


def test_empty_store_lists_no_snapshots_with_all_columns(store):
    listing = store.list()
    assert listing.empty and listing.columns.tolist() == snapshots.LISTING.names
    assert store.history().dtypes.to_dict() == make_snapshot().slots.dtypes.to_dict()


def test_load_of_unknown_id_says_how_to_see_the_ids(store):
    store.save(make_snapshot())
    with pytest.raises(SnapshotError, match=r"no snapshot 'nope'.*\.list\(\)"):
        store.load("nope")


def test_saving_an_existing_id_is_refused(store):
    store.save(make_snapshot())
    with pytest.raises(SnapshotError, match="immutable"):
        store.save(make_snapshot())


def test_frame_with_a_contact_column_is_refused_and_nothing_written(local_store):
    snapshot = make_snapshot()
    snapshot.slots["contact_email"] = "someone@example.com"
    with pytest.raises(InputError, match="contact_email"):
        local_store.save(snapshot)
    assert not Path(local_store.root).exists()


def test_rows_of_another_snapshot_are_refused(local_store):
    snapshot = make_snapshot()
    snapshot.slots.loc[0, "snapshot_id"] = "other"
    with pytest.raises(InputError, match="other"):
        local_store.save(snapshot)


@pytest.mark.parametrize("bad", ["20260327080000", "../up", "", "with space"])
def test_ids_that_cannot_name_a_partition_are_refused(local_store, bad):
    with pytest.raises(InputError, match="cannot name a snapshot"):
        local_store.save(make_snapshot(bad))


def test_saving_into_a_foreign_folder_is_refused(tmp_path):
    (tmp_path / "thesis.docx").write_text("not a snapshot")
    with pytest.raises(SnapshotError, match=r"thesis\.docx"):
        SnapshotStore(tmp_path).save(make_snapshot())


def test_an_existing_store_may_hold_other_folders_beside_it(tmp_path):
    store = SnapshotStore(tmp_path)
    store.save(make_snapshot("first"))
    (tmp_path / "reports").mkdir()  # what `snapshot --report-dir <store>/reports` leaves
    (tmp_path / "reports" / "first-weekday_hour.png").write_bytes(b"PNG")
    assert store.save(make_snapshot("second")) == "second"
    assert store.list()["snapshot_id"].tolist() == ["first", "second"]
    assert store.clean() == []  # and cleaning never touches them
    assert (tmp_path / "reports" / "first-weekday_hour.png").exists()


def test_a_changed_file_is_reported_on_load(local_store):
    local_store.save(make_snapshot())
    (path,) = local_store.files("days")
    Path(path).write_bytes(Path(path).read_bytes()[:-10])
    with pytest.raises(SnapshotError, match="differs from what it wrote"):
        local_store.load("20260327T080000Z-a")


def test_a_damaged_manifest_is_left_out_with_a_warning_or_raises_when_strict(local_store):
    local_store.save(make_snapshot())
    (Path(local_store.root) / "manifests" / "broken.json").write_text("{")
    with pytest.warns(DamagedSnapshotWarning, match=r"broken\.json is damaged"):
        assert local_store.list()["snapshot_id"].tolist() == ["20260327T080000Z-a"]
    with pytest.warns(DamagedSnapshotWarning, match=r"broken\.json"):
        assert len(local_store.history()) == 864
    with pytest.raises(SnapshotError, match=r"broken\.json is damaged"):
        local_store.list(strict=True)
    with pytest.raises(SnapshotError, match=r"broken\.json is damaged"):
        local_store.history(strict=True)


# -- the files ------------------------------------------------------------------------------


def test_files_are_zstd_one_per_snapshot_and_carry_zimun_metadata(local_store):
    local_store.save(make_snapshot())
    root = Path(local_store.root)
    assert sorted(p.name for p in root.iterdir()) == ["days", "errors", "manifests", "slots"]
    for table in ("slots", "days", "errors"):
        path = root / table / "20260327T080000Z-a.parquet"
        assert [p.name for p in path.parent.iterdir()] == [path.name]  # no key=value folders
        parquet = pq.ParquetFile(path)
        assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
        kv = parquet.schema_arrow.metadata
        assert kv[b"zimun.schema_version"] == SCHEMA_VERSION.encode()
        assert kv[b"zimun.snapshot_id"] == b"20260327T080000Z-a"
        assert json.loads(kv[b"zimun.parameters"])["days_ahead"] == 3
        assert "snapshot_id" in parquet.schema_arrow.names
    manifest = json.loads((root / "manifests" / "20260327T080000Z-a.json").read_text())
    assert manifest["files"]["slots"]["rows"] == 864
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert len(manifest["files"]["slots"]["sha256"]) == 64


def test_slot_row_groups_are_sorted_so_a_service_filter_prunes_them(local_store, monkeypatch):
    monkeypatch.setattr(snapshotfiles, "ROW_GROUP_ROWS", 100)
    local_store.save(make_snapshot())
    (path,) = local_store.files("slots")
    (fragment,) = ds.dataset(path, format="parquet").get_fragments()
    wanted = fragment.split_by_row_group(ds.field("service_id") == "s_beard")
    assert fragment.num_row_groups == 9
    assert len(wanted) == 3  # 288 s_beard rows, sorted together: only their row groups


# -- history --------------------------------------------------------------------------------


@pytest.fixture
def three_fetches(store) -> tuple[SnapshotStore, pd.DataFrame]:
    """A store with fetches at 08:00, 09:00 and 10:00 UTC, and all their slots."""
    saved = [make_snapshot(f"f{h}", f"2026-03-27T{h:02d}:00:00Z") for h in (8, 9, 10)]
    for snapshot in saved:
        store.save(snapshot)
    everything = pd.concat([_sorted(s.slots, KEYS) for s in saved], ignore_index=True)
    return store, everything


def test_history_filters_by_service_location_and_fetch_time(three_fetches):
    store, everything = three_fetches
    got = store.history(
        start="2026-03-27T09:00:00+00:00",
        end=pd.Timestamp("2026-03-27T13:00", tz="Asia/Jerusalem"),  # 10:00 UTC, excluded
        services=["s_cut", "s_beard"],
        locations="l_jlm",
    )
    keep = (
        (everything["snapshot_id"] == "f9")
        & everything["service_id"].isin(["s_cut", "s_beard"])
        & (everything["location_id"] == "l_jlm")
    )
    pd.testing.assert_frame_equal(got, everything[keep].reset_index(drop=True))


def test_history_projects_columns_with_schema_dtypes(three_fetches):
    store, everything = three_fetches
    got = store.history(columns=["service_id", "local_date", "available"])
    assert got.columns.tolist() == ["service_id", "local_date", "available"]
    pd.testing.assert_series_equal(got.dtypes, everything[got.columns].dtypes)
    assert len(got) == len(everything)


def test_history_refuses_naive_times_and_unknown_columns(three_fetches):
    store, _ = three_fetches
    with pytest.raises(InputError, match="no time zone"):
        store.history(start="2026-03-27T09:00")
    with pytest.raises(InputError, match="contact_email"):
        store.history(columns=["contact_email"])


def test_files_no_manifest_names_are_invisible(three_fetches):
    store, everything = three_fetches
    fs = store.fs
    good = fs.cat_file(store.files()[0])
    fs.pipe_file(f"{store.root}/slots/ghost.parquet", good)  # a run killed before its manifest
    fs.pipe_file(f"{store.root}/slots/f8-torn.parquet", good[:100])  # a torn one
    legacy = f"{store.root}/slots/snapshot_id=old/part-0.parquet"  # of the earlier layout
    fs.makedirs(legacy.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(legacy, good)
    fs.makedirs(f"{store.root}/_staging/f11-run", exist_ok=True)
    fs.pipe_file(f"{store.root}/_staging/f11-run/slots.parquet", good)  # killed before commit
    assert store.list()["snapshot_id"].tolist() == ["f8", "f9", "f10"]
    assert len(store.files()) == 3
    pd.testing.assert_frame_equal(store.history(), everything)


def test_clean_deletes_only_files_no_manifest_names(three_fetches):
    store, everything = three_fetches
    fs = store.fs
    good = fs.cat_file(store.files()[0])
    fs.makedirs(f"{store.root}/slots/snapshot_id=ghost", exist_ok=True)
    fs.pipe_file(f"{store.root}/slots/snapshot_id=ghost/part-0.parquet", good)  # earlier layout
    fs.pipe_file(f"{store.root}/slots/f8-torn.parquet", good[:100])
    fs.makedirs(f"{store.root}/_staging/f11-run", exist_ok=True)
    fs.pipe_file(f"{store.root}/_staging/f11-run/days.parquet", good)
    before = {t: store.files(t) for t in ("slots", "days", "errors")}
    assert store.clean() == [
        "_staging/f11-run/days.parquet",
        "slots/f8-torn.parquet",
        "slots/snapshot_id=ghost/part-0.parquet",
    ]
    assert not fs.exists(f"{store.root}/slots/snapshot_id=ghost")
    assert not fs.exists(f"{store.root}/_staging")
    assert {t: store.files(t) for t in before} == before
    assert all(fs.exists(path) for paths in before.values() for path in paths)
    pd.testing.assert_frame_equal(store.history(), everything)
    assert store.clean() == []  # nothing left to clean


# -- a writer killed mid-save ---------------------------------------------------------------

_KILLED_WRITER = """
import os, sys, time
sys.path.insert(0, {tests!r})
from test_snapshots import make_snapshot
from zimun_analytics import SnapshotStore
from zimun_analytics.store import _store as store_module


def pause():
    # Test-only hook: say where the save is, then wait there to be killed.
    open({marker!r}, "w").close()
    time.sleep(600)


real_replace = os.replace


def replace(source, target):
    if {stage!r} == "staged":  # every file written and synced, none committed
        pause()
    real_replace(source, target)


store_module.os.replace = replace


class PausingStore(SnapshotStore):
    def _put_manifest(self, manifest):
        if {stage!r} == "before-manifest":
            pause()
        super()._put_manifest(manifest)


PausingStore({root!r}).save(make_snapshot(slots_per_location=50_000))
"""


@pytest.mark.parametrize("stage", ["staged", "before-manifest"])
def test_writer_killed_mid_save_leaves_nothing_visible(tmp_path, stage):
    root, marker = tmp_path / "store", tmp_path / "paused"
    script = _KILLED_WRITER.format(
        tests=str(Path(__file__).parent), marker=str(marker), stage=stage, root=str(root)
    )
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), f"the writer did not reach {stage} (exit {child.poll()})"
    finally:
        child.send_signal(signal.SIGKILL)  # a no-op if it already exited
        child.wait()

    committed = sorted((root / "slots").glob("*.parquet"))  # what a glob of the folder sees
    if stage == "staged":  # nothing in the table folders: no engine sees any of it
        assert committed == [] and list((root / "_staging").glob("*/slots.parquet"))
        left = "_staging/"
    else:  # committed files, no manifest yet: the store ignores them until clean() drops them
        assert [p.name for p in committed] == ["20260327T080000Z-a.parquet"]
        left = "slots/20260327T080000Z-a.parquet"
    assert (root / ".lock").exists()
    store = SnapshotStore(root)
    assert store.list().empty and store.history().empty
    with pytest.raises(SnapshotError, match="no snapshot"):
        store.load("20260327T080000Z-a")
    small = make_snapshot("after-kill")
    assert store.save(small) == small.snapshot_id  # takes the dead writer's lock over
    pd.testing.assert_frame_equal(store.load(small.snapshot_id).slots, _sorted(small.slots, KEYS))
    assert not (root / ".lock").exists()
    assert any(path.startswith(left) for path in store.clean())
    assert not (root / "_staging").exists()
    assert sorted(p.name for p in (root / "slots").glob("*.parquet")) == ["after-kill.parquet"]
    again = make_snapshot()  # the killed run's id, saved whole this time
    assert store.save(again) == again.snapshot_id
    assert store.list()["snapshot_id"].tolist() == [again.snapshot_id, small.snapshot_id]


# -- other engines --------------------------------------------------------------------------


@pytest.fixture
def two_fetches_on_disk(local_store):
    """A local store of two snapshots, and the counts its history gives per snapshot x service."""
    for hour in (8, 9):
        local_store.save(make_snapshot(f"f{hour}", f"2026-03-27T{hour:02d}:00:00Z"))
    history = local_store.history()
    return local_store, history.groupby(["snapshot_id", "service_id"]).size().to_dict()


def _counts(frame: pd.DataFrame) -> dict[tuple[str, str], int]:
    return frame.groupby(["snapshot_id", "service_id"]).size().to_dict()


def _check_types(frame: pd.DataFrame) -> None:
    """What every engine must give: instants in UTC, local dates as dates, ids as strings."""
    for column in ("fetched_at", "slot_start", "slot_end"):
        assert isinstance(frame[column].dtype, pd.DatetimeTZDtype), (column, frame[column].dtype)
        assert str(frame[column].dt.tz) == "UTC"
    first_date = frame["local_date"].iloc[0]
    assert isinstance(first_date, date) or pd.api.types.is_datetime64_dtype(frame["local_date"])
    for column in ("snapshot_id", "service_id", "location_id", "timezone"):
        assert pd.api.types.is_string_dtype(frame[column]), (column, frame[column].dtype)
        assert not isinstance(frame[column].dtype, pd.CategoricalDtype)


def test_plain_pandas_reads_a_table_folder_and_the_listed_files(two_fetches_on_disk):
    store, expected = two_fetches_on_disk
    ours = store.history().dtypes.drop("local_date")
    for source in (f"{store.root}/slots", store.files()):
        frame = pd.read_parquet(source)
        _check_types(frame)
        assert _counts(frame) == expected
        assert dict(frame.dtypes.drop("local_date")) == dict(ours)  # Int16, string, UTC


def test_a_remote_stores_files_are_urls_an_engine_opens(store):
    snapshot = make_snapshot()
    store.save(snapshot)
    (url,) = store.files()
    assert url.startswith("/") if store._local else url.startswith("memory://")
    frame = pd.read_parquet(url)
    assert len(frame) == len(snapshot.slots)


def test_pyarrow_datasets_read_the_folder_with_the_files_own_types(two_fetches_on_disk):
    store, expected = two_fetches_on_disk
    table = ds.dataset(f"{store.root}/slots", format="parquet").to_table()
    assert table.schema.field("snapshot_id").type == pa.string()
    assert table.schema.field("slot_start").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("local_date").type == pa.date32()
    assert _counts(table.to_pandas()) == expected


def test_duckdb_reads_the_folder_glob_and_the_listed_files(two_fetches_on_disk):
    duckdb = pytest.importorskip("duckdb")
    store, expected = two_fetches_on_disk
    for source in (f"'{store.root}/slots/*.parquet'", str(store.files())):
        frame = duckdb.sql(f"select * from read_parquet({source})").df()
        assert _counts(frame) == expected
        described = duckdb.sql(f"describe select * from read_parquet({source})").fetchall()
        types = {row[0]: row[1] for row in described}
        assert types["snapshot_id"] == "VARCHAR" and types["local_date"] == "DATE"
        assert types["slot_start"] == "TIMESTAMP WITH TIME ZONE"


def test_polars_scans_the_folder_and_the_listed_files(two_fetches_on_disk):
    polars = pytest.importorskip("polars")
    store, expected = two_fetches_on_disk
    for source in (f"{store.root}/slots", f"{store.root}/slots/*.parquet", store.files()):
        frame = polars.scan_parquet(source).collect()
        assert frame.schema["snapshot_id"] == polars.String
        assert frame.schema["local_date"] == polars.Date
        assert frame.schema["slot_start"] == polars.Datetime("us", "UTC")
        counts = frame.group_by(["snapshot_id", "service_id"]).len().iter_rows()
        assert {(snapshot, service): n for snapshot, service, n in counts} == expected


# dask 2026.8 on pandas 3.1 calls reset_index(inplace=True), which pandas now warns about
@pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The inplace keyword")
def test_dask_reads_the_folder_with_metadata_that_matches_its_partitions(two_fetches_on_disk):
    dd = pytest.importorskip("dask.dataframe")
    store, expected = two_fetches_on_disk
    lazy = dd.read_parquet(f"{store.root}/slots")
    frame = lazy.compute()
    _check_types(frame)
    assert dict(lazy.dtypes) == dict(frame.dtypes)  # no category in the meta, string inside
    assert _counts(frame) == expected


@pytest.mark.slow
def test_spark_reads_the_folder(two_fetches_on_disk):
    """Runs where Java and pyspark are installed (pip install pyspark; a JDK 17)."""
    pyspark = pytest.importorskip("pyspark.sql")
    if shutil.which("java") is None:
        pytest.skip("no Java")
    store, expected = two_fetches_on_disk
    spark = pyspark.SparkSession.builder.master("local[1]").getOrCreate()
    try:
        frame = spark.read.parquet(f"{store.root}/slots")
        types = dict(frame.dtypes)
        assert types["snapshot_id"] == "string" and types["local_date"] == "date"
        rows = frame.groupBy("snapshot_id", "service_id").count().collect()
        assert {(r["snapshot_id"], r["service_id"]): r["count"] for r in rows} == expected
    finally:
        spark.stop()


def _to_earlier_layout(root: Path) -> None:
    """Rewrite a store as the code before wrote it: slots/snapshot_id=<id>/part-0.parquet."""
    for manifest_path in sorted((root / "manifests").glob("*.json")):
        manifest = json.loads(manifest_path.read_text())
        for name, entry in manifest["files"].items():
            old = root / entry["path"]
            legacy = root / name / f"snapshot_id={manifest['snapshot_id']}" / "part-0.parquet"
            legacy.parent.mkdir(parents=True)
            old.rename(legacy)
            entry["path"] = str(legacy.relative_to(root))
        manifest_path.write_text(json.dumps(manifest))


def test_the_migrate_command_moves_the_store_and_says_what_it_did(two_fetches_on_disk, capsys):
    store, expected = two_fetches_on_disk
    _to_earlier_layout(Path(store.root))
    assert cli_main(["migrate", "--out", store.root, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {"ok": True, "migrated": ["f8", "f9"], "cleaned_files": []}
    assert _counts(pd.read_parquet(f"{store.root}/slots")) == expected
    assert cli_main(["migrate", "--out", store.root]) == 0
    assert capsys.readouterr().out == f"migrated 0 snapshots in {store.root}\n"


def test_migrate_moves_a_store_of_the_earlier_layout_and_keeps_every_row(two_fetches_on_disk):
    store, expected = two_fetches_on_disk
    root = Path(store.root)
    before = store.history()
    _to_earlier_layout(root)
    pd.testing.assert_frame_equal(store.history(), before)  # readable as it is
    with pytest.raises(Exception, match="incompatible types|dictionary"):
        pd.read_parquet(root / "slots")  # what the issue measured: plain pandas fails on it
    assert store.migrate() == ["f8", "f9"]
    assert sorted(p.name for p in (root / "slots").iterdir()) == ["f8.parquet", "f9.parquet"]
    pd.testing.assert_frame_equal(store.history(), before)
    assert _counts(pd.read_parquet(root / "slots")) == expected
    assert store.migrate() == []  # once is enough


# -- diff -----------------------------------------------------------------------------------


def _slot(snapshot: AvailabilitySnapshot, service: str, location: str, start: str) -> pd.Series:
    slots = snapshot.slots
    return (
        (slots["service_id"] == service)
        & (slots["location_id"] == location)
        & (slots["slot_start"] == pd.Timestamp(start))
    )


def test_diff_classifies_vanished_appeared_and_capacity_changed(store):
    a = make_snapshot("a", "2026-03-27T08:00:00Z")
    b = make_snapshot("b", "2026-03-27T09:00:00Z")
    booked = _slot(b, "s_cut", "l_berlin", "2026-03-27T12:00Z")
    released = _slot(a, "s_color", "l_jlm", "2026-03-27T13:30Z")
    fuller = _slot(b, "s_cut", "l_jlm", "2026-03-27T15:00Z")
    b.slots = b.slots[~booked]
    a.slots = a.slots[~released]
    b.slots.loc[fuller, "available"] = 0
    b.slots.loc[_slot(b, "s_beard", "l_jlm", "2026-03-27T16:00Z"), "capacity"] = 1
    store.save(a)
    store.save(b)
    got = diff_snapshots(store.load("a"), store.load("b"))
    assert got[["service_id", "location_id", "change"]].values.tolist() == [
        ["s_beard", "l_jlm", "capacity_changed"],
        ["s_color", "l_jlm", "appeared"],
        ["s_cut", "l_berlin", "vanished"],
        ["s_cut", "l_jlm", "capacity_changed"],
    ]
    assert got.columns.tolist() == DIFF.names
    vanished = got.iloc[2]
    assert (vanished["available_a"], vanished["capacity_a"]) == (2, 2)
    assert vanished["available_b"] is pd.NA and vanished["local_hour"] == 13
    assert vanished["timezone"] == "Europe/Berlin" and vanished["service_name"] == "Haircut"
    assert got.iloc[1]["available_a"] is pd.NA
    assert (
        got.iloc[1]["available_b"]
        == b.slots.loc[_slot(b, "s_color", "l_jlm", "2026-03-27T13:30Z"), "available"].item()
    )
    assert got.iloc[3][["available_a", "available_b"]].tolist() == [
        a.slots.loc[_slot(a, "s_cut", "l_jlm", "2026-03-27T15:00Z"), "available"].item(),
        0,
    ]
    assert got.iloc[0][["capacity_a", "capacity_b"]].tolist() == [pd.NA, 1]
    assert str(got["local_date"].dtype) == "datetime64[ms]"


def test_diff_leaves_out_passed_slots_and_failed_services(store):
    a = make_snapshot("a", "2026-03-27T08:00:00Z")
    failed = [{"snapshot_id": "b", "service_id": "s_color", "location_id": None}]
    b = make_snapshot("b", "2026-03-27T09:00:00Z", errors=failed)
    fetched_b = pd.Timestamp("2026-03-27T09:00Z")
    b.slots = b.slots[(b.slots["slot_start"] >= fetched_b) & (b.slots["service_id"] != "s_color")]
    store.save(a)
    store.save(b)
    assert diff_snapshots(store.load("a"), store.load("b")).empty


# -- the lock -------------------------------------------------------------------------------


def test_second_locker_is_told_who_holds_the_lock(local_store):
    other = SnapshotStore(local_store.url)
    with local_store.lock():
        with pytest.raises(SnapshotError) as caught:
            with other.lock():
                pass  # pragma: no cover
        with local_store.lock():  # re-entrant for the holder
            local_store.save(make_snapshot())
    message = str(caught.value)
    assert f"another export is running (pid {os.getpid()}" in message
    assert f"if it died, delete {local_store.root}/.lock" in message
    with other.lock():  # released
        pass


def test_lock_of_a_dead_process_on_this_host_is_taken_over(local_store):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = Path(local_store.root) / ".lock"
    lock.parent.mkdir(parents=True)
    holder = {"pid": dead.pid, "host": socket.gethostname(), "since": "2026-03-27T08:00:00+00:00"}
    lock.write_text(json.dumps(holder))
    with local_store.lock():
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def test_lock_of_another_host_is_not_taken_over(local_store):
    lock = Path(local_store.root) / ".lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": "yesterday"}))
    with pytest.raises(SnapshotError, match="pid 1 on elsewhere, since yesterday"):
        local_store.save(make_snapshot())


def _write_lock(root, data: bytes, age_s: float = 0.0) -> Path:
    """A .lock with ``data``, its file ``age_s`` seconds old."""
    lock = Path(root) / ".lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_bytes(data)
    then = time.time() - age_s
    os.utime(lock, (then, then))
    return lock


def _record(**changes) -> bytes:
    """A lock record as this process would write it, with ``changes``."""
    return json.dumps(storelock._this_process(3600.0) | changes).encode()


def _ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="seconds")


def _assert_taken_over(store: SnapshotStore) -> None:
    lock = Path(store.root) / ".lock"
    with store.lock():
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def test_a_live_owners_lock_is_refused_in_one_line_naming_it(local_store):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        started = storelock._process_start(sleeper.pid)
        _write_lock(local_store.root, _record(pid=sleeper.pid, process_start=started), 1e6)
        with pytest.raises(SnapshotError) as caught:
            local_store.save(make_snapshot())
    finally:
        sleeper.kill()
        sleeper.wait()
    message = str(caught.value)
    assert "\n" not in message and f"pid {sleeper.pid} on {socket.gethostname()}" in message
    assert message.endswith(f"if it died, delete {local_store.root}/.lock")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{",
        b"\x00\xff not json",
        b"[1, 2]",
        b'{"pid": "12", "host": "h"}',
        b'{"pid": 0, "host": "h"}',  # os.kill(0, ...) would signal our own process group
        b'{"pid": -1, "host": "h"}',
        b'{"host": "h"}',
    ],
)
def test_an_empty_or_garbled_lock_is_taken_over(local_store, data):
    _write_lock(local_store.root, data, age_s=STORE_LOCK_WRITE_GRACE_S + 60)
    _assert_taken_over(local_store)


def test_an_empty_lock_that_may_be_being_written_is_refused_for_a_moment(local_store):
    _write_lock(local_store.root, b"")
    with pytest.raises(SnapshotError, match="empty or garbled, perhaps being written"):
        local_store.save(make_snapshot())


@pytest.mark.parametrize("pid", [1, os.getppid()], ids=["pid 1", "parent"])
def test_a_live_pid_that_started_at_another_time_is_a_reused_pid(local_store, pid):
    started = storelock._process_start(pid)
    if started is None:
        pytest.skip("no /proc: process start times are unknown here")
    _write_lock(local_store.root, _record(pid=pid, process_start=started + 1))
    _assert_taken_over(local_store)


def test_a_lock_of_an_earlier_boot_of_this_host_is_taken_over(local_store):
    _write_lock(local_store.root, _record(pid=1, boot_id="an-earlier-boot"))
    _assert_taken_over(local_store)


def test_a_dead_writers_lock_in_the_current_format_is_taken_over(local_store):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _write_lock(local_store.root, _record(pid=dead.pid))
    _assert_taken_over(local_store)


@pytest.mark.parametrize(
    "changes",
    [{"host": "elsewhere"}, {"pid_ns": "pid:[1]"}, {"process_start": None}],
    ids=["another host", "another pid namespace", "no start time"],
)
def test_an_owner_that_cannot_be_checked_holds_until_its_lease_ends(local_store, changes):
    fresh = _record(**changes, pid=os.getppid(), since=_ago(60), lease_s=600)
    _write_lock(local_store.root, fresh)
    with pytest.raises(SnapshotError, match=r"presumed alive for 5[34]\d s more"):
        local_store.save(make_snapshot())
    _write_lock(
        local_store.root, _record(**changes, pid=os.getppid(), since=_ago(601), lease_s=600)
    )
    _assert_taken_over(local_store)


def test_release_leaves_a_lock_that_someone_else_took_over(local_store):
    lock = storelock.StoreLock(local_store.fs, local_store.root, local=True)
    mine = lock.acquire()
    theirs = _write_lock(local_store.root, _record(pid=1, token="theirs"))
    lock.release(mine)
    assert json.loads(theirs.read_text())["token"] == "theirs"


def test_a_stale_lock_on_an_object_store_is_taken_over_and_a_live_one_refused():
    store = SnapshotStore(f"memory://zimun-{uuid.uuid4().hex}")
    path = f"{store.root}/.lock"
    store.fs.makedirs(store.root, exist_ok=True)
    store.fs.pipe_file(path, _record(pid=1, boot_id="an-earlier-boot"))
    with store.lock():
        assert json.loads(store.fs.cat_file(path))["pid"] == os.getpid()
        with pytest.raises(SnapshotError, match=f"pid {os.getpid()}"):
            SnapshotStore(store.url).save(make_snapshot())
    assert not store.fs.exists(path)
    store.fs.rm(store.root, recursive=True)


def test_a_taker_paused_mid_takeover_is_not_overtaken(local_store, monkeypatch):
    """The interleaving that breaks a naive check-remove-create: two takers judge one stale lock."""
    _write_lock(local_store.root, b"", age_s=STORE_LOCK_WRITE_GRACE_S + 60)
    judge, create = storelock.StoreLock._judge, storelock.StoreLock._create
    paused, second_tried = threading.Event(), threading.Event()

    def judge_then_pause(self, *args):
        verdict = judge(self, *args)
        if not paused.is_set():  # the first taker, having found the lock stale, waits ...
            paused.set()
            assert second_tried.wait(30)  # ... until the second has had its go at the lock
        return verdict

    def create_and_tell(self, data):
        made = create(self, data)
        if paused.is_set() and threading.current_thread().name == "second":
            second_tried.set()
        return made

    monkeypatch.setattr(storelock.StoreLock, "_judge", judge_then_pause)
    monkeypatch.setattr(storelock.StoreLock, "_create", create_and_tell)
    outcomes: dict[str, str] = {}

    def take(name):
        lock = storelock.StoreLock(local_store.fs, local_store.root, local=True)
        try:
            lock.acquire()
            outcomes[name] = "won"
        except SnapshotError:
            outcomes[name] = "refused"

    first = threading.Thread(target=take, args=("first",), name="first")
    first.start()
    assert paused.wait(30)
    second = threading.Thread(target=take, args=("second",), name="second")
    second.start()
    first.join(60)
    second.join(60)
    assert outcomes == {"first": "won", "second": "refused"}


_TAKER = """
import os, sys, time
import fsspec
from zimun_analytics._errors import SnapshotError
from zimun_analytics.store._lock import StoreLock

root, go, done = sys.argv[1:]
lock = StoreLock(fsspec.filesystem("file"), root, local=True)
print("ready", flush=True)
while not os.path.exists(go):
    pass  # spin: all takers start together
try:
    held = lock.acquire()
    print("won", flush=True)
except SnapshotError:
    held = None
    print("refused", flush=True)
while not os.path.exists(done):  # the winner keeps holding until everyone has tried
    time.sleep(0.01)
if held:
    lock.release(held)
"""


@pytest.mark.slow
def test_of_concurrent_takers_of_a_stale_lock_exactly_one_wins(local_store, tmp_path):
    _write_lock(local_store.root, b"", age_s=STORE_LOCK_WRITE_GRACE_S + 60)  # stale: all race
    go, done = tmp_path / "go", tmp_path / "done"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", _TAKER, local_store.root, str(go), str(done)]
    takers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) for _ in range(4)
    ]
    try:
        assert [taker.stdout.readline() for taker in takers] == ["ready\n"] * 4
        go.touch()
        outcomes = sorted(taker.stdout.readline().strip() for taker in takers)
        done.touch()
        assert [taker.wait(timeout=60) for taker in takers] == [0] * 4
    finally:
        for taker in takers:
            taker.kill()
            taker.wait()
            taker.stdout.close()
    assert outcomes == ["refused", "refused", "refused", "won"]
    assert not (Path(local_store.root) / ".lock").exists()


# -- notebook views ---------------------------------------------------------------------------


def _manifest_files(store: SnapshotStore) -> list[dict]:
    """The manifests as stored, read straight from the files, not through the store."""
    paths = store.fs.glob(f"{store.root}/manifests/*.json")
    return [json.loads(store.fs.cat_file(path)) for path in paths]


def test_store_repr_is_its_url_and_reads_nothing(tmp_path):
    store = SnapshotStore(tmp_path / "not-yet")
    store.fs = None  # any I/O would now fail
    assert repr(store) == f"SnapshotStore({str(tmp_path / 'not-yet')!r})"


def test_store_html_numbers_match_the_listing_and_the_manifests(store):
    failed = [{"snapshot_id": "a", "service_id": "s_cut", "location_id": "l_jlm"}]
    store.save(make_snapshot("a", "2026-03-27T08:00:00Z", errors=failed))
    store.save(make_snapshot("b", "2026-03-27T09:30:00Z", slots_per_location=100))
    store.save(make_snapshot("c", "2026-03-27T11:00:00Z", slots_per_location=50))
    listing, manifests = store.list(), _manifest_files(store)
    n_bytes = sum(entry["bytes"] for m in manifests for entry in m["files"].values())
    on_disk = sum(
        store.fs.size(path) for table in ("slots", "days", "errors") for path in store.files(table)
    )
    assert n_bytes == on_disk  # the manifests tell the truth about the files
    assert 1024 <= n_bytes < 1024**2  # so the size reads in KiB
    rows = html_tables.summary(store._repr_html_())
    assert rows == {
        "root": store.url,
        "snapshots": "3",
        "slots (rows)": f"{listing['n_slots'].sum():,}",
        "days (rows)": f"{listing['n_days'].sum():,}",
        "size on disk": f"{n_bytes:,} bytes ({n_bytes / 1024:.1f} KiB)",
        "first fetched_at (UTC)": listing["fetched_at"].min().strftime("%Y-%m-%d %H:%M:%S"),
        "last fetched_at (UTC)": listing["fetched_at"].max().strftime("%Y-%m-%d %H:%M:%S"),
        "latest snapshot": "c",
        "incomplete (failed services)": str((~listing["complete"]).sum()),
    }
    assert listing["n_slots"].sum() == 864 + 600 + 300 and (~listing["complete"]).sum() == 1


def test_store_html_orders_fetches_by_instant_not_by_text(local_store):
    local_store.save(make_snapshot("later", "2026-03-27T08:00:00.500Z"))
    local_store.save(make_snapshot("sooner", "2026-03-27T08:00:00Z"))
    assert html_tables.summary(local_store._repr_html_())["latest snapshot"] == "later"


@pytest.mark.parametrize("setup", ["missing", "empty", "foreign"])
def test_store_html_of_an_empty_or_foreign_folder_says_empty(tmp_path, setup):
    root = tmp_path / "store"
    if setup != "missing":
        root.mkdir()
    if setup == "foreign":
        (root / "thesis.docx").write_text("not a snapshot")
    rows = html_tables.summary(SnapshotStore(root)._repr_html_())
    assert rows == {"root": str(root), "snapshots": "0: empty, no snapshot saved here yet"}


def _unreadable_manifest(store: SnapshotStore) -> str:
    (Path(store.root) / "manifests" / "broken.json").write_text("{")
    return "broken.json is damaged"


def _manifest_without_sizes(store: SnapshotStore) -> str:
    path = Path(store.root) / "manifests" / "20260327T080000Z-a.json"
    manifest = json.loads(path.read_text())
    del manifest["files"]["days"]["bytes"]
    path.write_text(json.dumps(manifest))
    return "its days entry is"


def _root_is_a_file(store: SnapshotStore) -> str:
    shutil.rmtree(store.root)
    Path(store.root).write_text("oops")
    return "is a file, not a snapshot store"


@pytest.mark.parametrize("damage", [_unreadable_manifest, _manifest_without_sizes, _root_is_a_file])
def test_store_html_of_a_damaged_store_says_what_is_wrong_in_one_line(local_store, damage):
    local_store.save(make_snapshot())
    expected = damage(local_store)
    rows = html_tables.summary(local_store._repr_html_())
    assert list(rows)[:2] == ["root", "problem"]
    assert expected in rows["problem"] and "\n" not in rows["problem"]
    assert len(rows["problem"]) <= 300


USER, SECRET = "AKIAEXAMPLE", "s3cr3t/w@rd"  # AWS secret keys may hold "/"; raw ones "@"


@pytest.mark.parametrize(
    "form",
    [
        "s3://{}@bucket-{}/zimun",
        "https://{}@host.example/{}/zimun",
        "simplecache::s3://{}@bucket-{}/zimun",
        "memory://{}@bucket-{}/zimun",
    ],
)
def test_credentials_in_the_url_never_show(form, monkeypatch):
    url = form.format(f"{USER}:{SECRET}", uuid.uuid4().hex)
    if not url.startswith("memory://"):
        # No s3fs or aiohttp here: keep the URL, put the files in memory. Like s3fs and HTTP,
        # the path keeps the credentials, so the messages that name files are checked too.
        memory = fsspec.filesystem("memory")
        monkeypatch.setattr(
            fsspec.core, "url_to_fs", lambda given, **_: (memory, "/" + given.split("://")[-1])
        )
    store = SnapshotStore(url)
    try:
        shown = url.replace(f"{USER}:{SECRET}", "***")
        assert repr(store) == f"SnapshotStore({shown!r})"
        store.save(make_snapshot())
        assert html_tables.summary(store._repr_html_())["root"] == shown
        with pytest.raises(SnapshotError) as caught:
            store.save(make_snapshot())
        store.fs.pipe_file(f"{store.root}/manifests/broken.json", b"{")
        # a remote reader trusts the catalogue, which a damaged manifest never enters: as
        # in a store written before the catalogue, read the manifests themselves
        store.fs.rm(f"{store.root}/manifests/_catalog.parquet")
        problem = html_tables.summary(store._repr_html_())["problem"]
        assert "broken.json is damaged" in problem
        with pytest.raises(SnapshotError, match="broken.json is damaged") as damaged:
            store.list(strict=True)
        with pytest.warns(DamagedSnapshotWarning) as warned:
            store.list()
        texts = (repr(store), store._repr_html_(), problem, str(caught.value), str(damaged.value))
        texts += tuple(str(w.message) for w in warned)
        for text in texts:
            assert USER not in text and "s3cr3t" not in text
    finally:
        store.fs.rm(store.root, recursive=True)


@pytest.mark.parametrize("tail", ["\nTraceback follows", " ..." * 200])
def test_store_html_of_a_failing_filesystem_shows_one_short_redacted_line(monkeypatch, tail):
    url = f"memory://{USER}:{SECRET}@bucket/zimun"
    store = SnapshotStore(url)

    def refused(*args, **kwargs):
        raise ConnectionError(f"cannot reach {url}: refused{tail}")

    monkeypatch.setattr(store.fs, "exists", refused)  # the first thing every read asks
    problem = html_tables.summary(store._repr_html_())["problem"]
    assert problem.startswith("ConnectionError: cannot reach memory://***@bucket/zimun: refused")
    assert "\n" not in problem and len(problem) <= 300 and USER not in problem
    if tail.startswith(" ..."):
        assert len(problem) == 300 and problem.endswith("\N{HORIZONTAL ELLIPSIS}")


# -- damage is contained and visible ----------------------------------------------------------


@pytest.fixture
def three_on_disk(local_store):
    """A local store of three snapshots (f8, f9, f10), and its whole history."""
    for hour in (8, 9, 10):
        local_store.save(make_snapshot(f"f{hour}", f"2026-03-27T{hour:02d}:00:00Z"))
    return local_store, local_store.history()


def _slots_file(store: SnapshotStore, snapshot_id: str) -> Path:
    return Path(store.root) / "slots" / f"{snapshot_id}.parquet"


def _truncate(store, path):
    path.write_bytes(path.read_bytes()[:-100])


def _delete(store, path):
    path.unlink()


def _swap(store, path):  # a sound Parquet file of another snapshot, of the same schema
    path.write_bytes(_slots_file(store, "f8").read_bytes())


def _scramble(store, path):  # the same size, bytes changed inside
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_truncate, "bytes where it wrote"),
        (_delete, "is missing"),
        (_swap, None),  # may keep the size: the sha256 or the footer's id finds it
        (_scramble, None),  # the size holds: a read or the sha256 finds it
    ],
    ids=["truncated", "deleted", "swapped", "scrambled"],
)
def test_a_damaged_file_is_left_out_of_history_with_a_warning_naming_it(
    three_on_disk, damage, said
):
    store, everything = three_on_disk
    damage(store, _slots_file(store, "f9"))
    sound = everything[everything["snapshot_id"] != "f9"].reset_index(drop=True)
    with pytest.warns(DamagedSnapshotWarning, match="snapshot 'f9'") as warned:
        got = store.history(verify="hash")
    pd.testing.assert_frame_equal(got, sound)  # never wrong rows, the rest all there
    if said:
        assert said in str(warned[0].message)
        with pytest.warns(DamagedSnapshotWarning, match=said):
            pd.testing.assert_frame_equal(store.history(), sound)  # the size check alone
    with pytest.raises(SnapshotError, match="snapshot 'f9'"):
        store.history(strict=True, verify="hash")
    with pytest.raises(SnapshotError, match="snapshot 'f9'"):
        store.load("f9")
    problems = store.verify()
    assert problems["snapshot_id"].tolist() == ["f9"]
    assert problems["path"].tolist() == ["slots/f9.parquet"]


def test_a_manifest_with_a_bad_fetched_at_is_left_out_not_a_raw_pandas_error(three_on_disk):
    store, everything = three_on_disk
    path = Path(store.root) / "manifests" / "f9.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(manifest | {"fetched_at": "yesterday-ish"}))
    with pytest.warns(DamagedSnapshotWarning, match=r"f9\.json is damaged.*fetched_at|yesterday"):
        assert store.list()["snapshot_id"].tolist() == ["f8", "f10"]
    with pytest.raises(SnapshotError, match=r"f9\.json is damaged"):
        store.history(strict=True)
    (problem,) = store.verify().itertuples()
    assert problem.path == "manifests/f9.json"


def test_clean_never_deletes_the_files_of_a_damaged_manifest(three_on_disk):
    store, _ = three_on_disk
    (Path(store.root) / "manifests" / "f9.json").write_text("{")
    assert store.clean() == []
    assert _slots_file(store, "f9").exists()


def test_verify_lists_every_problem_and_the_command_exits_1(three_on_disk, capsys):
    store, _ = three_on_disk
    _truncate(store, _slots_file(store, "f8"))
    _scramble(store, Path(store.root) / "days" / "f9.parquet")
    (Path(store.root) / "manifests" / "f10.json").write_text("[]")
    (Path(store.root) / "slots" / "ghost.parquet").write_bytes(b"PAR1")
    problems = store.verify()
    assert sorted(problems["path"]) == [
        "days/f9.parquet",
        "manifests/f10.json",
        "slots/f8.parquet",
        "slots/ghost.parquet",
    ]
    assert cli_main(["verify", "--out", store.root]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 5 and out.endswith(f"4 problems in {store.root}\n")
    assert cli_main(["verify", "--out", store.root, "--quick", "--json"]) == 1
    quick = json.loads(capsys.readouterr().out)
    assert quick["ok"] is False  # the scrambled file keeps its size: only sha256 finds it
    assert "days/f9.parquet" not in {row["path"] for row in quick["problems"]}


def test_verify_of_a_sound_store_is_empty_and_exits_0(three_on_disk, capsys):
    store, _ = three_on_disk
    assert store.verify().empty
    assert cli_main(["verify", "--out", store.root, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "problems": []}


# -- what a second reader found: nothing is deleted, followed or shown that must not be ------


def test_clean_keeps_the_files_of_every_snapshot_that_has_a_manifest(two_fetches_on_disk):
    store, _ = two_fetches_on_disk
    root = Path(store.root)
    _to_earlier_layout(root)
    for table in ("slots", "days", "errors"):  # where a stopped move would have put them
        (root / table / "snapshot_id=f8" / "part-0.parquet").rename(root / table / "f8.parquet")
    assert store.clean() == []
    assert (root / "slots" / "f8.parquet").exists()


def test_clean_refuses_when_the_manifests_are_gone(three_on_disk):
    store, _ = three_on_disk
    root = Path(store.root)
    shutil.rmtree(root / "manifests")
    with pytest.raises(SnapshotError, match="no manifest at all"):
        store.clean()
    (root / "manifests").write_text("not a folder")
    with pytest.raises(SnapshotError, match="manifests is a file"):
        store.clean()
    with pytest.raises(SnapshotError, match="manifests is a file"):
        store.list()
    assert len(list((root / "slots").glob("*.parquet"))) == 3  # nothing deleted
    assert cli_main(["migrate", "--out", store.root]) == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (("files", "slots", "path"), "slots/f10.parquet"),  # another snapshot's file
        (("files", "slots", "path"), "/etc/passwd"),
        (("files", "slots", "path"), "../../elsewhere/slots/f9.parquet"),
        (("snapshot_id",), "f10"),  # not its file's name
        (("files", "slots", "rows"), True),
        (("files", "slots", "bytes"), 2**70),
        (("meta", "api_host"), 5),
        (("services",), "s_cut"),
    ],
)
def test_a_manifest_that_points_elsewhere_or_lies_is_damaged_not_followed(
    three_on_disk, field, value
):
    store, everything = three_on_disk
    path = Path(store.root) / "manifests" / "f9.json"
    manifest = json.loads(path.read_text())
    target = manifest
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    path.write_text(json.dumps(manifest))
    sound = everything[everything["snapshot_id"] != "f9"].reset_index(drop=True)
    with pytest.warns(DamagedSnapshotWarning, match=r"f9\.json is damaged"):
        assert store.list()["snapshot_id"].tolist() == ["f8", "f10"]
    with pytest.warns(DamagedSnapshotWarning):
        pd.testing.assert_frame_equal(store.history(), sound)
    assert store.clean() == []  # its own files stay: it may be restored
    assert _slots_file(store, "f9").exists()


def test_a_deeply_nested_manifest_is_damaged_not_a_recursion_error(three_on_disk):
    store, _ = three_on_disk
    (Path(store.root) / "manifests" / "f9.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.warns(DamagedSnapshotWarning, match="RecursionError"):
        assert store.list()["snapshot_id"].tolist() == ["f8", "f10"]


def test_two_files_of_the_same_size_swapped_are_found_by_their_footers(local_store):
    for snapshot_id in ("g1", "g2", "g3"):  # the same rows but for the id: the same size
        local_store.save(make_snapshot(snapshot_id, "2026-03-27T08:00:00Z"))
    everything = local_store.history()
    first, second = _slots_file(local_store, "g1"), _slots_file(local_store, "g2")
    assert first.stat().st_size == second.stat().st_size  # what the size check cannot see
    one, two = first.read_bytes(), second.read_bytes()
    first.write_bytes(two)
    second.write_bytes(one)
    with pytest.warns(DamagedSnapshotWarning, match="another snapshot's rows") as warned:
        got = local_store.history()
    assert len(warned) == 2
    kept = everything[everything["snapshot_id"] == "g3"].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, kept)


def test_a_flipped_bit_never_becomes_other_rows(three_on_disk):
    store, everything = three_on_disk
    path = _slots_file(store, "f9")
    original = path.read_bytes()
    sound = everything[everything["snapshot_id"] != "f9"].reset_index(drop=True)
    footer = int.from_bytes(original[-8:-4], "little") + 8
    for offset in range(4, len(original) - footer, max(1, (len(original) - footer) // 60)):
        flipped = bytearray(original)
        flipped[offset] ^= 0x10
        path.write_bytes(bytes(flipped))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            got = store.history()
        if seen:  # found: the snapshot is left out, the rest intact
            pd.testing.assert_frame_equal(got, sound)
        else:  # a byte no value lives in (padding, an unused header bit): nothing changed
            pd.testing.assert_frame_equal(got, everything)
    path.write_bytes(original)


def test_history_bounds_compare_as_instants_to_the_microsecond(three_on_disk):
    store, _ = three_on_disk
    just_after = pd.Timestamp("2026-03-27T08:00:00.0000005Z")
    assert set(store.history(end=just_after)["snapshot_id"]) == {"f8"}
    assert set(store.history(start=just_after)["snapshot_id"]) == {"f9", "f10"}


@pytest.mark.parametrize("services", [5, [5], [None]])
def test_history_refuses_ids_that_are_not_text(three_on_disk, services):
    store, _ = three_on_disk
    with pytest.raises(InputError, match="not an id"):
        store.history(services=services)


def test_history_refuses_a_column_named_twice(three_on_disk):
    store, _ = three_on_disk
    with pytest.raises(InputError, match="twice"):
        store.history(columns=["service_id", "service_id"])


def test_migrate_rewrites_files_so_plain_pandas_gets_the_stores_dtypes(two_fetches_on_disk):
    store, _ = two_fetches_on_disk
    root = Path(store.root)
    _to_earlier_layout(root)
    for legacy in root.glob("*/snapshot_id=*/part-0.parquet"):  # as the earlier code wrote them
        table = pq.read_table(legacy)
        pq.write_table(
            table.replace_schema_metadata(
                {k: v for k, v in table.schema.metadata.items() if k != b"pandas"}
            ),
            legacy,
        )
    for manifest_path in (root / "manifests").glob("*.json"):  # their sha256 as written
        manifest = json.loads(manifest_path.read_text())
        for entry in manifest["files"].values():
            data = (root / entry["path"]).read_bytes()
            entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
        manifest_path.write_text(json.dumps(manifest))
    assert store.migrate() == ["f8", "f9"]
    assert not list(root.glob("*/snapshot_id=*"))
    plain = pd.read_parquet(root / "slots")
    assert str(plain["capacity"].dtype) == "Int16" and str(plain["local_hour"].dtype) == "Int8"
    assert store.verify().empty


def test_the_cli_never_prints_credentials_of_the_store_url(capsys):
    url = f"memory://dana:{SECRET}@bucket-{uuid.uuid4().hex[:8]}/x"
    try:
        assert cli_main(["snapshot", "--sandbox", "--out", url, "--json"]) == 0
        assert cli_main(["verify", "--out", url.replace("/x", "/nothing")]) == 2
        out = capsys.readouterr()
        assert "s3cr3t" not in out.out + out.err and "***" in out.out + out.err
    finally:
        fsspec.filesystem("memory").rm(url.split("://")[1].split("/")[0], recursive=True)


def test_a_storage_option_for_a_local_folder_is_a_usage_error(tmp_path, capsys):
    code = cli_main(["migrate", "--out", str(tmp_path), "--storage-option", "bogus_option=1"])
    assert code == 2
    assert "--storage-option is for object stores" in capsys.readouterr().err


def test_the_cli_says_a_skipped_snapshot_in_one_warning_line(three_on_disk, capsys):
    store, _ = three_on_disk
    (Path(store.root) / "manifests" / "broken.json").write_text("{")
    assert cli_main(["migrate", "--out", store.root]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: skipped: manifest") and err.count("\n") == 1


def test_threads_sharing_a_store_take_turns_and_one_id_is_saved_once(local_store):
    results: list[object] = []

    def save() -> None:
        try:
            results.append(local_store.save(make_snapshot("same")))
        except SnapshotError as error:
            results.append(error)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("same") == 1
    assert all("already in" in str(r) for r in results if r != "same")
    assert local_store.verify().empty


# -- years of snapshots: compaction and retention -----------------------------------------------


@pytest.fixture
def three_days(local_store):
    """Four snapshots a day on 2026-03-25..27 (hours 0, 6, 12, 18), and the whole history."""
    for day in (25, 26, 27):
        for hour in (0, 6, 12, 18):
            fetched = f"2026-03-{day}T{hour:02d}:00:00Z"
            local_store.save(make_snapshot(f"d{day}h{hour:02d}", fetched, slots_per_location=30))
    return local_store, local_store.history()


def test_compact_merges_each_past_day_and_every_reader_sees_the_same(three_days):
    store, everything = three_days
    root = Path(store.root)
    loaded = store.load("d25h06")
    listed = store.list()
    done = store.compact(before="2026-03-27T00:00:00Z")
    assert done["day"].tolist() == ["2026-03-25", "2026-03-26"]
    assert done["snapshots"].tolist() == [4, 4]
    assert len(list((root / "slots").glob("*.parquet"))) == 2 + 4  # two days, four loose
    pd.testing.assert_frame_equal(store.history(), everything)  # same rows, same order
    pd.testing.assert_frame_equal(store.load("d25h06").slots, loaded.slots)
    pd.testing.assert_frame_equal(store.load("d25h06").days, loaded.days)
    pd.testing.assert_frame_equal(store.list(), listed)
    one = store.history(services=["s_cut"], start="2026-03-25T05:00:00Z", end="2026-03-26T07:00Z")
    expected = everything[
        (everything["service_id"] == "s_cut")
        & everything["snapshot_id"].isin(["d25h06", "d25h12", "d25h18", "d26h00", "d26h06"])
    ].reset_index(drop=True)
    pd.testing.assert_frame_equal(one, expected)
    assert store.verify().empty
    assert len(pd.read_parquet(root / "slots")) == len(everything)  # no row twice for engines
    assert store.compact(before="2026-03-27T00:00:00Z").empty  # once is enough


def test_prune_deletes_old_snapshots_and_rewrites_a_day_that_keeps_some(three_days):
    store, everything = three_days
    store.compact(before="2026-03-28T00:00:00Z")
    assert store.prune(before="2026-03-26T12:00:00Z") == [
        "d25h00",
        "d25h06",
        "d25h12",
        "d25h18",
        "d26h00",
        "d26h06",
    ]
    kept = everything[everything["fetched_at"] >= pd.Timestamp("2026-03-26T12:00Z")]
    pd.testing.assert_frame_equal(store.history(), kept.reset_index(drop=True))
    plain = pd.read_parquet(Path(store.root) / "slots")  # an engine sees no pruned row
    assert set(plain["snapshot_id"]) == {"d26h12", "d26h18", "d27h00", "d27h06", "d27h12", "d27h18"}
    assert store.prune(keep_last=2) == ["d26h12", "d26h18", "d27h00", "d27h06"]
    assert store.list()["snapshot_id"].tolist() == ["d27h12", "d27h18"]
    assert store.verify().empty
    with pytest.raises(InputError, match="one of them"):
        store.prune()
    with pytest.raises(InputError, match="keep_last"):
        store.prune(keep_last=-1)


def test_the_compact_and_prune_commands(three_days, capsys):
    store, everything = three_days
    assert cli_main(["compact", "--out", store.root, "--before", "2026-03-27T00:00:00Z"]) == 0
    assert capsys.readouterr().out == f"compacted 2 days in {store.root}\n"
    pd.testing.assert_frame_equal(store.history(), everything)
    assert cli_main(["prune", "--out", store.root, "--keep-last", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"][-1] == "d27h00"
    assert cli_main(["prune", "--out", store.root]) == 2
    assert "one of them" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # argparse's own usage error
        cli_main(["prune", "--out", store.root, "--before", "2026-03-27"])
    assert refused.value.code == 2 and "has no time zone" in capsys.readouterr().err
