"""sqlite-utils, imported without numpy and pandas.

sqlite-utils imports numpy and pandas at import time when they are installed (only to
map their scalar types to column types), and numpy alone cost ~0.3 s of every command's
start (issue 16: "a command answers at once"). The catalog never stores numpy or pandas
values, so they are hidden while sqlite-utils is first imported and visible again right
after: analysis, which needs numpy, imports it as usual. Where numpy or pandas were
already imported (a daemon after analysis ran), nothing is hidden and sqlite-utils sees
them, as before.
"""

from __future__ import annotations

import sys
from typing import Any


def _import() -> tuple[Any, Any]:
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "import numpy" fails fast
    try:
        import sqlite_utils
        from sqlite_utils.db import Table
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    return sqlite_utils, Table


sqlite_utils, Table = _import()
