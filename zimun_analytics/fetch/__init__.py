"""The fetch room: availability across services and locations → tidy Arrow/pandas tables.

The one wire → table mapping lives here (``_wire`` reads the bytes, ``_mapping`` builds the
tables declared in ``_schema``). Imports the foundations and the client room.
"""

from ._fetch import fetch_availability, fetch_availability_async

__all__ = ["fetch_availability", "fetch_availability_async"]
