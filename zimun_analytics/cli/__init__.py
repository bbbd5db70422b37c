"""The command line room: ``zimun-analytics <command>``, thin commands over the library.

The top of the house: it may import every room and the sandbox, and is the one place where
library errors become messages and exit codes.
"""

from ._main import main

__all__ = ["main"]
