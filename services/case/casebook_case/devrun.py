"""`make run`: the services on SQLite files under ./var, the demo run once, then serving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ADDRESS = os.environ.get("CASEBOOK_CASE_LISTEN", "127.0.0.1:50051")


def main() -> None:
    Path("var").mkdir(exist_ok=True)
    env = dict(os.environ, CASEBOOK_CASE_LISTEN=ADDRESS, CASEBOOK_LOG_FORMAT="json")
    log_path = Path("var/case.log")
    with log_path.open("ab") as log:
        offset = log_path.stat().st_size
        case = subprocess.Popen(
            [sys.executable, "-m", "casebook_case.server"], env=env, stdout=log, stderr=log
        )
    try:
        _wait_listening(case, log_path, offset)
        print(
            f"case service listening on {ADDRESS} (SQLite: var/casebook-case.db, log: {log_path})"
        )
        print("demo: open a case, log a contact, record a promise, pay it:\n")
        subprocess.run(
            [sys.executable, "-m", "casebook_case.demo"],
            env=dict(os.environ, CASEBOOK_CASE_ADDRESS=ADDRESS),
            check=True,
        )
        print(f"\nserving; try: grpcurl -plaintext {ADDRESS} list   (Ctrl-C stops)")
        case.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if case.poll() is None:
            case.terminate()
            case.wait(30)


def _wait_listening(process: subprocess.Popen[bytes], log_path: Path, offset: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in log_path.read_bytes()[offset:].splitlines():
            try:
                if json.loads(line).get("event") == "listening":
                    return
            except ValueError:
                continue
        if process.poll() is not None:
            raise SystemExit(f"case service exited; see {log_path}")
        time.sleep(0.1)
    raise SystemExit(f"case service did not start; see {log_path}")


if __name__ == "__main__":
    main()
