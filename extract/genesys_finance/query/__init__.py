"""The SQL-to-API query layer: `genesys_finance.query(sql) -> pyarrow.Table`.

This package is itself callable (`genesys_finance.query(...)`), so the function and the package
share one name without one shadowing the other; its modules load on the first call.

    import genesys_finance
    table = genesys_finance.query(
        "select media_type, count(*) from genesys.sessions "
        "where conversation_start >= '2024-05-01' and conversation_start < '2024-06-01' "
        "group by media_type"
    )

Notes about how the answer was obtained (route, watermark, fetched chunks) are logged and kept
in the table's schema metadata under `genesys_finance.notes` (a JSON list).
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from genesys_finance.settings import Settings


def query(
    sql: str,
    *,
    offline: bool = False,
    settings: Settings | None = None,
    **options: Any,
) -> pa.Table:
    """Answer one SELECT over the virtual tables (`genesys.*`) and the finance marts.

    Settings come from the environment (as for the CLI) unless given. `offline=True` answers
    from the warehouse alone. Other keyword options are `QueryOptions` fields.
    """
    from genesys_finance.query.engine import QueryOptions, run_query
    from genesys_finance.settings import Settings as _Settings

    resolved = settings or _Settings.from_env()
    return run_query(resolved, sql, QueryOptions(offline=offline, **options)).table


class _CallableModule(types.ModuleType):
    def __call__(self, sql: str, **kwargs: Any) -> pa.Table:
        return query(sql, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["query"]
