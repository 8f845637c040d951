"""`make bench`: figures measured side by side in one run, printed as ratios to a baseline.

Not tests: machines here are noisy, so only ratios measured in the same run mean anything.
BENCH_SCALE=0.1 makes a quick run (every count a tenth) while developing; BENCH_ONLY=1,3
runs some figures only.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench import bulk, commands, followers, long_cases, notify
from bench.report import machine, scaled, section, summary
from casebook_case.application import CaseApplication
from casebook_common.logging import configure_logging
from tests.support import TEST_CIPHER_KEY, ServerProcess


def _big_store(folder: Path, only: set[str]) -> None:
    """Figures 2, 4 and 6 share one SQLite store and one case-service process: the payments
    imported by figure 2 are the first events figures 4 and 6 follow."""
    db_path = folder / "big.db"
    app = CaseApplication(f"sqlite:///{db_path}", cipher_key=TEST_CIPHER_KEY)
    cases = commands.open_cases(app, scaled(1_000, least=16))
    app.close()
    server = ServerProcess(f"sqlite:///{db_path}", folder / "case-big.log").start()
    try:
        if "2" in only:
            bulk.run(server.port, cases)
        if only & {"4", "6"}:
            followers.run(server, db_path, folder)
    finally:
        server.terminate()


def main() -> None:
    configure_logging("bench", fmt="console", level="WARNING")
    only = set(os.environ.get("BENCH_ONLY", "1,2,3,4,5,6").split(","))
    started = time.perf_counter()
    print("casebook benchmarks: every figure beside a baseline measured in this run")
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory(prefix="casebook-bench-") as name:
        folder = Path(name)
        if "1" in only:
            commands.run(folder)
        if "3" in only:
            long_cases.run(folder)
        if "5" in only:
            notify.tick(folder)
            notify.alert_delay(folder)
        if only & {"2", "4", "6"}:
            _big_store(folder, only)
    section(f"Summary (whole run {time.perf_counter() - started:.0f} s)")
    print(summary())


if __name__ == "__main__":
    main()
