"""JSONL request log: one line per request, so tests can audit a client's behaviour.

Holds no PII and no secrets: tokens appear only as a short hash.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson


class RequestLog:
    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("ab")

    def write(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            return
        line = orjson.dumps(entry) + b"\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_request_log(path: Path) -> list[dict[str, Any]]:
    """Every entry of a request log, in order."""
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
