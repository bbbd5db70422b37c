"""The client room: HTTP, OAuth2 client credentials, retries, timeouts and rate-limit pacing.

:class:`AsyncZimunClient` is the one implementation of every endpoint call;
:class:`ZimunClient` runs it on a private event loop for scripts and notebook cells.
Imports only the foundations (``_config``, ``_errors``, ``_models``).
"""

from ._client import AsyncZimunClient, new_idempotency_key
from ._sync_client import ZimunClient

__all__ = ["AsyncZimunClient", "ZimunClient", "new_idempotency_key"]
