"""A long property-based run against the control API: the suite's schemathesis test with many more examples.

    python benchmarks/fuzz_api.py              # 300 examples per operation
    python benchmarks/fuzz_api.py --examples 1000 -x

Every operation of the OpenAPI document is called with generated valid and invalid input on a real server;
a 5xx, an undocumented status or shape, or accepted invalid input fails the run. Exit status is pytest's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT / "tests" / "api" / "test_fuzz.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=300, help="hypothesis examples per operation")
    parser.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failing operation")
    parser.add_argument("-k", dest="keyword", help="only operations matching this pytest -k expression")
    args = parser.parse_args()
    os.environ["WEBHOOK_SIM_FUZZ_EXAMPLES"] = str(args.examples)
    sys.path.insert(0, str(ROOT))
    argv = [str(TEST), "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT)]
    if args.exitfirst:
        argv.append("-x")
    if args.keyword:
        argv += ["-k", args.keyword]
    started = time.perf_counter()
    status = pytest.main(argv)
    print(
        f"{args.examples} examples per operation in {time.perf_counter() - started:.0f}s: "
        f"{'no failures' if status == 0 else 'FAILURES'}"
    )
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
