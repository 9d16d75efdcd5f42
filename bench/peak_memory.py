"""Peak resident memory of this process, for the benchmarks' figures."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """The process's own peak RSS (MB): `VmHWM` of /proc/self/status where there is one.

    Not `getrusage(...).ru_maxrss`: Linux carries it across exec from the parent's memory, so a
    child started by a 450 MB benchmark driver reported 450 MB whatever it used itself (measured:
    a 14 MB child of a 500 MB parent read 513 MB there, 14 MB in VmHWM)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
