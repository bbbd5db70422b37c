"""The blocking face of the client: :class:`AsyncZimunClient` on a loop of its own.

:class:`ZimunClient` runs the async client's code on a private event loop in a daemon thread,
so it behaves the same in a script and in a notebook cell, where an event loop is already
running, and every method returns the same records as its async twin. No method waits longer
than the async client's deadlines allow, and Ctrl-C cancels the work on the loop before it
propagates, so nothing is left running behind the interrupted caller.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from contextlib import suppress
from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

from .._config import DEFAULT_DAYS_AHEAD
from .._models import Appointment, Availability, Hold, Location, Organization, Service
from ._client import AsyncZimunClient

T = TypeVar("T")


async def _next_item(iterator: AsyncIterator[T]) -> T:
    return await anext(iterator)


def _start_loop_thread() -> tuple[BlockingPortal, threading.Thread]:
    """An event loop in a daemon thread, reachable through a blocking portal.

    A daemon thread, unlike anyio's ``start_blocking_portal``, never keeps the interpreter
    from exiting when a script forgets ``close()``.
    """
    ready = threading.Event()
    portals: list[BlockingPortal] = []

    async def serve() -> None:
        async with BlockingPortal() as portal:
            portals.append(portal)
            ready.set()
            await portal.sleep_until_stopped()

    thread = threading.Thread(target=anyio.run, args=(serve,), name="zimun-client", daemon=True)
    thread.start()
    ready.wait()
    return portals[0], thread


def _shut_down(portal: BlockingPortal, client: AsyncZimunClient, thread: threading.Thread) -> None:
    """Close ``client``'s connections and stop its loop: on close(), when collected, at exit.

    A client nobody closed would otherwise leave its connection pool to the garbage collector,
    which aiohttp reports on stderr as an "Unclosed client session".
    """
    if threading.current_thread() is thread or not thread.is_alive():
        return  # collected by its own loop (nothing safe to do there), or already stopped
    try:
        portal.call(client.aclose)
        portal.call(portal.stop)
    except RuntimeError:  # the loop stopped meanwhile
        return
    thread.join()


class ZimunClient:
    """The same client, blocking: for scripts, notebooks and anything without ``await``.

    Takes the arguments of :class:`AsyncZimunClient`; every method has the same name and
    returns the same records. ``transport`` must be an async transport (``httpx.MockTransport``
    is both). Use it as a context manager, or call :meth:`close`.

    Examples
    --------
    >>> with ZimunClient() as client:  # doctest: +SKIP
    ...     slots = client.availability("s_123", days_ahead=7).free_slots()
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._async = AsyncZimunClient(*args, **kwargs)  # validates settings before a thread starts
        self._portal, thread = _start_loop_thread()
        self._close = weakref.finalize(self, _shut_down, self._portal, self._async, thread)

    def __repr__(self) -> str:
        return f"ZimunClient(base_url={self.base_url!r}, client_id={self._async.client_id!r})"

    @property
    def base_url(self) -> str:
        """Root URL of the API."""
        return self._async.base_url

    @property
    def async_client(self) -> AsyncZimunClient:
        """The async client doing the work (for concurrent fetches)."""
        return self._async

    def _call(self, method: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        return self._wait(self._portal.start_task_soon(partial(method, *args, **kwargs)))

    def run(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``await function(self.async_client, *args)`` on this client's loop and wait.

        Ctrl-C (KeyboardInterrupt) cancels the running work cleanly before it propagates.
        """
        return self._wait(self._portal.start_task_soon(function, self._async, *args))

    @staticmethod
    def _wait(future: Future[T]) -> T:
        """The work's result; on Ctrl-C the work is cancelled on the loop, then it propagates."""
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def __enter__(self) -> ZimunClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections and stop the background loop (also done when collected)."""
        self._close()

    def organization(self) -> Organization:
        """See :meth:`AsyncZimunClient.organization`."""
        return self._call(self._async.organization)

    def locations(self) -> list[Location]:
        """See :meth:`AsyncZimunClient.locations`."""
        return self._call(self._async.locations)

    def services(self) -> Iterator[Service]:
        """Every service, fetched page by page as you iterate."""
        services = self._async.services()
        try:
            while True:
                try:
                    yield self._call(_next_item, services)
                except StopAsyncIteration:
                    return
        finally:
            with suppress(RuntimeError):  # the client was closed before the iterator was
                self._call(services.aclose)

    def availability(
        self,
        service_id: str,
        days_ahead: int = DEFAULT_DAYS_AHEAD,
        location_id: str | None = None,
        start_date: date | None = None,
    ) -> Availability:
        """See :meth:`AsyncZimunClient.availability`."""
        return self._call(self._async.availability, service_id, days_ahead, location_id, start_date)

    def hold(
        self,
        service_id: str,
        appointment_time: datetime,
        duration: int | None = None,
        location_id: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Hold:
        """See :meth:`AsyncZimunClient.hold`."""
        return self._call(
            self._async.hold,
            service_id,
            appointment_time,
            duration,
            location_id,
            idempotency_key=idempotency_key,
        )

    def release(self, hold_id: str) -> bool:
        """See :meth:`AsyncZimunClient.release`."""
        return self._call(self._async.release, hold_id)

    def confirm(
        self,
        hold: Hold | str,
        contact_name: str,
        contact_email: str,
        contact_phone: str | None = None,
        notes: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Appointment:
        """See :meth:`AsyncZimunClient.confirm`."""
        return self._call(
            self._async.confirm,
            hold,
            contact_name,
            contact_email,
            contact_phone,
            notes,
            idempotency_key=idempotency_key,
        )

    def book(
        self,
        service_id: str,
        appointment_time: datetime,
        contact_name: str,
        contact_email: str,
        contact_phone: str | None = None,
        notes: str | None = None,
        *,
        location_id: str | None = None,
        duration: int | None = None,
    ) -> Appointment:
        """See :meth:`AsyncZimunClient.book`."""
        return self._call(
            self._async.book,
            service_id,
            appointment_time,
            contact_name,
            contact_email,
            contact_phone,
            notes,
            location_id=location_id,
            duration=duration,
        )

    def appointment(self, appointment_id: str) -> Appointment:
        """See :meth:`AsyncZimunClient.appointment`."""
        return self._call(self._async.appointment, appointment_id)

    def reschedule(self, appointment_id: str, appointment_time: datetime) -> Appointment:
        """See :meth:`AsyncZimunClient.reschedule`."""
        return self._call(self._async.reschedule, appointment_id, appointment_time)

    def cancel(self, appointment_id: str) -> Appointment:
        """See :meth:`AsyncZimunClient.cancel`."""
        return self._call(self._async.cancel, appointment_id)
