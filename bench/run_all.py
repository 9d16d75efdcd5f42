"""Run every benchmark in bench/ at its default size and append the figures to bench/out/.

`make bench` calls this; each bench_*.py is also runnable on its own with its own flags.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main() -> int:
    out_dir = BENCH_DIR / "out"
    out_dir.mkdir(exist_ok=True)
    failures = 0
    for script in sorted(BENCH_DIR.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        started = time.monotonic()
        log = out_dir / f"{script.stem}.log"
        with log.open("w") as handle:
            result = subprocess.run(
                [sys.executable, str(script)], stdout=handle, stderr=subprocess.STDOUT, check=False
            )
        print(log.read_text(), end="")
        print(f"== {script.name}: exit {result.returncode} in {time.monotonic() - started:.1f} s")
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
