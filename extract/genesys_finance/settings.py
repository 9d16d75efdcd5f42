"""Configuration from environment variables (the public contract in DESIGN.md)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""Repository root: holds dbt_project.yml and profiles/."""

RAW_SCHEMA = "genesys_raw"
CARRIER_SCHEMA = "carrier_raw"
TARGETS = ("duckdb", "postgres")


DEFAULT_DUCKDB_LOAD_MEMORY = "256MB"
_MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B)", re.IGNORECASE)


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


def _region_urls(region: str) -> tuple[str, str]:
    domain = region.strip().removeprefix("https://").removeprefix("api.").strip("/")
    return f"https://api.{domain}", f"https://login.{domain}"


@dataclass(frozen=True)
class PostgresSettings:
    host: str = "localhost"
    port: int = 5432
    user: str = "postgres"
    # dlt refuses credentials without a password even under trust auth.
    password: str = "postgres"
    database: str = "postgres"

    @classmethod
    def from_env(cls, env: dict[str, str]) -> PostgresSettings:
        try:
            port = int(env.get("PGPORT", "5432"))
        except ValueError as exc:
            raise ConfigError(f"PGPORT must be an integer, got {env['PGPORT']!r}") from exc
        return cls(
            host=env.get("PGHOST", "localhost"),
            port=port,
            user=env.get("PGUSER", "postgres"),
            password=env.get("PGPASSWORD") or "postgres",
            database=env.get("PGDATABASE", "postgres"),
        )

    def dsn(self) -> str:
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={self.database}"
        )


@dataclass(frozen=True)
class Settings:
    """Everything the CLI needs, read once from the environment."""

    api_url: str | None = None
    login_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    target: str = "duckdb"
    duckdb_path: Path = PROJECT_ROOT / "genesys_finance.duckdb"
    hmac_key: bytes | None = field(default=None, repr=False)
    postgres: PostgresSettings = field(default_factory=PostgresSettings)
    duckdb_load_memory: str = DEFAULT_DUCKDB_LOAD_MEMORY
    """DuckDB buffer pool for the extractor's loads (see warehouse.py)."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        api_url = env.get("GENESYS_API_URL") or None
        login_url = env.get("GENESYS_LOGIN_URL") or None
        region = env.get("GENESYS_REGION")
        if region and not api_url:
            api_url, region_login = _region_urls(region)
            login_url = login_url or region_login
        if api_url and not login_url:
            # The SDK derives the login host by replacing //api. with //login.
            login_url = api_url.replace("//api.", "//login.")
        target = env.get("GENESYS_FINANCE_TARGET", "duckdb")
        if target not in TARGETS:
            raise ConfigError(
                f"GENESYS_FINANCE_TARGET must be one of {', '.join(TARGETS)}, got {target!r}"
            )
        duckdb_path = Path(
            env.get("GENESYS_FINANCE_DUCKDB") or PROJECT_ROOT / "genesys_finance.duckdb"
        )
        key = env.get("GENESYS_FINANCE_HMAC_KEY")
        load_memory = env.get("GENESYS_FINANCE_DUCKDB_LOAD_MEMORY") or DEFAULT_DUCKDB_LOAD_MEMORY
        if not _MEMORY_SIZE.fullmatch(load_memory.strip()):
            raise ConfigError(
                "GENESYS_FINANCE_DUCKDB_LOAD_MEMORY must be a size such as 256MB or 1GB, "
                f"got {load_memory!r}"
            )
        return cls(
            api_url=api_url.rstrip("/") if api_url else None,
            login_url=login_url.rstrip("/") if login_url else None,
            client_id=env.get("GENESYS_CLIENT_ID") or None,
            client_secret=env.get("GENESYS_CLIENT_SECRET") or None,
            target=target,
            duckdb_path=duckdb_path.resolve(),
            hmac_key=key.encode() if key else None,
            postgres=PostgresSettings.from_env(env),
            duckdb_load_memory=load_memory.strip(),
        )

    def with_target(self, target: str | None) -> Settings:
        """A copy with the target overridden by a CLI flag."""
        if target is None:
            return self
        if target not in TARGETS:
            raise ConfigError(f"--target must be one of {', '.join(TARGETS)}, got {target!r}")
        return Settings(**{**self.__dict__, "target": target})

    def require_api(self) -> tuple[str, str, str, str]:
        """API URL, login URL, client id and secret, or a ConfigError naming what is missing."""
        missing = [
            name
            for name, value in (
                ("GENESYS_API_URL (or GENESYS_REGION)", self.api_url),
                ("GENESYS_LOGIN_URL (or GENESYS_REGION)", self.login_url),
                ("GENESYS_CLIENT_ID", self.client_id),
                ("GENESYS_CLIENT_SECRET", self.client_secret),
            )
            if not value
        ]
        if missing:
            raise ConfigError("missing configuration: " + ", ".join(missing))
        assert self.api_url and self.login_url and self.client_id and self.client_secret
        return self.api_url, self.login_url, self.client_id, self.client_secret

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt subprocess so its profile points where the extractor wrote."""
        pg = self.postgres
        return {
            "GENESYS_FINANCE_TARGET": self.target,
            "GENESYS_FINANCE_DUCKDB": str(self.duckdb_path),
            "PGHOST": pg.host,
            "PGPORT": str(pg.port),
            "PGUSER": pg.user,
            "PGPASSWORD": pg.password,
            "PGDATABASE": pg.database,
        }
