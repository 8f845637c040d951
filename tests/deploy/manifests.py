"""Reading the deployment files the way the tests compare them: for each container of
deploy/docker-compose.yml and deploy/k8s/, the environment it gets (ConfigMaps, env files and
Secret references resolved) and the files mounted into it; and, from the source, which
CASEBOOK_* variables each service reads and which ones production mode requires."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from tests.support import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
K8S_DIR = DEPLOY / "k8s"
KUSTOMIZATION = K8S_DIR / "kustomization.yaml"

# The casebook services and where their code is; the generated protobuf code is left out.
SERVICE_SOURCES = {
    "case": [ROOT / "services/case", ROOT / "services/common/casebook_common"],
    "notify": [ROOT / "services/notify", ROOT / "services/common/casebook_common"],
}
_VARIABLE = re.compile(r"CASEBOOK_[A-Z0-9_]+")


# ------------------------------------------------------------------- what the code reads
def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def variables_in(path: Path) -> set[str]:
    """Every CASEBOOK_* name inside a string of the code (docstrings and comments aside: a
    name only mentioned is not read; a prefix such as CASEBOOK_JWT_ is not a name)."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = _docstrings(tree)
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            names.update(n for n in _VARIABLE.findall(node.value) if not n.endswith("_"))
    return names


@functools.cache  # the source does not change while the tests run
def variables_read_by(service: str) -> frozenset[str]:
    names: set[str] = set()
    for directory in SERVICE_SOURCES[service]:
        for path in directory.rglob("*.py"):
            names |= variables_in(path)
    return frozenset(names)


def production_requirements(service: str) -> list[tuple[str, list[list[str]]]]:
    """What production mode requires, from the service's own production_problems(): each
    problem of an empty configuration names, in parentheses, the variables that cure it:
    "(A, B)" needs both, "(A or B)" either. [(problem, [[A, B]] or [[A], [B]])]."""
    if service == "case":
        from casebook_case.config import CaseConfig
        from casebook_case.config import production_problems as case_problems

        problems = case_problems(CaseConfig())
    else:
        from casebook_notify.config import NotifyConfig
        from casebook_notify.config import production_problems as notify_problems

        problems = notify_problems(NotifyConfig())
    requirements = []
    for problem in problems:
        groups = re.findall(r"\(([^()]*CASEBOOK_[^()]*)\)", problem)
        assert groups, f"production problem names no variable: {problem!r}"
        alternatives = [_VARIABLE.findall(part) for part in groups[-1].split(" or ")]
        requirements.append((problem, alternatives))
    return requirements


# --------------------------------------------------------------------------- containers
@dataclass
class Container:
    """One container of one manifest, as the tests look at it."""

    manifest: str
    name: str
    service: str | None  # "case" / "notify" for casebook containers, else None
    env: dict[str, str] = field(default_factory=dict)
    # Container path -> where it comes from: "file:<host path>" (compose) or
    # "secret:<name>/<key>" (Kubernetes).
    files: dict[str, str] = field(default_factory=dict)
    directories: list[str] = field(default_factory=list)  # mounted whole (contents unknown)

    def provides(self, path: str) -> bool:
        return path in self.files


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def k8s_manifest_files() -> list[Path]:
    return sorted(p for p in K8S_DIR.glob("*.yaml") if p != KUSTOMIZATION)


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in k8s_manifest_files() for doc in load_yaml_documents(path)]


def _service_of(name: str) -> str | None:
    return name if name in SERVICE_SOURCES else None


def parse_env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def compose_containers(
    compose: dict[str, Any], base: Path = DEPLOY, secrets_dir: Path | None = None
) -> list[Container]:
    """Each compose service with its environment (env_file read from `secrets_dir` when given,
    for ./secrets/ files that only deploy/dev-secrets.py makes) and its mounted files."""
    declared = compose.get("secrets", {})
    containers = []
    for name, spec in compose["services"].items():
        container = Container("docker-compose.yml", name, _service_of(name))
        for env_file in spec.get("env_file", []):
            path = env_file if isinstance(env_file, str) else env_file["path"]
            source = _compose_source(path, base, secrets_dir)
            if source.exists():
                container.env.update(parse_env_file(source))
            else:
                container.env.update({f"<unread {path}>": ""})
        environment = spec.get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        container.env.update({k: str(v) for k, v in environment.items()})
        for secret in spec.get("secrets", []):
            source_name = secret if isinstance(secret, str) else secret["source"]
            target = source_name if isinstance(secret, str) else secret.get("target", source_name)
            target_path = target if target.startswith("/") else f"/run/secrets/{target}"
            file = declared.get(source_name, {}).get("file", "")
            container.files[target_path] = f"file:{_compose_source(file, base, secrets_dir)}"
        for volume in spec.get("volumes", []):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
            if source.startswith((".", "/")) and (base / source).is_file():
                container.files[target] = f"file:{base / source}"
            else:
                container.directories.append(target)
        containers.append(container)
    return containers


