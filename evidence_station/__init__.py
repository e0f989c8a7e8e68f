"""evidence-station: the composition root (config, catalog, store, ingest, CLI, daemon).

The only package that wires ``hashing``, ``docks`` and ``retention`` together.
"""

import os

__version__ = "0.1.0"

# No installed distribution's code runs inside the validation of the station's config or
# requests: pydantic otherwise loads "plugins" from every package's entry points and calls
# them on each model it builds. Looking for them also cost every command ~10 ms (issue 16).
os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
