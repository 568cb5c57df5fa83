"""deploy/ manifests validate against the Kubernetes and Compose schemas, offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S_VERSION = "1.37.0"


def k8s_documents():
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield pytest.param(document, id=f"{path.name}:{document['kind']}")


@pytest.mark.parametrize("document", list(k8s_documents()))
def test_kubernetes_manifests_validate(document):
    kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_the_deployment_is_non_root_read_only_with_probes_and_limits():
    deployment = yaml.safe_load((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/tmp", "/models", "/taxonomies"} <= mounts
    kinds = {d["kind"] for p in (ROOT / "deploy" / "k8s").glob("*.yaml") for d in yaml.safe_load_all(p.read_text())}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "PersistentVolumeClaim"} <= kinds


def test_a_broken_manifest_fails_validation():
    deployment = yaml.safe_load((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    deployment = yaml.safe_load((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pathh"] = "/x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def check_compose(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True)


def test_compose_file_validates_and_a_broken_one_does_not(tmp_path):
    result = check_compose(ROOT / "deploy" / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    broken = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    broken["services"]["newstag"]["healthchek"] = {"test": "true"}  # a misspelt key
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(broken))
    assert check_compose(tmp_path / "compose.yaml").returncode != 0


def test_the_example_taxonomy_loads():
    from service.engine import TaxonomyRegistry

    assert "desk" in TaxonomyRegistry([ROOT / "deploy" / "taxonomies"]).names()
