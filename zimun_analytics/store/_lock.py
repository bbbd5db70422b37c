"""The writer lock of a snapshot store: ``<root>/.lock``, naming who holds it and since when.

The lock is a small JSON record: host name, boot id and pid namespace of the host, the pid and
start time of the process, the creation time, a lease and a random token. A new writer finds
the lock stale, and takes it over, when its owner cannot be running any more:

- the owner ran on this host, in this boot and pid namespace: stale unless its pid runs *and*
  started when the lock says (else the pid was reused by an unrelated process);
- the owner ran on this host name in an earlier boot: stale (it ended with that boot);
- the owner cannot be checked (another host, another pid namespace such as a container, or a
  lock without a start time, as older versions and non-Linux systems write them): presumed
  alive for its lease (``STORE_LOCK_LEASE_S`` unless it says otherwise), stale after that;
- empty or garbled: stale once older than ``STORE_LOCK_WRITE_GRACE_S``, since an older version
  may be between creating it and writing it.

A live owner's lock is refused with one line that names it and says how to remove the lock.

On local disks the lock is written in full to a private file first and then hard-linked to
``.lock`` (atomic, and refused if ``.lock`` exists), so it is never seen half-written; a stale
lock is replaced by an atomic ``rename`` while the taker holds an exclusive ``flock`` on the
stale file and has checked that ``.lock`` is still that file, so of two takers exactly one
wins and the other then finds the winner's live lock. On other fsspec filesystems the lock is
created with ``pipe_file(mode="create")``, a conditional write where the filesystem has one
(s3fs uses ``If-None-Match``), otherwise check-then-write; replacing a stale lock there is best
effort (re-read, delete, create), so two takers racing for the same stale lock may both
proceed, and a host's clock that is far off shortens or lengthens the leases it judges.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from .._config import STORE_LOCK_LEASE_S, STORE_LOCK_WRITE_GRACE_S
from .._errors import SnapshotError

try:  # not on Windows: local takeovers there are as best effort as on object stores
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


Holder = dict[str, Any]
_ATTEMPTS = 20  # a lock that changes under us this often (many writers starting at once) loses
_BUSY_WAIT_S = 0.05  # another writer holds the stale lock's flock: it is replacing it right now


# -- who is running here ------------------------------------------------------------------------


def _read_text(path: str) -> str | None:
    try:
        with open(path) as file:
            return file.read().strip() or None
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _process_start(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (Linux); None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
        # fields after the command name, which is in parentheses and may contain spaces;
        # starttime is field 22 of proc(5), the 20th after the name
        return int(stat[stat.rindex(b")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        pass
    return True


def _this_process(lease_s: float) -> Holder:
    return {
        "host": socket.gethostname(),
        "boot_id": _read_text("/proc/sys/kernel/random/boot_id"),
        "pid_ns": _pid_namespace(),
        "pid": os.getpid(),
        "process_start": _process_start(os.getpid()),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        "lease_s": lease_s,
        "token": secrets.token_hex(8),
    }


# -- is the lock's owner still there ---------------------------------------------------------------


def _parse(data: bytes) -> Holder | None:
    """The lock's record, or None if it is empty or garbled."""
    try:
        holder = json.loads(data)
        if not isinstance(holder, dict) or not isinstance(holder.get("host"), str):
            return None
        pid = holder.get("pid")
        if isinstance(pid, bool) or not isinstance(pid, int) or pid < 1:
            return None  # a pid of 0 or -1 would make os.kill signal whole process groups
        return holder
    except (ValueError, RecursionError):
        return None


def _age_s(holder: Holder, modified: datetime | None, now: datetime) -> float:
    """Seconds since the lock was made: its own ``since``, else its file's modification time."""
    try:
        since = datetime.fromisoformat(holder["since"])
        if since.tzinfo is None:
            raise ValueError
    except (KeyError, TypeError, ValueError):
        since = modified or now - timedelta(days=365 * 100)  # no clue: as old as can be
    return (now - since).total_seconds()


