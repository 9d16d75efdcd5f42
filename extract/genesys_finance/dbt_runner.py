"""Run dbt against the project's own profile (never dlt's dbt helper: it fails offline).

dbt runs in a subprocess: its global state (flags, adapters, env vars read by `env_var()`) then
cannot leak between invocations, and callers (tests, the benchmark) can run several projects side by
side, each with its own target path. The environment comes from `Settings.dbt_env()`; secrets the
dbt project never needs (the HMAC key, the API secret) are removed from it, so they cannot reach
compiled SQL, the manifest or the docs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genesys_finance.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

# Never handed to dbt: the project does no keyed hashing and needs no API access.
# dbt's advice for production runs: unit tests check the models' logic on literal fixtures, so
# they belong to development and CI (`make test` runs them), not to every build of the data.
WITHOUT_UNIT_TESTS = ("--exclude-resource-type", "unit_test")

_SECRET_ENV = ("GENESYS_FINANCE_HMAC_KEY", "GENESYS_CLIENT_SECRET", "GENESYS_CLIENT_ID")


class DbtError(RuntimeError):
    """A dbt command failed; the message names the command and ends with dbt's last output."""


@dataclass(frozen=True)
class DbtResult:
    args: tuple[str, ...]
    returncode: int
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def dbt_executable() -> list[str]:
    """dbt's CLI in this interpreter, its collector tuned (`genesys_finance.dbt_cli`).

    `-P`: the working directory (the dbt project) is not put on `sys.path`, as it is not for the
    `dbt` script, so nothing in a project folder can shadow a package dbt imports."""
    return [sys.executable, "-P", "-m", "genesys_finance.dbt_cli"]


def dbt_environment(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SECRET_ENV}
    env.update(settings.dbt_env())
    # The product's commands build production's schemas (`finance`, ...) unless told otherwise;
    # a developer's plain `dbt` gets `<schema>_finance` (macros/generate_schema_name.sql).
    env.setdefault("GENESYS_FINANCE_ENV", "prod")
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    if extra:
        env.update(extra)
    return env


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    *,
    target_path: Path | str | None = None,
    project_dir: Path = PROJECT_ROOT,
    check: bool = True,
    extra_env: dict[str, str] | None = None,
    stream: bool = False,
) -> DbtResult:
    """Run `dbt <args>` for `settings.target`.

    `target_path` (default `<project>/target`) holds the manifest and compiled SQL; give each caller
    its own so concurrent runs do not clobber each other (logs go in it). With `check`, a failure
    raises `DbtError` carrying the tail of dbt's output. With `stream`, output also goes to stdout.
    """
    target_dir = Path(target_path) if target_path else project_dir / "target"
    command = [
        *dbt_executable(),
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir / "profiles"),
        "--target",
        settings.target,
    ]
    # As environment variables: not every subcommand takes --target-path (dbt debug does not).
    env = dbt_environment(
        settings,
        {
            "DBT_TARGET_PATH": str(target_dir),
            "DBT_LOG_PATH": str(target_dir / "logs"),
            **(extra_env or {}),
        },
    )
    log.debug("running %s", " ".join(command))
    started = time.monotonic()
    if stream:
        proc = subprocess.Popen(
            command,
            cwd=project_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(line)
        returncode = proc.wait()
        output = "".join(lines)
    else:
        completed = subprocess.run(
            command,
            cwd=project_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        returncode = completed.returncode
        output = completed.stdout + completed.stderr
    result = DbtResult(tuple(args), returncode, output, time.monotonic() - started)
    if check and not result.ok:
        tail = "\n".join(output.rstrip().splitlines()[-40:])
        raise DbtError(
            f"dbt {' '.join(args)} failed (exit {returncode}, target {settings.target}):\n{tail}"
        )
    return result
