"""The snapshot store on a real S3 API: moto's server on 127.0.0.1, reached through s3fs.

The server runs in this process on a free port; each test gets buckets of its own. Credentials
are moto's (any key and secret work) and travel only as storage options or the CLI's
``--storage-option`` / ``ZIMUN_STORAGE_OPTIONS``, never through AWS_* variables, so a test
cannot reach real AWS by accident.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pandas as pd
import pytest
from test_snapshots import KEYS, _sorted, make_snapshot

from zimun_analytics import SnapshotError, SnapshotStore
from zimun_analytics._errors import ConfigError

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("s3fs")

KEY, SECRET = "AKIAMOTOEXAMPLE", "m0to-s3cr3t-value"
# no AWS_* from the machine: the tests talk to moto only, and say so when they do not
CLEAN_ENV = {
    name: value
    for name, value in os.environ.items()
    if not name.startswith("AWS_") and name != "ZIMUN_STORAGE_OPTIONS"
} | {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@pytest.fixture(scope="module")
def endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"
    finally:
        server.stop()


@pytest.fixture
def options(endpoint):
    return {"endpoint_url": endpoint, "key": KEY, "secret": SECRET}


@pytest.fixture
def s3(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )


@pytest.fixture
def bucket(s3):
    name = f"zimun-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _buckets(s3) -> set[str]:
    return {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_a_store_on_s3_saves_lists_loads_and_reads_history(bucket, options):
    store = SnapshotStore(f"s3://{bucket}/zimun", storage_options=options)
    first, second = make_snapshot("f8"), make_snapshot("f9", "2026-03-27T09:00:00Z")
    store.save(first)
    store.save(second)
    assert store.list()["snapshot_id"].tolist() == ["f8", "f9"]
    pd.testing.assert_frame_equal(store.load("f8").slots, _sorted(first.slots, KEYS))
    assert len(store.history()) == len(first.slots) + len(second.slots)
    assert store.verify().empty


def test_files_are_urls_that_pandas_opens_with_the_same_options(bucket, options):
    store = SnapshotStore(f"s3://{bucket}/zimun", storage_options=options)
    store.save(make_snapshot("f8"))
    store.save(make_snapshot("f9", "2026-03-27T09:00:00Z"))
    urls = store.files()
    assert urls == [
        f"s3://{bucket}/zimun/slots/f8.parquet",
        f"s3://{bucket}/zimun/slots/f9.parquet",
    ]
    whole = pd.read_parquet(f"s3://{bucket}/zimun/slots", storage_options=options)
    one = pd.read_parquet(urls[0], storage_options=options)
    assert sorted(whole["snapshot_id"].unique()) == ["f8", "f9"] and set(one["snapshot_id"]) == {
        "f8"
    }


def test_a_missing_bucket_is_a_clear_error_and_is_never_created(s3, options):
    typo = f"zimnu-typo-{uuid.uuid4().hex[:8]}"
    store = SnapshotStore(f"s3://{typo}/zimun", storage_options=options)
    with pytest.raises(ConfigError, match=f"bucket '{typo}'.*does not exist.*never creates"):
        store.save(make_snapshot())
    with pytest.raises(ConfigError, match="does not exist"):
        store.list()
    assert typo not in _buckets(s3)


def test_the_lock_is_created_conditionally_so_a_second_writer_is_refused(bucket, options):
    url = f"s3://{bucket}/zimun"
    first = SnapshotStore(url, storage_options=options)
    second = SnapshotStore(url, storage_options=options)
    with first.lock(), pytest.raises(SnapshotError, match="lock"):
        with second.lock():
            pass
    with second.lock():  # released: the next writer gets it
        pass


def test_a_manifest_is_put_only_if_none_is_there(bucket, options):
    store = SnapshotStore(f"s3://{bucket}/zimun", storage_options=options)
    store.save(make_snapshot("f8"))
    path = f"{store.root}/manifests/f8.json"
    with pytest.raises(SnapshotError, match="committed by another writer"):
        store._put_once(path, b"{}")  # what a racing writer of the same id would do
    assert json.loads(store.fs.cat_file(path))["snapshot_id"] == "f8"  # the first one stands


def test_no_secret_reaches_manifests_files_reprs_or_errors(s3, bucket, options):
    store = SnapshotStore(f"s3://{bucket}/zimun", storage_options=options)
    store.save(make_snapshot())
    stored = b"".join(
        s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in s3.list_objects_v2(Bucket=bucket)["Contents"]
    )
    missing = SnapshotStore(f"s3://zimnu-{uuid.uuid4().hex[:8]}/x", storage_options=options)
    with pytest.raises(ConfigError) as caught:
        missing.list()
    for text in (stored, repr(store).encode(), store._repr_html_().encode(), str(caught.value)):
        text = text if isinstance(text, bytes) else text.encode()
        assert SECRET.encode() not in text and KEY.encode() not in text


def _cli(args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "zimun_analytics", *args],
        capture_output=True,
        text=True,
        env=CLEAN_ENV | (env or {}),
        timeout=120,
    )


def test_the_snapshot_command_exports_to_s3_with_storage_options(s3, bucket, endpoint):
    flags = [
        "--storage-option",
        f"endpoint_url={endpoint}",
        "--storage-option",
        f"key={KEY}",
        "--storage-option",
        f"secret={SECRET}",
    ]
    run = _cli(["snapshot", "--sandbox", "--out", f"s3://{bucket}/zimun", *flags, "--json"])
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert f"zimun/manifests/{summary['snapshot_id']}.json" in keys
    assert f"zimun/slots/{summary['snapshot_id']}.parquet" in keys
    assert SECRET not in run.stdout + run.stderr
    verify = _cli(["verify", "--out", f"s3://{bucket}/zimun", *flags])
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_the_storage_options_can_come_from_the_environment(s3, bucket, endpoint):
    options = json.dumps({"endpoint_url": endpoint, "key": KEY, "secret": SECRET})
    run = _cli(
        ["snapshot", "--sandbox", "--out", f"s3://{bucket}/zimun", "--quiet"],
        {"ZIMUN_STORAGE_OPTIONS": options},
    )
    assert run.returncode == 0, run.stderr
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="zimun/manifests/")["Contents"]
    assert sorted(item["Key"].rsplit(".", 1)[-1] for item in listed) == ["json", "parquet"]


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--storage-option", "endpoint_url"], {}, "is not KEY=VALUE"),
        (["--storage-option", "=x"], {}, "is not KEY=VALUE"),
        ([], {"ZIMUN_STORAGE_OPTIONS": "{not json"}, "ZIMUN_STORAGE_OPTIONS is not a JSON"),
        ([], {"ZIMUN_STORAGE_OPTIONS": "[1]"}, "ZIMUN_STORAGE_OPTIONS is not a JSON"),
    ],
)
def test_bad_storage_options_are_usage_errors(bucket, args, env, said):
    run = _cli(["snapshot", "--sandbox", "--out", f"s3://{bucket}/zimun", *args], env)
    assert run.returncode == 2 and said in run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def test_a_mistyped_bucket_is_one_line_exit_2_and_stays_missing(s3, endpoint):
    typo = f"zimnu-typo-{uuid.uuid4().hex[:8]}"
    options = json.dumps({"endpoint_url": endpoint, "key": KEY, "secret": SECRET})
    run = _cli(
        ["snapshot", "--sandbox", "--out", f"s3://{typo}/zimun"],
        {"ZIMUN_STORAGE_OPTIONS": options},
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and f"bucket '{typo}'" in run.stderr
    assert typo not in _buckets(s3)


def test_no_endpoint_and_no_credentials_is_one_line_not_a_botocore_traceback(bucket):
    run = _cli(["snapshot", "--sandbox", "--out", f"s3://{bucket}/zimun"])
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith("error: object store: Unable to locate credentials")
    assert "--storage-option endpoint_url=" in run.stderr


def test_list_and_history_cost_a_constant_number_of_requests_not_one_per_manifest(
    bucket, options, caplog
):
    """s3fs logs each S3 call it makes ("CALL: <operation>"): counted over 3 and 12 snapshots."""
    url = f"s3://{bucket}/zimun"
    counts = {}
    for total in (3, 12):
        writer = SnapshotStore(url, storage_options=options)
        have = len(writer.list())
        for index in range(have, total):
            writer.save(make_snapshot(f"f{index:02d}", f"2026-03-27T{index:02d}:00:00Z"))
        reader = SnapshotStore(url, storage_options=options)  # a fresh process's reader
        with caplog.at_level("DEBUG", logger="s3fs"):
            caplog.clear()
            assert len(reader.list()) == total
            listed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("CALL")]
        counts[total] = len(listed)
    # the bucket, the root (is it a folder?) and the catalogue: 6 calls, however many manifests
    assert counts[3] == counts[12] <= 6, counts
