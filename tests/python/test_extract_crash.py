"""kill -9 at random points, then rerun: exact data, no duplicates, no valid job submitted twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import defaultdict

from genesys_finance.runner import ExtractOptions, run_extract
from genesys_finance.settings import Settings
from genesys_sim.server import SimulatorHandle
from sim_fixtures import StartSimulator, request_log
from test_extract_support import (
    YEAR_END,
    YEAR_SIM,
    YEAR_START,
    assert_exact,
    cli_env,
    cli_path,
    expected_conversations,
    ledger_rows,
    submissions_by_interval,
)

KILL_TRIALS = 3


def start_cli(settings: Settings) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(cli_path()),
            "extract",
            "--start",
            YEAR_START.isoformat(),
            "--end",
            YEAR_END.isoformat(),
            "--quiet",
            "--poll-interval",
            "0.1",
            "--requests-per-minute",
            "3000",
            "--max-parallel-jobs",
            "3",
        ],
        env=cli_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def submission_count(sim: SimulatorHandle) -> int:
    return sum(len(ids) for ids in submissions_by_interval(request_log(sim)).values())


def wait_for_submission(
    sim: SimulatorHandle, process: subprocess.Popen[bytes], before: int, timeout_s: float = 120
) -> None:
    """Block until the CLI submitted a job (or exited, e.g. when it had nothing left to submit)."""
    deadline = time.monotonic() + timeout_s
    while submission_count(sim) == before and process.poll() is None:
        assert time.monotonic() < deadline, "the CLI submitted no job within the timeout"
        time.sleep(0.05)


def run_completed(settings: Settings) -> bool:
    rows = ledger_rows(settings)
    return bool(rows) and all(row["run_completed_at"] is not None for row in rows)


def test_kill_9_then_resume_is_exact(simulator: StartSimulator, warehouse: Settings) -> None:
    sim = simulator(**{**YEAR_SIM, "job_delay_s": 0.4})
    settings = Settings(
        **{**warehouse.__dict__, "api_url": sim.base_url, "login_url": sim.base_url}
    )
    rng = random.Random(20241128)
    kills = 0
    finished = False
    for _ in range(KILL_TRIALS):
        submitted_before = submission_count(sim)
        process = start_cli(settings)
        # Import time varies with machine load, so the random kill point is counted from this
        # run's first job submission, not from the process start: every kill tests a resume.
        wait_for_submission(sim, process, submitted_before)
        time.sleep(rng.uniform(0.0, 3.0))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
        assert process.stderr is not None
        stderr = process.stderr.read().decode()
        assert "Traceback" not in stderr, stderr[-2000:]
        # A resumed run got to the end before its kill (or was killed while exiting, after it
        # had marked its run complete): nothing is left to resume.
        if process.returncode == 0 or run_completed(settings):
            finished = True
            break
    assert kills >= 1, "every run finished before the kill: raise the data size"
    assert ledger_rows(settings), "no kill came after a submission: the trials tested nothing"

    if not finished:
        summary = run_extract(
            settings,
            YEAR_START,
            YEAR_END,
            ExtractOptions(poll_initial_s=0.1, requests_per_minute=3000, quiet=True),
        )
        assert summary.intervals == 12
        # The killed runs' work is reused, not redone.
        assert summary.intervals_already_complete + summary.jobs_resumed > 0

    assert_exact(settings, expected_conversations(sim, settings, YEAR_START, YEAR_END))

    # The ledger: one job per interval (no failures injected), each downloaded; a resumed
    # still-valid job was never submitted again. The only accepted extra submissions are
    # jobs whose id never reached the ledger (killed between the API's answer and the insert).
    ledger = ledger_rows(settings)
    in_ledger = {row["job_id"] for row in ledger}
    per_interval: dict[tuple[object, object], list[str]] = defaultdict(list)
    for row in ledger:
        per_interval[(row["interval_start"], row["interval_end"])].append(row["state"])
    assert len(per_interval) == 12
    assert all(states == ["downloaded"] for states in per_interval.values()), per_interval
    lost = 0
    for interval, job_ids in submissions_by_interval(request_log(sim)).items():
        recorded = [j for j in job_ids if j in in_ledger]
        assert len(recorded) == 1, f"{interval}: valid job submitted again {job_ids}"
        lost += len(job_ids) - len(recorded)
    assert lost <= kills
