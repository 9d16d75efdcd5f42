"""Conversation generator speed and memory: a year at 1,000 conversations/day, day by day.

Generates every day in turn (as the server and the CDR writer do), keeping nothing, and prints
conversations per second (wall and CPU), the orjson serialization rate of the same payloads, and
the process's peak RSS, which shows generation streams instead of holding the year.

    .venv/bin/python bench/bench_generator.py [--days 365] [--conversations-per-day 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta

import orjson

from genesys_sim.generator import ConversationGenerator
from peak_memory import peak_rss_mb

START = date(2024, 1, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--conversations-per-day", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    end = START + timedelta(days=args.days)
    gen = ConversationGenerator(
        args.seed,
        START,
        end,
        args.conversations_per_day,
        now=datetime(end.year + 1, 1, 1, tzinfo=UTC),
    )
    total = payload_bytes = 0
    gen_wall = gen_cpu = ser_wall = 0.0
    day = START
    while day < end:
        wall, cpu = time.perf_counter(), time.process_time()
        convs = gen.conversations_for_day(day)
        gen_wall += time.perf_counter() - wall
        gen_cpu += time.process_time() - cpu
        wall = time.perf_counter()
        payload_bytes += sum(len(orjson.dumps(c)) for c in convs)
        ser_wall += time.perf_counter() - wall
        total += len(convs)
        day += timedelta(days=1)
    peak_mb = peak_rss_mb()
    print(f"days: {args.days}, conversations: {total:,} ({args.conversations_per_day}/day average)")
    print(
        f"generate: {total / gen_wall:,.0f} conversations/s wall, {total / gen_cpu:,.0f} per CPU-s"
    )
    print(f"serialize (orjson): {total / ser_wall:,.0f} conversations/s, "
          f"{payload_bytes / total / 1024:.1f} KiB per conversation")  # fmt: skip
    print(f"peak RSS: {peak_mb:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
