"""What the extractor's payload screen (`quarantine.unusable_reason`) costs per conversation,
next to masking the same conversations (`Masker.mask_conversation`), in one thread.

    .venv/bin/python bench/screen_cost.py [--conversations-per-day 2000]
"""

from __future__ import annotations

import argparse
import copy
import time
from datetime import UTC, date, datetime

from genesys_finance.masking import Masker, load_policy
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.quarantine import unusable_reason
from genesys_sim.generator import ConversationGenerator

DAY = date(2024, 5, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations-per-day", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    gen = ConversationGenerator(
        seed=3,
        start=DAY,
        end=date(2024, 5, 3),
        conversations_per_day=args.conversations_per_day,
        now=datetime(2024, 6, 1, tzinfo=UTC),
    )
    conversations = gen.conversations_for_day(DAY)
    ranges = [(p["startPhoneNumber"], p["endPhoneNumber"]) for p in gen.did_pools()]
    org = OrgNumbers.build(ranges, [d["phoneNumber"] for d in gen.dids()])
    masker = Masker(load_policy(), b"bench-key", org)

    screen, mask = [], []
    for _ in range(args.repeats):
        began = time.perf_counter()
        reasons = [unusable_reason(c) for c in conversations]
        screen.append(time.perf_counter() - began)
        assert not any(reasons)
        copies = copy.deepcopy(conversations)
        began = time.perf_counter()
        for c in copies:
            masker.mask_conversation(c)
        mask.append(time.perf_counter() - began)
    n = len(conversations)
    print(f"conversations: {n}")
    print(f"screen_us_per_conversation: {min(screen) / n * 1e6:.1f}")
    print(f"mask_us_per_conversation: {min(mask) / n * 1e6:.1f}")


if __name__ == "__main__":
    main()
