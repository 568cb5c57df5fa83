"""deploy/ manifests validate against the Kubernetes and Compose schemas, offline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from service.config import Settings
from service.errors import ConfigError
from service.preflight import check_serving

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
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap"} <= kinds


def test_the_deployment_fails_closed_drains_before_stopping_and_needs_no_special_storage():
    """A platform engineer's findings: a missing Secret served /v1 to anyone, requests sent in the
    seconds after SIGTERM hung, and a ReadOnlyMany claim few provisioners make held every pod Pending."""
    deployment = yaml.safe_load((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert not env["NEWSTAG_API_KEYS"]["valueFrom"]["secretKeyRef"].get("optional", False)
    # A Secret with an empty api-keys value read as no keys: the server now refuses to start then.
    settings = Settings.from_env({"NEWSTAG_API_KEYS": "",
                                  "NEWSTAG_REQUIRE_API_KEYS": env["NEWSTAG_REQUIRE_API_KEYS"]["value"]})
    with pytest.raises(ConfigError, match="NEWSTAG_API_KEYS names no key"):
        check_serving(settings)
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep" and pod["terminationGracePeriodSeconds"] >= int(command[1]) + 30
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "persistentVolumeClaim" not in volumes["models"]  # optional: the default model is in the image
    # The HPA owns the replica count: one in the Deployment would reset it at every re-apply.
    hpa = yaml.safe_load((ROOT / "deploy" / "k8s" / "hpa.yaml").read_text())
    assert "replicas" not in deployment["spec"] and hpa["spec"]["minReplicas"] >= 2


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


RAYJOB = ROOT / "deploy" / "k8s" / "bulk" / "rayjob.yaml"
# KubeRay's ray.io/v1 fields (its CRD is not bundled anywhere offline): a misspelt key fails here.
RAYJOB_FIELDS = {"entrypoint", "rayClusterSpec", "shutdownAfterJobFinishes", "ttlSecondsAfterFinished",
                 "activeDeadlineSeconds", "submissionMode", "runtimeEnvYAML", "backoffLimit", "suspend",
                 "submitterPodTemplate", "jobId", "clusterSelector", "entrypointNumCpus", "metadata"}
CLUSTER_FIELDS = {"rayVersion", "headGroupSpec", "workerGroupSpecs", "enableInTreeAutoscaling", "autoscalerOptions"}
HEAD_FIELDS = {"rayStartParams", "template", "serviceType"}
WORKER_FIELDS = {"groupName", "replicas", "minReplicas", "maxReplicas", "rayStartParams", "template"}


def rayjob_pods(job: dict) -> list[dict]:
    cluster = job["spec"]["rayClusterSpec"]
    return [cluster["headGroupSpec"]["template"], *(group["template"] for group in cluster["workerGroupSpecs"])]


def validate_rayjob(job: dict) -> None:
    """KubeRay's fields by name, and each pod template as Kubernetes itself checks one."""
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    spec, cluster = job["spec"], job["spec"]["rayClusterSpec"]
    assert set(spec) <= RAYJOB_FIELDS and set(cluster) <= CLUSTER_FIELDS, set(spec) | set(cluster)
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    assert set(groups[0]) <= HEAD_FIELDS and all(set(group) <= WORKER_FIELDS for group in groups[1:])
    assert all(isinstance(v, str) for group in groups for v in group["rayStartParams"].values())  # strings only
    for template in rayjob_pods(job):
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"},
                                      "template": template}, K8S_VERSION, strict=True)


def test_the_bulk_rayjob_is_well_formed_and_its_pods_validate():
    validate_rayjob(yaml.safe_load(RAYJOB.read_text()))


