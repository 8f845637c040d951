"""The environment of every casebook container in deploy/docker-compose.yml and deploy/k8s:
only variables the service's code reads (found in the source at test time, so the check
keeps up with the code), everything production mode requires (from the services' own
production_problems()), every file a variable names mounted, and the real configuration
loaders accept it in production mode with the files deploy/dev-secrets.py makes."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest

from casebook_case.config import CaseConfig
from casebook_case.config import production_problems as case_problems
from casebook_notify.config import NotifyConfig
from casebook_notify.config import production_problems as notify_problems
from tests.deploy import manifests
from tests.deploy.manifests import (
    DEPLOY,
    compose_containers,
    environment_problems,
    k8s_containers,
    k8s_documents,
    load_compose,
    variables_in,
    variables_read_by,
)


def dev_secrets_module():
    spec = importlib.util.spec_from_file_location("dev_secrets", DEPLOY / "dev-secrets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def casebook(containers):
    return [c for c in containers if c.service]


# ------------------------------------------------------------------ the files as they are
def test_compose_sets_only_what_the_services_read_and_all_production_needs(dev_secrets):
    containers = compose_containers(load_compose(), secrets_dir=dev_secrets)
    assert {c.name for c in casebook(containers)} == {"case", "notify"}
    assert environment_problems(containers) == []


def test_kubernetes_sets_only_what_the_services_read_and_all_production_needs():
    containers = k8s_containers(k8s_documents())
    assert {c.name for c in containers} == {"case", "notify"}
    assert environment_problems(containers) == []


def test_the_image_sets_only_what_the_services_read():
    read = variables_read_by("case") | variables_read_by("notify")
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("ENV CASEBOOK_"):
            name = line.split()[1].split("=")[0]
            assert name in read, line


def test_both_manifests_give_the_metrics_port_the_prometheus_annotations_name():
    metrics = {"case": "CASEBOOK_CASE_METRICS_LISTEN", "notify": "CASEBOOK_NOTIFY_METRICS_LISTEN"}
    ports = {"case": "9464", "notify": "9465"}
    for container in [
        *casebook(compose_containers(load_compose())),
        *k8s_containers(k8s_documents()),
    ]:
        assert container.env[metrics[container.service]] == f"0.0.0.0:{ports[container.service]}"
    for _, doc in k8s_documents():
        if doc["kind"] == "Deployment":
            template = doc["spec"]["template"]
            port = template["metadata"]["annotations"]["prometheus.io/port"]
            declared = {p["containerPort"] for p in template["spec"]["containers"][0]["ports"]}
            assert int(port) in declared


# --------------------------------------------------------- the real loaders accept them
def _host_env(container, dev_secrets: Path) -> dict[str, str]:
    """The container's environment with each mounted file swapped for dev-secrets.py's."""
    module = dev_secrets_module()
    by_secret = {
        f"secret:{name}/{key}": str(dev_secrets / file)
        for name, (_, keys) in module.K8S_SECRETS.items()
        for key, file in keys.items()
    }
    by_secret |= {
        f"secret:{name}/url": f"postgresql+psycopg://casebook:pw@postgres:5432/{database}"
        for name, database in module.K8S_DATABASE_SECRETS.items()
    }
    env = {}
    for name, value in container.env.items():
        source = container.files.get(value, value)
        if source.startswith("file:"):
            source = source.removeprefix("file:")
        env[name] = by_secret.get(source, source)
    return env


@pytest.mark.parametrize("manifest", ["compose", "kubernetes"])
def test_each_service_starts_in_production_mode_with_what_the_manifest_gives_it(
    manifest, dev_secrets
):
    containers = (
        compose_containers(load_compose(), secrets_dir=dev_secrets)
        if manifest == "compose"
        else k8s_containers(k8s_documents())
    )
    for container in casebook(containers):
        env = _host_env(container, dev_secrets)
        if container.service == "case":
            config = CaseConfig.from_env(env)  # raises ConfigError when it would not start
            assert case_problems(config) == []
            assert config.db_url.startswith("postgresql+psycopg://")
        else:
            config = NotifyConfig.from_env(env)
            assert notify_problems(config) == []
            assert config.db_url.startswith("postgresql+psycopg://")
        assert config.security.mode == "production"
        assert config.security.mutual_tls and config.security.auth


def test_the_manifests_accept_the_tokens_dev_secrets_issues(dev_secrets):
    module = dev_secrets_module()
    containers = [*compose_containers(load_compose()), *k8s_containers(k8s_documents())]
    for container in casebook(containers):
        assert container.env["CASEBOOK_JWT_ISSUER"] == module.ISSUER, container.name
        assert container.env["CASEBOOK_JWT_AUDIENCE"] == module.AUDIENCE, container.name


def test_dev_secrets_makes_every_secret_the_kubernetes_manifests_mount(dev_secrets):
    module = dev_secrets_module()
    made = {f"secret:{n}/{k}" for n, (_, keys) in module.K8S_SECRETS.items() for k in keys}
    made |= {f"secret:{n}/url" for n in module.K8S_DATABASE_SECRETS}
    used = set()
    for container in k8s_containers(k8s_documents()):
        used |= set(container.files.values())
        used |= {v for v in container.env.values() if v.startswith("secret:")}
    assert used == made
    for _, keys in module.K8S_SECRETS.values():
        assert all((dev_secrets / file).is_file() for file in keys.values())


# ------------------------------------------------------------------- the check can fail
def _compose_case(compose):
    return compose["services"]["case"]["environment"]


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda env: env.pop("CASEBOOK_TLS_KEY_FILE"),
         "case: production mode refuses to start: no TLS (CASEBOOK_TLS_CERT_FILE, "
         "CASEBOOK_TLS_KEY_FILE)"),
        (lambda env: env.pop("CASEBOOK_CIPHER_KEY_FILE"),
         "case: production mode refuses to start: no cipher key"),
        (lambda env: env.update(CASEBOOK_CASE_LISTN="0.0.0.0:50051"),
         "case: CASEBOOK_CASE_LISTN is set but case never reads it"),
        (lambda env: env.update(CASEBOOK_NOTIFY_SMS_URL="http://devsinks:8025/sms"),
         "case: CASEBOOK_NOTIFY_SMS_URL is set but case never reads it"),
        (lambda env: env.update(CASEBOOK_LEDGER_KEY_FILE="/run/secrets/ledger-old.pem"),
         "case: CASEBOOK_LEDGER_KEY_FILE=/run/secrets/ledger-old.pem is not a file mounted"),
    ],
    ids=["tls-key-missing", "cipher-key-missing", "misspelt", "other-services", "not-mounted"],
)  # fmt: skip
def test_a_broken_copy_of_the_compose_file_fails(breakage, expected, dev_secrets):
    compose = copy.deepcopy(load_compose())
    breakage(_compose_case(compose))
    problems = environment_problems(compose_containers(compose, secrets_dir=dev_secrets))
    assert any(expected in problem for problem in problems), problems


def test_a_notify_without_its_case_token_fails():
    documents = copy.deepcopy(k8s_documents())
    for _, doc in documents:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "casebook-notify-config":
            del doc["data"]["CASEBOOK_NOTIFY_CASE_TOKEN_FILE"]
    problems = environment_problems(k8s_containers(documents))
    assert problems == [
        "notify-deployment.yaml: notify: production mode refuses to start: no token for the "
        "case service (CASEBOOK_NOTIFY_CASE_TOKEN_FILE)"
    ]


def test_a_secret_dropped_from_the_volume_fails():
    documents = copy.deepcopy(k8s_documents())
    for _, doc in documents:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "casebook-case":
            sources = doc["spec"]["template"]["spec"]["volumes"][0]["projected"]["sources"]
            sources[:] = [s for s in sources if s["secret"]["name"] != "casebook-cipher-key"]
    problems = environment_problems(k8s_containers(documents))
    assert problems == [
        "case-deployment.yaml: case: CASEBOOK_CIPHER_KEY_FILE=/etc/casebook/secrets/cipher.key "
        "is not a file mounted into it"
    ]


def test_variables_are_read_from_strings_of_code_not_from_docstrings(tmp_path):
    source = tmp_path / "example.py"
    source.write_text(
        '"""Mentions CASEBOOK_ONLY_IN_A_DOCSTRING."""\n'
        "CASEBOOK_NAMESPACE = 1  # a Python name, not a variable\n"
        'value = env.get("CASEBOOK_REALLY_READ", "")\n'
        'message = f"set CASEBOOK_IN_A_MESSAGE or {x}; prefixes like CASEBOOK_JWT_* are none"\n'
    )
    assert variables_in(source) == {"CASEBOOK_REALLY_READ", "CASEBOOK_IN_A_MESSAGE"}


def test_the_production_requirements_come_from_the_services_own_checks():
    case = dict(manifests.production_requirements("case"))
    assert [["CASEBOOK_CIPHER_KEY"], ["CASEBOOK_CIPHER_KEY_FILE"]] in case.values()
    assert [["CASEBOOK_TLS_CERT_FILE", "CASEBOOK_TLS_KEY_FILE"]] in case.values()
    notify = dict(manifests.production_requirements("notify"))
    assert [["CASEBOOK_NOTIFY_CASE_TOKEN_FILE"]] in notify.values()
