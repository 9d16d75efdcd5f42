"""The whole job, one way: extract, then carrier CDR files, then `dbt build`, under the
warehouse's run lock. Used by `genesys-finance run` (the scheduled job) and `demo` alike.

A failed step stops the run (a scheduler never builds marts on a half-finished extraction).
Steps raise their own errors (`ExtractError`, `ApiError`, `PlanError`, `RunLockBusy`,
`ConfigError`); the commands turn them into one clear line and an exit status.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from genesys_finance.dbt_runner import WITHOUT_UNIT_TESTS
from genesys_finance.extraction import ExtractOptions
from genesys_finance.settings import Settings
from genesys_finance.warehouse import warehouse_for


@dataclass(frozen=True)
class CdrFiles:
    paths: Sequence[Path]
    format: str = "generic"
    """A built-in CDR format profile (`cdr.profile`)."""


@dataclass(frozen=True)
class RunSteps:
    start: date | None = None
    """None: incremental from the ledger."""
    end: date | None = None
    extract: ExtractOptions = field(default_factory=ExtractOptions)
    cdrs: CdrFiles | None = None
    build_args: Sequence[str] = ("build", *WITHOUT_UNIT_TESTS)
    dbt_target_path: Path | None = None


def run_steps(settings: Settings, steps: RunSteps, say: Callable[[str], None] = print) -> int:
    """Run the steps; 0 when all passed, 1 when CDR files or the build failed."""
    from genesys_finance.cdr import load_cdr_files, resolve
    from genesys_finance.dbt_runner import run_dbt
    from genesys_finance.runner import run_extract

    with warehouse_for(settings).run_lock(steps.extract.lock_wait_s):
        summary = run_extract(settings, steps.start, steps.end, steps.extract)
        say(summary.line())
        if steps.cdrs is not None and steps.cdrs.paths:
            reports = load_cdr_files(
                settings,
                steps.cdrs.paths,
                resolve(steps.cdrs.format, None),
                policy_path=steps.extract.pii_policy,
            )
            for report in reports:
                say("CDRs " + report.summary())
            if not all(report.consistent for report in reports):
                say("CDR files failed: the build is not run")
                return 1
        say("dbt build (seeds, models, tests) ...")
        result = run_dbt(
            settings,
            list(steps.build_args),
            target_path=steps.dbt_target_path,
            check=False,
            stream=True,
        )
    say(f"dbt build {'passed' if result.ok else 'FAILED'} in {result.seconds:.0f} s")
    return 0 if result.ok else 1
