"""A local server that behaves like Zimun, so everything runs without credentials.

It implements the contract in ``zimun-api.md`` and shares no code with the client side.

>>> from zimun_analytics.sandbox import Sandbox
>>> with Sandbox(seed=1) as sb:  # doctest: +SKIP
...     sb.base_url, sb.client_id, sb.client_secret
"""

try:
    from .app import create_app
    from .server import Sandbox, serve_forever
    from .state import SandboxSettings
except ModuleNotFoundError as exc:  # starlette, uvicorn, holidays are an extra: say which
    exc.add_note("the sandbox needs its extra: pip install 'zimun-analytics[sandbox]'")
    raise

__all__ = ["Sandbox", "SandboxSettings", "create_app", "serve_forever"]