def _compose_source(path: str, base: Path, secrets_dir: Path | None) -> Path:
    relative = PurePosixPath(path)
    parts = relative.parts[1:] if relative.parts and relative.parts[0] == "." else relative.parts
    if secrets_dir is not None and parts and parts[0] == "secrets":
        return secrets_dir.joinpath(*parts[1:])
    return base.joinpath(*parts)


def k8s_containers(documents: list[tuple[Path, dict[str, Any]]]) -> list[Container]:
    """Each container of each Deployment, its environment with envFrom ConfigMaps resolved
    (values from Secrets stand as "secret:<name>/<key>") and the files of its volumes."""
    config_maps = {
        doc["metadata"]["name"]: doc.get("data", {})
        for _, doc in documents
        if doc.get("kind") == "ConfigMap"
    }
    containers = []
    for path, doc in documents:
        if doc.get("kind") != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        for spec in pod["containers"]:
            container = Container(path.name, spec["name"], _service_of(spec["name"]))
            for source in spec.get("envFrom", []):
                if "configMapRef" in source:
                    container.env.update(config_maps.get(source["configMapRef"]["name"], {}))
                else:
                    container.env[f"<envFrom {source}>"] = ""
            for item in spec.get("env", []):
                if "value" in item:
                    container.env[item["name"]] = str(item["value"])
                else:
                    ref = item["valueFrom"].get("secretKeyRef") or item["valueFrom"].get(
                        "configMapKeyRef"
                    )
                    kind = "secret" if "secretKeyRef" in item["valueFrom"] else "configmap"
                    container.env[item["name"]] = f"{kind}:{ref['name']}/{ref['key']}"
            for mount in spec.get("volumeMounts", []):
                volume = volumes[mount["name"]]
                for relative, source in _volume_files(volume):
                    if mount.get("subPath"):
                        if relative == mount["subPath"]:
                            container.files[mount["mountPath"]] = source
                    else:
                        container.files[f"{mount['mountPath']}/{relative}"] = source
                if "emptyDir" in volume:
                    container.directories.append(mount["mountPath"])
            containers.append(container)
    return containers


def _volume_files(volume: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(path inside the volume, "secret:<name>/<key>") for the Secret items a volume shows.
    A Secret mounted without `items` shows keys no manifest names: the tests want items."""
    sources = []
    if "secret" in volume:
        sources.append({"secret": {"name": volume["secret"]["secretName"], **volume["secret"]}})
    sources += volume.get("projected", {}).get("sources", [])
    for source in sources:
        secret = source.get("secret")
        if secret is None:
            continue
        for item in secret.get("items", []):
            yield item["path"], f"secret:{secret['name']}/{item['key']}"


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


# ------------------------------------------------------------------------------ checks
def environment_problems(containers: list[Container]) -> list[str]:
    """Each variable a casebook container gets is one its service reads; each one production
    mode requires is there; each file a variable names is mounted. [] when all is well."""
    problems = []
    for container in containers:
        where = f"{container.manifest}: {container.name}"
        if container.service is None:
            problems += [
                f"{where}: {name} is set, but this is no casebook service"
                for name in container.env
                if name.startswith("CASEBOOK_")
            ]
            continue
        read = variables_read_by(container.service)
        problems += [
            f"{where}: {name} is set but {container.service} never reads it"
            for name in sorted(container.env)
            if name not in read
        ]
        for problem, alternatives in production_requirements(container.service):
            if not any(all(container.env.get(v) for v in names) for names in alternatives):
                problems.append(f"{where}: production mode refuses to start: {problem}")
        for name, value in sorted(container.env.items()):
            if (name.endswith("_FILE") or value.startswith("/")) and not container.provides(value):
                problems.append(f"{where}: {name}={value} is not a file mounted into it")
    return problems
