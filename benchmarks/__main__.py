"""`make bench`: every benchmark of the project, one after the other, each printing its own table.

Run one alone with `python -m benchmarks.search`, `.dialogue`, `.nlu`, `.chat`, `.turn` (what one turn
costs, per process), `.scale` (1+1 and 2+2 replicas) or `.analytics` (the console's analytics over
1 million chat turns).
"""

from __future__ import annotations

import importlib
import logging
import sys
import time

BENCHMARKS = ("search", "dialogue", "nlu", "chat", "turn", "scale", "analytics")

log = logging.getLogger("benchmarks")


def main(names: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    failed = []
    for name in names or BENCHMARKS:
        started = time.perf_counter()
        print(f"\n## Benchmark: {name}\n", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            module.main()
        except Exception:
            log.exception("benchmark %s failed", name)
            failed.append(name)
        print(f"\n({name}: {time.perf_counter() - started:.0f} s)", flush=True)
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