def test_the_bulk_rayjob_runs_the_bulk_command_with_the_bulk_image_and_pinned_ray():
    import shlex

    from service.bulk.cli import _parser

    job = yaml.safe_load(RAYJOB.read_text())
    command = shlex.split(job["spec"]["entrypoint"])
    assert command[:3] == ["python", "-m", "service.bulk"]
    args = _parser("service.bulk").parse_args(command[3:])  # every option exists (argparse exits otherwise)
    ray_pin = next(line for line in (ROOT / "requirements-bulk.txt").read_text().splitlines()
                   if line.startswith("ray["))
    assert ray_pin.endswith("==" + job["spec"]["rayClusterSpec"]["rayVersion"])
    for pod in rayjob_pods(job):
        [container] = pod["spec"]["containers"]
        assert container["image"] == "newstag-bulk:0.1.0"
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        # Every pod sees the input and the output at the paths the command names.
        assert mounts["/archive"]["readOnly"] is True and args.input == ["/archive"]
        assert str(args.output).startswith("/tagged/") and not mounts["/tagged"].get("readOnly")
        assert {"/tmp", "/dev/shm"} <= set(mounts)
    # Ray keeps its object store on disk when /dev/shm is smaller (30% of a 4 GiB worker is more than 1 GiB).
    shm = next(v for v in job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["volumes"]
               if v["name"] == "shm")
    assert shm["emptyDir"]["sizeLimit"] == "1Gi"
    for group in job["spec"]["rayClusterSpec"]["workerGroupSpecs"]:
        assert int(group["rayStartParams"]["object-store-memory"]) < 2**30


def test_a_broken_rayjob_fails_these_checks():
    job = yaml.safe_load(RAYJOB.read_text())
    job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"] = "2"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_rayjob(job)
    job = yaml.safe_load(RAYJOB.read_text())
    job["spec"]["shutdownAfterJobFinish"] = True  # misspelt
    with pytest.raises(AssertionError):
        validate_rayjob(job)
    job = yaml.safe_load(RAYJOB.read_text())
    job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["rayStartParams"]["num-cpus"] = 2
    with pytest.raises(AssertionError):
        validate_rayjob(job)


def test_both_deployments_keep_threads_for_probes_finish_requests_on_stop_and_fit_torch_to_the_cpus():
    """What the image under podman showed: 16 threads for a queue of 16 starved the probes, compose's
    default 10 s stop killed a request in flight, and an unpinned torch took the host's cores."""
    pod = yaml.safe_load((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())["spec"]["template"]["spec"]
    k8s_env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]["newstag"]
    for env in (k8s_env, compose["environment"]):
        assert int(env["NEWSTAG_THREADS"]) > int(env.get("NEWSTAG_MAX_QUEUE") or 16)
        assert env["NEWSTAG_TORCH_THREADS"] == "2"
    assert int(compose["deploy"]["resources"]["limits"]["cpus"]) == 2
    assert pod["terminationGracePeriodSeconds"] > 30 and int(compose["stop_grace_period"].rstrip("s")) > 30
    assert pod["containers"][0]["image"] == compose["image"]  # the tag docs/container.md builds


def test_every_newstag_variable_the_manifests_and_the_image_set_is_a_setting_with_a_valid_value():
    """A misspelt or retired variable in a manifest is silently ignored by the server (it warns, in a
    log few read): each name the Deployment, compose and the Dockerfile set must be one newstag
    reads, and each literal value must pass its own check."""
    from service.config import unknown_variable_warnings

    pod = yaml.safe_load((ROOT / "deploy" / "k8s" / "deployment.yaml").read_text())["spec"]["template"]["spec"]
    k8s = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]["newstag"]["environment"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    image = dict(re.findall(r"\b(NEWSTAG_[A-Z_]+)=(\S*?)\s*\\?$", dockerfile, re.MULTILINE))
    names = set(k8s) | set(compose) | set(image)
    assert unknown_variable_warnings({name: "x" for name in names}) == []
    assert {"NEWSTAG_REQUIRE_API_KEYS", "NEWSTAG_DATABASE_URL", "NEWSTAG_MODELS_DIR"} <= names  # the parse found them
    literal = {name: value for env in (k8s, compose, image) for name, value in env.items()
               if isinstance(value, str) and value and not value.startswith("$")}
    Settings.from_env({k: v for k, v in literal.items() if k not in ("NEWSTAG_WORKERS", "NEWSTAG_THREADS")})
    for name in ("NEWSTAG_WORKERS", "NEWSTAG_THREADS"):
        assert all(int(env[name]) >= 1 for env in (k8s, compose))
