"""evidence-station: the composition root (config, catalog, store, ingest, CLI, daemon).

The only package that wires ``hashing``, ``docks`` and ``retention`` together.
"""

__version__ = "0.1.0"
