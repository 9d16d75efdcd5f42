"""genesys-finance: Genesys Cloud analytics into SQL tables finance can trust."""

__version__ = "0.1.0"

import os as _os

# The product runs offline next to finance data: no anonymous usage events from dlt or dbt.
_os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
_os.environ.setdefault("DO_NOT_TRACK", "1")
# Arrow's allocator returns freed pages at once instead of after a delay: must be set before
# pyarrow is first imported, hence here (why and what it measured: `genesys_finance.heap`).
_os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")


def __getattr__(name: str) -> object:
    # `genesys_finance.query(sql)`: the query package, callable, imported on first use only so
    # the CLI starts without sqlglot and pyarrow.
    if name == "query":
        import importlib

        return importlib.import_module("genesys_finance.query")
    raise AttributeError(f"module 'genesys_finance' has no attribute {name!r}")
