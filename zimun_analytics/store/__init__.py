"""The store room: snapshots as plain Parquet folders on a disk or an object store.

Imports only the foundations: a snapshot comes in as an ``AvailabilitySnapshot`` and goes
out as one, whoever fetched it.
"""

from ._store import SnapshotStore, secrets_in

__all__ = ["SnapshotStore", "secrets_in"]
