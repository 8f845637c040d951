"""Fixtures of the deployment tests: a throw-away PKI, and deploy/dev-secrets.py run once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.pki import Pki
from tests.support import ROOT

DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def dev_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `deploy/dev-secrets.py` makes, as a developer runs it (into a temporary dir)."""
    out = tmp_path_factory.mktemp("dev") / "secrets"
    subprocess.run(
        [sys.executable, str(DEPLOY / "dev-secrets.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out
