"""A long property-based run against the control API: the suite's schemathesis test (`st run`, every check) with
every phase, the coverage phase the suite leaves out included (every boundary and violation the document
defines), and many more examples.

    python benchmarks/fuzz_api.py              # 300 examples per operation
    python benchmarks/fuzz_api.py --examples 1000
    python benchmarks/fuzz_api.py --postgresql  # served from a throwaway PostgreSQL cluster, not a SQLite file

Every operation of the OpenAPI document is called with generated valid and invalid input on a real server,
and sequences of calls follow the document's links; a 5xx, an undocumented status or shape, accepted invalid
input or refused valid input fails the run. Exit status is pytest's.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT / "tests" / "api" / "test_schemathesis.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=300, help="hypothesis examples per operation")
    parser.add_argument("--seed", type=int, help="schemathesis' seed (default: a new one, printed)")
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="serve from a database in a throwaway PostgreSQL cluster (its integers and text are not SQLite's)",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if not args.postgresql:
        return _fuzz(args.examples, args.seed)
    from tests.store import pg

    cluster = pg.start_cluster()
    try:
        os.environ["WEBHOOK_SIM_SCHEMATHESIS_DB"] = cluster.create_database("fuzz")
        return _fuzz(args.examples, args.seed)
    finally:
        pg.remove(cluster)


def _fuzz(examples: int, given_seed: int | None) -> int:
    os.environ["WEBHOOK_SIM_SCHEMATHESIS_EXAMPLES"] = str(examples)
    os.environ["WEBHOOK_SIM_SCHEMATHESIS_PHASES"] = "examples,coverage,fuzzing,stateful"  # the suite leaves coverage
    seed = str(given_seed if given_seed is not None else random.SystemRandom().randrange(2**32))
    os.environ["WEBHOOK_SIM_SCHEMATHESIS_SEED"] = seed
    argv = [str(TEST), "-q", "-s", "-p", "no:cacheprovider", "--rootdir", str(ROOT)]
    started = time.perf_counter()
    status = pytest.main(argv)
    where = " on PostgreSQL" if os.environ.get("WEBHOOK_SIM_SCHEMATHESIS_DB") else ""
    print(
        f"seed {seed}, {examples} examples per operation{where} in {time.perf_counter() - started:.0f}s: "
        f"{'no failures' if status == 0 else 'FAILURES'}"
    )
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
