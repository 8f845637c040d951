"""deploy/docker-compose.yml, checked without a Docker engine: it loads, every service has a
health check (or is a one-shot), images are pinned, dependencies wait for health, the
casebook services run the pinned build targets read-only with two replicas each, and every
file it mounts or reads is one deploy/dev-secrets.py makes (or is in the repository)."""

from __future__ import annotations

import re
import tomllib

from tests.deploy.manifests import COMPOSE_FILE, DEPLOY, load_compose, parse_env_file
from tests.deploy.test_dockerfile import PORTS, stages
from tests.support import ROOT

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def services() -> dict[str, dict]:
    return load_compose()["services"]


def is_one_shot(spec: dict) -> bool:
    return spec.get("restart", "no") == "no" and spec.get("deploy", {}).get(
        "restart_policy", {}
    ).get("condition") in (None, "none")


def test_the_file_loads_with_the_expected_services():
    assert set(services()) == {"postgres", "case", "notify", "devsinks"}


def test_every_service_has_a_health_check_or_is_a_one_shot():
    for name, spec in services().items():
        check = spec.get("healthcheck", {})
        assert (check.get("test") and not check.get("disable")) or is_one_shot(spec), name


def test_every_image_is_pinned_and_none_is_latest():
    for name, spec in services().items():
        image = spec["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image}"
        if "build" in spec:
            assert tag == VERSION, f"{name}: built images carry the project version"
        else:
            assert re.fullmatch(r"\d+\.\d+(\.\d+)?-[a-z]+", tag), f"{name}: {image}"
    assert "latest" not in COMPOSE_FILE.read_text()


def test_dependencies_wait_until_healthy():
    everything = services()
    for name, spec in everything.items():
        for dependency, condition in spec.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
            assert everything[dependency].get("healthcheck"), dependency
    assert set(everything["notify"]["depends_on"]) == {"postgres", "case", "devsinks"}
    assert set(everything["case"]["depends_on"]) == {"postgres"}


def test_the_casebook_services_are_the_build_targets_read_only_in_two_replicas():
    targets = set(stages())
    for name in ("case", "notify", "devsinks"):
        spec = services()[name]
        assert spec["build"]["target"] == name and name in targets
        assert (
            spec["build"]["context"] == ".." and spec["build"]["dockerfile"] == "deploy/Dockerfile"
        )
        assert spec["read_only"] is True
    for name in ("case", "notify"):
        spec = services()[name]
        assert spec["deploy"]["replicas"] == 2
        assert spec["environment"]["CASEBOOK_MODE"] == "production"
        address = f"127.0.0.1:{PORTS[name]}"
        assert spec["healthcheck"]["test"] == [
            "CMD", "python", "-m", "casebook_common.healthcheck", "--address", address
        ]  # fmt: skip
        assert spec["environment"][f"CASEBOOK_{name.upper()}_LISTEN"] == f"0.0.0.0:{PORTS[name]}"


def test_every_file_it_mounts_is_made_by_dev_secrets_or_is_in_the_repository(dev_secrets):
    compose = load_compose()
    for name, secret in compose["secrets"].items():
        path = secret["file"]
        assert path.startswith("./secrets/"), name
        assert (dev_secrets / path.removeprefix("./secrets/")).is_file(), path
    for name, spec in compose["services"].items():
        for env_file in spec.get("env_file", []):
            assert (dev_secrets / env_file.removeprefix("./secrets/")).is_file(), name
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).is_file(), volume
            else:
                assert source in compose["volumes"], volume


def test_the_database_urls_name_the_databases_postgres_is_told_to_create(dev_secrets):
    script = (DEPLOY / "postgres/init-databases.sql").read_text()
    created = set(re.findall(r"CREATE DATABASE (\w+);", script))
    user = services()["postgres"]["environment"]["POSTGRES_USER"]
    password = (dev_secrets / "postgres-password").read_text().strip()
    for env_file in ("case-db.env", "notify-db.env"):
        (url,) = parse_env_file(dev_secrets / env_file).values()
        match = re.fullmatch(r"postgresql\+psycopg://(\w+):([^@]+)@postgres:5432/(\w+)", url)
        assert match, url
        assert match.group(1) == user and match.group(2) == password
        assert match.group(3) in created
