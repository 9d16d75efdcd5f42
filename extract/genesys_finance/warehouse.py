"""The warehouse as an interface: one class per target, the Python twin of dbt's
`adapter.dispatch`. Code that talks to the warehouse asks `warehouse_for(settings)` and never
branches on the target name.

A `Warehouse` knows how to open an autocommit DB-API connection (the job ledger, plain queries),
which dlt destination and load file format land data fastest there, the session settings of
payload loads, and how to hold the run lock (`runlock.py`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar
from urllib.parse import quote

from genesys_finance import runlock
from genesys_finance.failures import RESUME_HINT, chain
from genesys_finance.loadfiles import LoadFileFormat
from genesys_finance.settings import Settings

LZ4_SESSION_OPTION = "-c default_toast_compression=lz4"


class Warehouse(ABC):
    """What the extraction needs from a target (DuckDB file or Postgres)."""

    target: ClassVar[str]
    paramstyle: ClassVar[str]
    """DB-API `paramstyle` of the driver (the ledger's SQL uses it)."""
    placeholder: ClassVar[str]
    load_file_format: ClassVar[LoadFileFormat]
    load_workers: ClassVar[int]
    """dlt load workers: load files loaded side by side into one staging table."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A DB-API connection in autocommit mode: each statement commits at once (a submitted
        job id must be durable the moment the ledger writes it)."""

    @abstractmethod
    def dlt_destination(self) -> Any:
        """A dlt destination for loads that open their own connections (dimensions, CDRs)."""

    @abstractmethod
    def payload_destination(self, conn: Any) -> Any:
        """The dlt destination of the extraction's payload loads, given the run's connection
        (`connect()`), with the session settings those loads need."""

    def load_error_hint(self, exc: BaseException) -> str:
        """Advice appended to a failed load's message ("" when there is none)."""
        return ""

    def connection_lost(self, exc: BaseException) -> str | None:
        """A clear message when `exc` (or an error it wraps) is the database going away mid-run
        (a restart, a failover, a cut connection); None otherwise."""
        return None

    @abstractmethod
    def run_lock(self, wait_s: float = runlock.DEFAULT_WAIT_S) -> AbstractContextManager[None]:
        """One extraction at a time on this warehouse (`runlock.py`); raises
        `runlock.RunLockBusy` after waiting `wait_s` for another run."""


class DuckDBWarehouse(Warehouse):
    target = "duckdb"
    paramstyle = "qmark"
    placeholder = "?"
    load_file_format = "parquet"
    load_workers = 1
    """Parallel inserts into one DuckDB connection ran out of its buffer pool."""

    @contextmanager
    def connect(self) -> Iterator[Any]:
        import duckdb

        self.settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(str(self.settings.duckdb_path))
        try:
            yield conn
        finally:
            conn.close()

    def dlt_destination(self) -> Any:
        import dlt

        self.settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(str(self.settings.duckdb_path))

    def payload_destination(self, conn: Any) -> Any:
        """dlt writes through the run's own connection: DuckDB allows one writer process, and
        the job ledger writes through the same database instance.

        DuckDB sizes its buffer pool from the machine's RAM; with a fixed pool (`memory_limit`,
        `Settings.duckdb_load_memory`) merges spill to disk instead. The pool must still hold one
        vector (2,048 rows) of payloads in one piece: dlt's merge ranks the rows of a load with
        a window function, which failed at 128 MB for payloads averaging 25 KB and passed at
        256 MB (bench/RESULTS.md). One thread leaves the other core to the job workers: loads
        ran faster so. And each load's checkpoint compressed the payloads with DuckDB's default
        string codecs (FSST, dictionary) at ~2 s per 20,000 conversations, where zstd takes a
        third of that and stores them in a third of the space. These settings last for the
        connection."""
        import dlt

        conn.execute(f"set memory_limit = '{self.settings.duckdb_load_memory}'")
        conn.execute("set threads = 1")
        conn.execute("set force_compression = 'zstd'")
        return dlt.destinations.duckdb(conn)

    def run_lock(self, wait_s: float = runlock.DEFAULT_WAIT_S) -> AbstractContextManager[None]:
        """A lock file beside the database file."""
        path = self.settings.duckdb_path.with_name(self.settings.duckdb_path.name + ".run.lock")
        return runlock.reentrant(
            f"duckdb:{path.resolve()}", lambda: runlock.file_lock(path, wait_s)
        )

    def load_error_hint(self, exc: BaseException) -> str:
        if "Out of Memory" not in str(exc):
            return ""
        return (
            f"\nDuckDB's buffer pool for loads is {self.settings.duckdb_load_memory}: raise "
            "GENESYS_FINANCE_DUCKDB_LOAD_MEMORY (large conversations need more) and rerun; "
            "the job ledger resumes where this run stopped."
        )


class PostgresWarehouse(Warehouse):
    target = "postgres"
    paramstyle = "format"
    placeholder = "%s"
    load_file_format = "csv"
    load_workers = 4
    """Load files COPYed side by side: 4 was as fast as 2 and faster than 1 or dlt's 20 on the
    2-core bench."""

    @contextmanager
    def connect(self) -> Iterator[Any]:
        import psycopg2

        conn = psycopg2.connect(self.settings.postgres.dsn())
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.close()

    def dlt_destination(self, options: str = "") -> Any:
        """`options`: libpq session options for dlt's connections."""
        import dlt

        pg = self.settings.postgres
        query = f"?options={quote(options)}" if options else ""
        return dlt.destinations.postgres(
            f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{pg.database}{query}"
        )

    def payload_destination(self, conn: Any) -> Any:
        return self.dlt_destination(self.payload_options(conn))

    def connection_lost(self, exc: BaseException) -> str | None:
        import psycopg2

        for error in chain(exc):
            # OperationalError: the server closed or refused the connection; InterfaceError:
            # the run then used a connection that was already closed.
            if isinstance(error, (psycopg2.OperationalError, psycopg2.InterfaceError)):
                pg = self.settings.postgres
                reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                return (
                    f"the connection to Postgres {pg.host}:{pg.port}/{pg.database} was lost "
                    f"({reason}); once the database is back, {RESUME_HINT}"
                )
        return None

    def run_lock(self, wait_s: float = runlock.DEFAULT_WAIT_S) -> AbstractContextManager[None]:
        pg = self.settings.postgres
        return runlock.reentrant(
            f"postgres:{pg.host}:{pg.port}/{pg.database}",
            lambda: runlock.advisory_lock(self.connect, wait_s),
        )

    def payload_options(self, conn: Any) -> str:
        """libpq session options for connections that write JSON payloads.

        A masked payload (~5 KB) is stored TOASTed; Postgres compresses it with pglz by
        default, which made a COPY of 10,000 payloads into jsonb take 2.8 s against 1.7 s with
        lz4 (measured here). lz4 is used only where the server was built with it."""
        cur = conn.cursor()
        cur.execute(
            "select 1 from pg_settings where name = 'default_toast_compression'"
            " and 'lz4' = any(enumvals)"
        )
        return LZ4_SESSION_OPTION if cur.fetchone() else ""


WAREHOUSES: dict[str, type[Warehouse]] = {w.target: w for w in (DuckDBWarehouse, PostgresWarehouse)}


def warehouse_for(settings: Settings) -> Warehouse:
    """The configured target's warehouse (`Settings.target` is validated on load)."""
    return WAREHOUSES[settings.target](settings)


@contextmanager
def connect(settings: Settings) -> Iterator[Any]:
    """An autocommit DB-API connection to the configured warehouse."""
    with warehouse_for(settings).connect() as conn:
        yield conn


def query(settings: Settings, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one statement and return all rows (empty for statements without a result)."""
    with connect(settings) as conn:
        cur = conn.cursor()
        # No parameter list at all when there are none, so a literal % needs no escaping.
        if params:
            cur.execute(sql, list(params))
        else:
            cur.execute(sql)
        if cur.description is None:
            return []
        return [tuple(row) for row in cur.fetchall()]


def placeholder(settings: Settings) -> str:
    """The DB-API parameter marker of the target's driver."""
    return warehouse_for(settings).placeholder


def dlt_destination(settings: Settings) -> Any:
    """The dlt destination of the configured warehouse."""
    return warehouse_for(settings).dlt_destination()
