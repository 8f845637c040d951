"""The README's client example is the demo `make run` runs, and it works as printed."""

import os
import subprocess
import sys

from tests.support import ROOT, ServerProcess


def test_readme_example_is_the_demo_verbatim():
    demo = (ROOT / "services/case/casebook_case/demo.py").read_text()
    assert f"```python\n{demo}```" in (ROOT / "README.md").read_text()


def test_readme_example_runs_and_shows_the_promise_kept(tmp_path):
    server = ServerProcess(f"sqlite:///{tmp_path}/case.db", tmp_path / "case.log").start()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "casebook_case.demo"],
            env=dict(os.environ, CASEBOOK_CASE_ADDRESS=f"127.0.0.1:{server.port}"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.terminate()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("promise ") and lines[0].endswith(" KEPT")
    assert [line.split()[1] for line in lines[1:]] == [
        "CaseOpened",
        "ContactLogged",
        "PromiseRecorded",
        "PaymentRecorded",
        "PromiseKept",
    ]
