"""Shared by the benchmarks: the sandbox in its own process, as the CLI runs it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


@contextmanager
def sandbox_process(**options) -> Iterator[str]:
    """The sandbox in its own process (the CLI), so its CPU is not the client's GIL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in options.items()]
    command = [sys.executable, "-m", "zimun_analytics", "sandbox", f"--port={port}", *flags]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{base_url}/_sandbox/clock")
                break
            except httpx.TransportError:
                time.sleep(0.05)  # waiting for the server to listen, not timing anything
        else:
            raise SystemExit(f"the sandbox process did not start: {' '.join(command)}")
        yield base_url
    finally:
        process.terminate()
        process.wait(10)
