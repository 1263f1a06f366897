"""The fault campaign of tests/scale/test_fault_campaign.py over more seeds and both stacks (SQLite with
two servers running jobs; PostgreSQL + Redis with two servers and two `approvalbot worker` processes):
prints, per seed and stack, the deliveries sent, lost, duplicated and refused, GitHub errors injected,
processes killed with SIGKILL, and how long the system took to heal after the last fault; then a
verdict.

    python bench/bench_campaign.py [--seeds 1,2,3,4,5] [--stores sqlite,postgresql]

Each run is the pytest test itself (so the assertions are the same): 0 lost, 0 applied twice, 0 wrong.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/scale/test_fault_campaign.py::test_nothing_lost_nothing_twice_under_a_fault_campaign"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    failed = []
    for store in args.stores.split(","):
        env = {**os.environ, "CAMPAIGN_SEEDS": args.seeds, "CAMPAIGN_STORE": store}
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-s", "-p", "no:randomly", TEST],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        # pytest's progress dots may precede a line: find each seed's report wherever it starts.
        for report in re.findall(r"seed \d+: [^\n]*", run.stdout):
            print(f"{store}: {report}")
        if run.returncode != 0:
            failed.append(store)
            reasons = [line for line in run.stdout.splitlines() if line.startswith("E ")]
            print("\n".join(reasons[:60]) or run.stdout[-3000:])
    print("ok: every seed healed with 0 lost, 0 twice, 0 wrong" if not failed else f"FAILED on {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
