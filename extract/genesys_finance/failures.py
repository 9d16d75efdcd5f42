"""Reading a failed run's exception: the errors it wraps (a worker's, dlt's, a driver's), and
the advice every resumable failure ends with."""

from __future__ import annotations

from collections.abc import Iterator

RESUME_HINT = "run the same command again: what was loaded stays, the job ledger resumes"


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it was raised from or while handling, and so on (each once)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
