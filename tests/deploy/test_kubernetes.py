"""deploy/k8s, checked without a cluster: every manifest validates strictly against the
schemas kubernetes-validate ships for the pinned Kubernetes versions (offline), and the
shapes ops rely on: probes through the health check module on the service's own port,
non-root read-only pods, requests and limits, disruption budgets, the HPA, scrape
annotations, and Secrets only referenced, never committed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.manifests import KUSTOMIZATION, k8s_documents, k8s_manifest_files
from tests.support import ROOT

VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
# The oldest minor we claim, and the newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.33.0", "1.37.0"]
GRPC_PORTS = {"casebook-case": 50051, "casebook-notify": 50052}


def validate(*paths, version: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VALIDATE), "--strict", "--kubernetes-version", version, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s_documents() if doc["kind"] == kind}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_strictly(version):
    files = k8s_manifest_files()
    done = validate(*files, version=version)
    assert done.returncode == 0, done.stdout + done.stderr
    passed = [line for line in done.stdout.splitlines() if " passed for resource " in line]
    assert len(passed) == len(k8s_documents()), done.stdout  # no kind left unchecked


def test_strict_validation_refuses_a_misspelt_field(tmp_path):
    broken = tmp_path / "deployment.yaml"
    text = (ROOT / "deploy/k8s/case-deployment.yaml").read_text()
    broken.write_text(text.replace("readOnlyRootFilesystem:", "readOnlyRootFileSystem:", 1))
    done = validate(broken, version=KUBERNETES_VERSIONS[0])
    assert done.returncode != 0
    assert "readOnlyRootFileSystem" in done.stdout + done.stderr


def test_the_kustomization_lists_every_manifest():
    listed = yaml.safe_load(KUSTOMIZATION.read_text())["resources"]
    assert sorted(listed) == [path.name for path in k8s_manifest_files()]


def test_no_secret_values_are_committed():
    assert "Secret" not in {doc["kind"] for _, doc in k8s_documents()}
    for config in by_kind("ConfigMap").values():
        for name, value in config["data"].items():
            assert "-----BEGIN" not in value, name
            assert not re.search(r"://[^/\s]*:[^/\s]*@", value), name  # user:password@
            if any(word in name for word in ("PASSWORD", "SECRET", "TOKEN", "KEY")):
                assert name.endswith("_FILE"), name  # a path to a mounted Secret only


@pytest.mark.parametrize("name", ["casebook-case", "casebook-notify"])
def test_each_deployment_probes_its_own_port_through_the_health_check_module(name):
    deployment = by_kind("Deployment")[name]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["grpc"] == GRPC_PORTS[name]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        command = container[probe]["exec"]["command"]
        assert command == [
            "python", "-m", "casebook_common.healthcheck", "--address", f"127.0.0.1:{ports['grpc']}"
        ]  # fmt: skip
        assert container[probe]["timeoutSeconds"] >= 5  # a Python start plus a TLS handshake


@pytest.mark.parametrize("name", ["casebook-case", "casebook-notify"])
def test_each_pod_is_non_root_read_only_and_bounded(name):
    pod = by_kind("Deployment")[name]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False  # else CASEBOOK_CASE_PORT=tcp://... appears
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]) == {"requests", "limits"}
    for part in ("requests", "limits"):
        assert set(container["resources"][part]) == {"cpu", "memory"}
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        if mount["mountPath"] in writable:
            assert "emptyDir" in volumes[mount["name"]], mount
    assert "/tmp" in writable


def test_replicas_budgets_and_the_autoscaler():
    deployments, budgets = by_kind("Deployment"), by_kind("PodDisruptionBudget")
    assert deployments["casebook-case"]["spec"]["replicas"] >= 2
    assert deployments["casebook-notify"]["spec"]["replicas"] == 2  # one active, one standby
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert budgets[name]["spec"]["selector"]["matchLabels"] == selector
        assert deployment["spec"]["template"]["metadata"]["labels"].items() >= selector.items()
    (hpa,) = by_kind("HorizontalPodAutoscaler").values()
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "casebook-case"
    }  # fmt: skip
    assert hpa["spec"]["minReplicas"] >= 2


def test_services_select_their_pods_and_name_the_container_ports():
    deployments = by_kind("Deployment")
    for name, service in by_kind("Service").items():
        template = deployments[name]["spec"]["template"]
        assert template["metadata"]["labels"].items() >= service["spec"]["selector"].items()
        declared = {p["name"] for p in template["spec"]["containers"][0]["ports"]}
        assert (
            {p["targetPort"] for p in service["spec"]["ports"]} == declared == {"grpc", "metrics"}
        )


def test_images_are_pinned():
    for deployment in by_kind("Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            image = container["image"]
            assert ":" in image and not image.endswith(":latest"), image