def _lease_s(holder: Holder) -> float:
    lease = holder.get("lease_s")
    if isinstance(lease, bool) or not isinstance(lease, int | float) or not lease > 0:
        return STORE_LOCK_LEASE_S
    return float(lease)


def _owner_stopped(holder: Holder, here: Holder) -> bool | None:
    """Whether the lock's owner has stopped: True, False, or None when this host cannot tell."""
    if holder["host"] != here["host"]:
        return None
    boot = holder.get("boot_id")
    if boot and here["boot_id"] and boot != here["boot_id"]:
        return True  # the host restarted since: its processes are gone
    space = holder.get("pid_ns")
    if space and here["pid_ns"] and space != here["pid_ns"]:
        return None  # another pid namespace (a container): its pids are not ours to look up
    if not _pid_alive(holder["pid"]):
        return True
    started = holder.get("process_start")
    if started is None or here["process_start"] is None:
        return None  # alive, but perhaps a reused pid
    return bool(_process_start(holder["pid"]) != started)  # another start: the pid was reused


# -- the lock file -------------------------------------------------------------------------------


class StoreLock:
    """Take and release ``<root>/.lock`` on an fsspec filesystem.

    Parameters
    ----------
    fs
        The store's fsspec filesystem.
    root
        The store's root path on it.
    local
        True for a local disk (atomic create and takeover), False for anything else.
    lease_s
        How long a lock of ours counts as alive for writers that cannot check our process
        (other hosts); write it longer than the longest hold.
    """

    def __init__(
        self,
        fs: Any,
        root: str,
        *,
        local: bool,
        folders: bool = True,
        lease_s: float = STORE_LOCK_LEASE_S,
    ) -> None:
        self.fs = fs
        self.root = root
        self.path = root.rstrip("/") + "/.lock"
        self._local = local
        self._folders = folders  # False on object stores: makedirs there would create buckets
        self.lease_s = lease_s

    def acquire(self, lease_s: float | None = None) -> Holder:
        """Take the lock (over, if stale); return what was written, to release it later.

        Parameters
        ----------
        lease_s
            This hold's lease, if not the lock's default.

        Raises
        ------
        SnapshotError
            Another live process holds the lock.
        """
        here = _this_process(lease_s or self.lease_s)
        data = json.dumps(here).encode()
        if self._folders:
            self.fs.makedirs(self.root, exist_ok=True)
        for _ in range(_ATTEMPTS):
            if self._create(data):
                return here
            # someone's lock is there: refuse it if live, replace it if stale; on None it
            # changed while we looked (released, taken over): look again
            found = (
                self._take_over_local(data, here) if self._local else self._take_over(data, here)
            )
            if found is True:
                return here
            if isinstance(found, str):
                raise SnapshotError(found)
        raise SnapshotError(
            f"could not take {self.path}: it kept changing (many exports starting at once?); "
            "try again"
        )

    def read(self) -> Holder | None:
        """The lock's holder; None if there is no lock or it is empty or garbled."""
        try:
            return _parse(self.fs.cat_file(self.path))
        except FileNotFoundError:
            return None

    def release(self, holder: Holder) -> None:
        """Remove the lock if it is still ``holder``'s (never one someone else took over)."""
        if not self._local or fcntl is None:
            if self.read() == holder:
                self.fs.rm_file(self.path)
            return
        with self._flocked() as opened:
            if opened is not None and _parse(opened[1]) == holder:
                os.unlink(self.path)

    # -- creating ---------------------------------------------------------------------------

    def _create(self, data: bytes) -> bool:
        """Create the lock with ``data`` unless one exists; True if we made it."""
        if not self._local:
            try:
                self.fs.pipe_file(self.path, data, mode="create")
            except FileExistsError:
                return False
            except TypeError:  # an fsspec from before mode=: check, then write
                if self.fs.exists(self.path):
                    return False
                self.fs.pipe_file(self.path, data)
            return True
        private = f"{self.path}.{secrets.token_hex(8)}.tmp"  # a dot-file: a store ignores it
        with open(private, "wb") as file:
            file.write(data)
        try:
            os.link(private, self.path)  # atomic, complete, and only if there is no lock yet
        except FileExistsError:
            return False
        except OSError:  # no hard links here (some network and FUSE filesystems)
            return self._create_exclusive(data)
        finally:
            os.unlink(private)
        return True

    def _create_exclusive(self, data: bytes) -> bool:
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        return True

    # -- taking over -------------------------------------------------------------------------

    def _judge(self, data: bytes, modified: datetime | None, here: Holder) -> str | None:
        """None if the lock in ``data`` is stale, else the one line refusing it."""
        now = datetime.now(UTC)
        holder = _parse(data)
        if holder is None:
            age = (now - modified).total_seconds() if modified else math.inf
            if age > STORE_LOCK_WRITE_GRACE_S:
                return None
            return (
                f"{self.path} is empty or garbled, perhaps being written right now; "
                f"try again in {STORE_LOCK_WRITE_GRACE_S:g} s, or delete it"
            )
        stopped = _owner_stopped(holder, here)
        age = _age_s(holder, modified, now)
        if stopped or (stopped is None and not age <= _lease_s(holder)):
            return None
        who = f"pid {holder['pid']} on {holder['host']}, since {holder.get('since', '?')}"
        if stopped is None:  # judged by its lease alone: say when that ends
            who += f"; presumed alive for {max(_lease_s(holder) - age, 0):.0f} s more"
        return f"another export is running ({who}); if it died, delete {self.path}"

    @contextlib.contextmanager
    def _flocked(self) -> Iterator[tuple[int, bytes] | None]:
        """``(descriptor, content)`` of the lock with an exclusive flock held, or None.

        None if there is no lock, or it was replaced or removed before the flock was ours.
        """
        try:
            descriptor = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            yield None
            return
        try:
            for _ in range(_ATTEMPTS):
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:  # another writer is replacing or removing it now
                    time.sleep(_BUSY_WAIT_S)
            else:
                yield None
                return
            try:
                same = os.stat(self.path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                yield None
                return
            chunks = []
            while chunk := os.read(descriptor, 65536):
                chunks.append(chunk)
            yield descriptor, b"".join(chunks)
        finally:
            os.close(descriptor)  # and with it the flock

    def _take_over_local(self, data: bytes, here: Holder) -> bool | str | None:
        """Replace a stale local lock: True if we did, who holds it if live, None if it moved."""
        if fcntl is None:  # pragma: no cover
            return self._take_over(data, here)
        with self._flocked() as opened:
            if opened is None:
                return None
            descriptor, found = opened
            modified = datetime.fromtimestamp(os.fstat(descriptor).st_mtime, UTC)
            holder = self._judge(found, modified, here)
            if holder is not None:
                return holder
            # while we hold the stale file's flock no other taker can judge it, and it is
            # still .lock: replacing it in one rename leaves no moment without a lock
            private = f"{self.path}.{secrets.token_hex(8)}.tmp"
            with open(private, "wb") as file:
                file.write(data)
            os.rename(private, self.path)
            return True

    def _take_over(self, data: bytes, here: Holder) -> bool | str | None:
        """The same without atomic replace (object stores): best effort."""
        try:
            found = self.fs.cat_file(self.path)
        except FileNotFoundError:
            return None
        holder = self._judge(found, self._modified(), here)
        if holder is not None:
            return holder
        try:
            if self.fs.cat_file(self.path) != found:  # changed meanwhile: judge it again
                return None
            self.fs.rm_file(self.path)
        except FileNotFoundError:
            return None
        return True if self._create(data) else None

    def _modified(self) -> datetime | None:
        try:
            modified = self.fs.modified(self.path)
        except (NotImplementedError, FileNotFoundError, OSError, KeyError):
            return None
        if not isinstance(modified, datetime):
            return None
        return modified if modified.tzinfo else modified.replace(tzinfo=UTC)
