"""The writer lock of a snapshot store: ``<root>/.lock``, holding who took it and when.

Exclusive creation is atomic on local disks (``O_EXCL``); on object stores it is best effort
(check, then write). A lock left by a dead process of this host is taken over; a lock of
another host never is, since we cannot tell whether that process still runs.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from typing import Any

from .errors import SnapshotError

__all__ = ["StoreLock"]

Holder = dict[str, Any]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        pass
    return True


class StoreLock:
    """Take and release ``<root>/.lock`` on an fsspec filesystem."""

    def __init__(self, fs: Any, root: str, *, local: bool) -> None:
        self.fs = fs
        self.root = root
        self.path = root.rstrip("/") + "/.lock"
        self._local = local

    def acquire(self) -> Holder:
        """Take the lock; return what was written, to release it later.

        Raises
        ------
        SnapshotError
            Another live process holds the lock.
        """
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.fs.makedirs(self.root, exist_ok=True)
        if self._create_exclusive(holder):
            return holder
        current = self.read()
        if current and current["host"] == holder["host"] and not _pid_alive(current["pid"]):
            self.fs.rm_file(self.path)  # its writer died: take over (best effort if two race here)
            if self._create_exclusive(holder):
                return holder
            current = self.read()
        # Unreadable (being written, or damaged): report it rather than guess it is stale.
        current = current or {"pid": "?", "host": "?", "since": "?"}
        raise SnapshotError(
            f"another export is running (pid {current['pid']} on {current['host']}, "
            f"since {current['since']}); if it died, delete {self.path}"
        )

    def _create_exclusive(self, holder: Holder) -> bool:
        data = json.dumps(holder).encode()
        if not self._local:
            if self.fs.exists(self.path):
                return False
            self.fs.pipe_file(self.path, data)
            return True
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        return True

    def read(self) -> Holder | None:
        """The lock's holder; None if the lock is gone, half-written or not ours to read."""
        try:
            holder = json.loads(self.fs.cat_file(self.path))
            return {"pid": int(holder["pid"]), "host": holder["host"], "since": holder["since"]}
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def release(self, holder: Holder) -> None:
        """Remove the lock if it is still ``holder``'s (never one someone else took over)."""
        if self.read() == holder:
            self.fs.rm_file(self.path)
