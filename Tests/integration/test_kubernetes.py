"""The Kubernetes manifests in deploy/kubernetes: valid for the oldest and the newest
Kubernetes they target, lint-clean, rendered by kustomize, consistent with one another,
with dmabufd's systemd unit and with dmabufctl, and runnable as written.

- Schemas: PyPI's kubernetes-validate, with --strict (an unknown field is an error),
  against Kubernetes 1.28 (the first with native sidecars) and the newest schema the
  installed package carries. It carries its schemas: every run here is in a network
  namespace of its own, so a version that fetched them would fail, not pass.
- Consistency: the checks run on the manifest files and, where kubectl is installed, on
  what `kubectl kustomize` renders from them (what `kubectl apply -k` would send).
- Runnable: dmabufd starts with the DaemonSet's args and exactly the capabilities it
  adds (and fails without any one the kernel needs), answers its probes' GET /metrics
  in a network namespace of its own, and the example pod's sidecar, with its own
  command, environment, uid and read-only mount, follows it through the node folder.
"""
import importlib.resources
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from service_helpers import DMABUFCTL, DMABUFD, ended, first_line
from varlink_raw import MONITOR, RawClient, wait_for_socket

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
EXAMPLE_APP = MANIFESTS / "example-app"
NO_SYS_ADMIN = MANIFESTS / "components" / "no-sys-admin" / "kustomization.yaml"
IMAGE_COMPONENT = MANIFESTS / "components" / "image" / "kustomization.yaml"
UNIT = ROOT / "dist" / "systemd" / "dmabufd.service.in"
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: nothing renders kustomizations")

# The oldest Kubernetes the manifests are for: native sidecars came in 1.28.
OLDEST = "1.28"


def carried_schema_versions():
    """The Kubernetes versions whose strict schemas the installed kubernetes-validate
    carries, from the folders it ships (v1.28.0-local-strict, ...), oldest first."""
    folder = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    versions = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local-strict", entry.name)
        if match:
            versions.append((int(match[1]), int(match[2])))
    return [f"{major}.{minor}" for major, minor in sorted(versions)]


NEWEST = carried_schema_versions()[-1]
VERSIONS = [OLDEST, NEWEST]


def manifest_files():
    """Every Kubernetes object file: the YAML under deploy/kubernetes but kustomize's
    own files, which no Kubernetes schema describes (kustomize checks those itself)."""
    files = sorted(p for p in MANIFESTS.rglob("*.yaml") if p.name != "kustomization.yaml")
    assert {p.relative_to(MANIFESTS).as_posix() for p in files} >= {
        "namespace.yaml", "daemonset.yaml", "metrics-service.yaml", "network-policy.yaml", "example-app/namespace.yaml",
        "example-app/pod.yaml"}, files
    return files


def documents(text):
    return [doc for doc in yaml.safe_load_all(text) if doc]


def validate(files, version, strict=True):
    """kubernetes-validate on `files` against `version`, with no network; (exit code, output)."""
    command = [sys.executable, "-m", "kubernetes_validate", "-k", version, *(["--strict"] if strict else []),
               *map(str, files)]
    result = subprocess.run(["unshare", "--net", *command], capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout + result.stderr


def assert_each_document_passed(files, version):
    code, output = validate(files, version)
    assert code == 0, output
    lines = output.splitlines()
    # A WARN (no schema for a kind) passes with exit 0: only INFO lines count.
    assert all(line.startswith("INFO ") for line in lines), output
    expected = [(str(path), f"{doc['kind'].lower()}/{doc['metadata']['name']}")
                for path in files for doc in documents(Path(path).read_text())]
    assert lines == [f"INFO {path} passed for resource {name} against version {version}"
                     for path, name in expected], output


def kustomize(folder):
    result = subprocess.run([KUBECTL, "kustomize", str(folder)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- reading the objects ---------------------------------------------------------------

def only(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def option(args, name):
    """The value of `--name=VALUE` or `--name VALUE` in a container's args, or None."""
    for index, arg in enumerate(args):
        if arg.startswith(name + "="):
            return arg[len(name) + 1:]
        if arg == name:
            return args[index + 1]
    return None


def node_path(pod_spec, container, path):
    """Where `path` inside `container` is on the node: through the container's mount that
    holds it, to that volume's hostPath. Also returns whether the mount is read-only."""
    mounts = [m for m in container.get("volumeMounts", [])
              if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert mounts, f"{path} is on no volume of container {container['name']}"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volume = next(v for v in pod_spec["volumes"] if v["name"] == mount["name"])
    assert "hostPath" in volume, f"{path} is on volume {volume['name']}, not a hostPath"
    rest = os.path.relpath(path, mount["mountPath"])
    return os.path.normpath(os.path.join(volume["hostPath"]["path"], rest)), mount.get("readOnly", False), volume


def container_port(container, port):
    """A probe's or Service's port (a name or a number) as the container's port number."""
    for declared in container.get("ports", []):
        if port in (declared.get("name"), declared["containerPort"]):
            return declared["containerPort"]
    raise AssertionError(f"container {container['name']} declares no port {port!r}")


def prometheus_annotations(obj):
    return {k: v for k, v in obj["metadata"].get("annotations", {}).items() if k.startswith("prometheus.io/")}


def unit_capabilities(setting="CapabilityBoundingSet"):
    """The systemd unit's CapabilityBoundingSet (or another setting's list), without the CAP_ prefixes."""
    for line in UNIT.read_text().splitlines():
        if line.startswith(f"{setting}="):
            return {cap.removeprefix("CAP_") for cap in line.split("=", 1)[1].split()}
    raise AssertionError(f"{UNIT} sets no {setting}")


# The unit starts dmabufd as its user; the DaemonSet as root, which then becomes --user.
BECOMING_THE_USER = {"SETUID", "SETGID", "CHOWN", "DAC_OVERRIDE"}


def daemonset_user(container):
    """The uid and gid the DaemonSet's --user names (numeric: the image needs no passwd entry)."""
    uid, gid = option(container["args"], "--user").split(":")
    return int(uid), int(gid)


def daemon_container(docs):
    pod = only(docs, "DaemonSet", "dmabufd")["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    return pod, pod["containers"][0]


# The example pod's native sidecars: one follows names, one the pod's own footprint.
SIDECARS = ("dmabuf-watch", "dmabuf-mine")


def sidecar(docs, name):
    pod = only(docs, "Pod", "camera-app")["spec"]
    sidecars = {c["name"]: c for c in pod.get("initContainers", []) if c.get("restartPolicy") == "Always"}
    assert sorted(sidecars) == sorted(SIDECARS), pod.get("initContainers")
    return pod, sidecars[name]


def watched(args):
    """The names and the prefixes a `dmabufctl watch` command line asks for."""
    names, prefixes = [], []
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--prefix":
            prefixes.append(next(rest))
        elif arg in ("--interval", "--socket"):
            next(rest)
        elif not arg.startswith("-"):
            names.append(arg)
    return names, prefixes


def sidecar_socket(container):
    """The socket dmabufctl connects to, as it chooses: --socket, else $DMABUFD_SOCKET,
    else its default."""
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    return option(container["args"], "--socket") or env.get("DMABUFD_SOCKET") or "/run/dmabufd/dmabufd.sock"


# --- the views the consistency checks run on ---------------------------------------------

@pytest.fixture(scope="module", params=["files", pytest.param("rendered", marks=needs_kubectl)])
def objects(request):
    """Every object of both kustomizations: as written, or as kustomize renders them."""
    if request.param == "files":
        return [doc for path in manifest_files() for doc in documents(path.read_text())]
    return documents(kustomize(MANIFESTS)) + documents(kustomize(EXAMPLE_APP))


# --- schemas and lint --------------------------------------------------------------------

def test_the_validator_carries_the_oldest_and_a_newer_schema():
    versions = carried_schema_versions()
    assert OLDEST in versions, versions
    assert tuple(map(int, NEWEST.split("."))) > (1, 28), versions


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_file_is_valid_strictly(version):
    assert_each_document_passed(manifest_files(), version)


def test_the_validator_refuses_a_misspelled_field(tmp_path):
    # A validator with no schemas, or one that lets unknown fields through, would pass
    # every test above: this one shows that the runs above can fail.
    daemonset = (MANIFESTS / "daemonset.yaml").read_text()
    assert "readOnlyRootFilesystem:" in daemonset
    bad = tmp_path / "daemonset.yaml"
    bad.write_text(daemonset.replace("readOnlyRootFilesystem:", "readOnlyRootFileSystem:"))
    for version in VERSIONS:
        code, output = validate([bad], version)
        assert code == 1, output
        assert "'readOnlyRootFileSystem' was unexpected" in output, output
    # Only --strict catches it: the flag is what the runs above depend on.
    code, output = validate([bad], OLDEST, strict=False)
    assert code == 0 and "passed" in output, output


def test_yamllint_strict_passes_and_can_fail(tmp_path):
    config = MANIFESTS / ".yamllint"
    lint = [sys.executable, "-m", "yamllint", "--strict", "-c", str(config)]
    result = subprocess.run([*lint, str(MANIFESTS)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    # The same configuration finds a mistake, so it does not ignore the files.
    copy = tmp_path / "kubernetes"
    shutil.copytree(MANIFESTS, copy)
    with open(copy / "example-app" / "pod.yaml", "a") as pod:
        pod.write("    - name: extra   \n")
    result = subprocess.run([*lint, str(copy)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "trailing-spaces" in result.stdout, result.stdout + result.stderr


# --- consistency ---------------------------------------------------------------------------

def test_dmabufd_starts_as_root_with_the_units_capabilities_and_those_to_become_its_user(objects):
    pod, container = daemon_container(objects)
    context = container["securityContext"]
    assert context["capabilities"]["drop"] == ["ALL"]
    added = context["capabilities"]["add"]
    assert unit_capabilities() == unit_capabilities("AmbientCapabilities") == {"BPF", "PERFMON", "SETPCAP", "SYS_ADMIN"}
    assert len(added) == len(set(added)) and set(added) == unit_capabilities() | BECOMING_THE_USER, added
    assert context["runAsUser"] == 0 and context["runAsNonRoot"] is False
    assert daemonset_user(container)[0] not in (0, context["runAsUser"])
    assert context["privileged"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    # Kubernetes holds escalation as allowed with SYS_ADMIN (and refuses false beside
    # CAP_SYS_ADMIN): the manifest says what applies.
    assert context["allowPrivilegeEscalation"] is ("SYS_ADMIN" in added)
    # The task iterators walk dmabufd's own pid namespace: the node's, to see every pod.
    assert pod.get("hostPID") is True
    for host_namespace in ("hostNetwork", "hostIPC"):
        assert not pod.get(host_namespace), host_namespace
    assert pod["automountServiceAccountToken"] is False
    assert container["command"] == ["/usr/local/sbin/dmabufd"]


def test_the_socket_is_in_the_node_folder_the_sidecar_mounts(objects):
    daemon_pod, daemon = daemon_container(objects)
    socket = option(daemon["args"], "--socket")
    assert socket, daemon["args"]
    served, read_only, volume = node_path(daemon_pod, daemon, socket)
    assert not read_only, "dmabufd makes its socket there"
    assert volume["hostPath"]["type"] == "DirectoryOrCreate"
    # The folder is mounted, not the socket: dmabufd makes a new socket at each start.
    assert os.path.dirname(socket) == next(
        m["mountPath"] for m in daemon["volumeMounts"] if m["name"] == volume["name"])

    for name in SIDECARS:
        app_pod, follower = sidecar(objects, name)
        reached, read_only, volume = node_path(app_pod, follower, sidecar_socket(follower))
        assert reached == served, name
        assert read_only, name
        assert volume["hostPath"]["type"] == "Directory", name


def test_the_node_cgroup_tree_is_mounted_read_only_where_cgroup_root_says(objects):
    pod, daemon = daemon_container(objects)
    root = option(daemon["args"], "--cgroup-root")
    assert root, "a container sees its own cgroup alone: Mine and Cgroups need the node's tree"
    on_node, read_only, volume = node_path(pod, daemon, root)
    assert on_node == "/sys/fs/cgroup" and read_only
    assert volume["hostPath"]["type"] == "Directory"


def test_the_metrics_port_is_the_same_everywhere(objects):
    pod_template = only(objects, "DaemonSet", "dmabufd")["spec"]["template"]
    _, container = daemon_container(objects)
    address = option(container["args"], "--metrics-address")
    host, _, port = address.rpartition(":")
    port = int(port)
    assert host == "0.0.0.0", "Prometheus reaches the pod from outside it"
    assert container_port(container, "metrics") == port
    scrape = {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}
    assert prometheus_annotations(pod_template) == scrape

    service = only(objects, "Service", "dmabufd-metrics")
    assert prometheus_annotations(service) == scrape
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"].items() <= pod_template["metadata"]["labels"].items()
    [service_port] = service["spec"]["ports"]
    assert service_port["port"] == port
    assert container_port(container, service_port["targetPort"]) == port

    readiness = container["readinessProbe"]
    assert readiness["httpGet"]["path"] == "/metrics"
    assert container_port(container, readiness["httpGet"]["port"]) == port
    # A scrape may run a pass (at most one a second): probes stay well apart.
    assert readiness["periodSeconds"] >= 10
    # Liveness goes through the socket, where root has slots no one else can take.
    socket_path = option(container["args"], "--socket")
    assert container["livenessProbe"]["exec"]["command"] == [
        "/usr/local/bin/dmabufctl", "status", f"--socket={socket_path}"]
    assert container["livenessProbe"]["periodSeconds"] >= 10


def test_only_the_prometheus_namespace_reaches_the_metrics_port(objects):
    pod_labels = only(objects, "DaemonSet", "dmabufd")["spec"]["template"]["metadata"]["labels"]
    _, container = daemon_container(objects)
    policy = only(objects, "NetworkPolicy", "dmabufd-metrics")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["policyTypes"] == ["Ingress"]
    [rule] = policy["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert [container_port(container, port["port"]) for port in rule["ports"]] == [
        container_port(container, "metrics")]
    assert "--metrics-watched-names" not in container["args"], "what clients watch stays off the endpoint"


def test_dmabufd_updates_node_by_node_and_runs_on_every_node(objects):
    spec = only(objects, "DaemonSet", "dmabufd")["spec"]
    # A second dmabufd on the socket exits 73, so the old one must go first.
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    assert {"operator": "Exists"} in spec["template"]["spec"]["tolerations"]


def test_the_sidecars_are_native_sidecars_following_with_json(objects):
    pod, watcher = sidecar(objects, "dmabuf-watch")
    assert watcher["command"] == ["/usr/local/bin/dmabufctl"]
    args = watcher["args"]
    assert args[0] == "watch"
    assert "--follow" in args and "--json" in args
    assert any(watched(args)), "watch needs a name or a prefix"
    _, mine = sidecar(objects, "dmabuf-mine")
    assert mine["command"] == ["/usr/local/bin/dmabufctl"]
    assert mine["args"][0] == "mine" and "--follow" in mine["args"] and "--json" in mine["args"]
    # Not root: dmabufd's default policy gives uid 0 List of every buffer on the node.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    for container in pod["containers"] + pod["initContainers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["capabilities"] == {"drop": ["ALL"]}, container["name"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
    assert pod["automountServiceAccountToken"] is False


def test_both_namespaces_admit_host_path_pods(objects):
    """Pod Security Admission's baseline forbids hostPath volumes, which dmabufd's pods and
    the example app's both have. (That each pod lands in its namespace is checked on what
    kustomize renders.)"""
    levels = {ns["metadata"]["name"]: ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
              for ns in objects if ns["kind"] == "Namespace"}
    assert levels == {"dmabufd": "privileged", "dmabufd-example": "privileged"}


# --- what kustomize renders --------------------------------------------------------------

@needs_kubectl
def test_kustomize_renders_each_object_in_its_namespace_with_the_one_image():
    base = documents(kustomize(MANIFESTS))
    example = documents(kustomize(EXAMPLE_APP))
    assert sorted((d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in base) == [
        ("DaemonSet", "dmabufd", "dmabufd"), ("Namespace", None, "dmabufd"),
        ("NetworkPolicy", "dmabufd", "dmabufd-metrics"), ("Service", "dmabufd", "dmabufd-metrics")]
    assert sorted((d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in example) == [
        ("Namespace", None, "dmabufd-example"), ("Pod", "dmabufd-example", "camera-app")]
    # The DaemonSet's pods carry the base's common label; its selector does not (a
    # DaemonSet's selector cannot change).
    daemonset = only(base, "DaemonSet")
    assert daemonset["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "dmabufd"
    assert daemonset["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "dmabufd"}}
    # Each hostPath pod lands in a namespace of its own rendering that admits it.
    for rendering, holder in ((base, daemonset), (example, only(example, "Pod"))):
        namespace = only(rendering, "Namespace", holder["metadata"]["namespace"])
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"

    [entry] = yaml.safe_load(IMAGE_COMPONENT.read_text())["images"]
    image = f"{entry['newName']}:{entry['newTag']}"
    _, daemon = daemon_container(base)
    assert daemon["image"] == image
    for name in SIDECARS:
        assert sidecar(example, name)[1]["image"] == image, name


@needs_kubectl
@pytest.mark.parametrize("version", VERSIONS)
def test_what_kustomize_renders_is_valid_strictly(version, tmp_path):
    rendered = []
    for name, folder in (("base.yaml", MANIFESTS), ("example-app.yaml", EXAMPLE_APP)):
        rendered.append(tmp_path / name)
        rendered[-1].write_text(kustomize(folder))
    assert_each_document_passed(rendered, version)


def no_sys_admin_patch():
    """What components/no-sys-admin sets: the capabilities and allowPrivilegeEscalation."""
    component = yaml.safe_load(NO_SYS_ADMIN.read_text())
    [patch] = component["patches"]
    values = {op["path"].rsplit("/", 1)[1]: op["value"] for op in yaml.safe_load(patch["patch"])}
    return values["add"], values["allowPrivilegeEscalation"]


@needs_kubectl
def test_the_no_sys_admin_component_enabled_as_the_kustomization_says(tmp_path):
    copy = tmp_path / "kubernetes"
    shutil.copytree(MANIFESTS, copy)
    kustomization = (copy / "kustomization.yaml").read_text()
    commented = "  # - components/no-sys-admin\n"
    assert kustomization.count(commented) == 1, "the kustomization no longer shows how to enable it"
    (copy / "kustomization.yaml").write_text(kustomization.replace(commented, "  - components/no-sys-admin\n"))
    rendered = kustomize(copy)
    _, container = daemon_container(documents(rendered))
    context = container["securityContext"]
    no_sys_admin = ["BPF", "PERFMON", "SETPCAP", "SETUID", "SETGID", "CHOWN", "DAC_OVERRIDE"]
    assert context["capabilities"] == {"drop": ["ALL"], "add": no_sys_admin}
    assert context["allowPrivilegeEscalation"] is False
    assert no_sys_admin_patch() == (no_sys_admin, False)
    (tmp_path / "rendered.yaml").write_text(rendered)
    for version in VERSIONS:
        assert_each_document_passed([tmp_path / "rendered.yaml"], version)


# --- runnable as written -------------------------------------------------------------------

def in_container(mounts, command, network=False):
    """`command` in a mount namespace of its own where each (node folder, path, read-only)
    of `mounts` is bind-mounted at its path, over a tmpfs on the path's parent: what the
    container runtime does with a hostPath volume. With `network`, also in a network
    namespace of its own with loopback up, as a pod without hostNetwork."""
    script = ["set -e", *(["ip link set lo up"] if network else [])]
    covered = set()
    for source, target, read_only in mounts:
        parent = os.path.dirname(target)
        assert parent != "/", target
        if parent not in covered:
            script.append(f"mount -t tmpfs tmpfs '{parent}'")
            covered.add(parent)
        script += [f"mkdir -p '{target}'", f"mount --bind {'-o ro ' if read_only else ''}'{source}' '{target}'"]
    script.append('exec "$@"')
    return ["unshare", "--mount", *(["--net"] if network else []), "--propagation", "private", "--",
            "sh", "-c", "\n".join(script), "sh", *command]


def with_capabilities(added, no_new_privs, command):
    """`command` as root with only `added` capabilities, no_new_privs as asked: as a
    container runtime starts a uid 0 container that drops ALL and adds these."""
    bounding = ",".join(["-all", *(f"+{cap.lower()}" for cap in added)])
    return ["setpriv", f"--bounding-set={bounding}", "--inh-caps=-all",
            *(["--no-new-privs"] if no_new_privs else []), *command]


# This machine is not a node: its cgroup2 tree is where mountinfo says, not always at
# /sys/fs/cgroup, and /host does not exist to hold a mount point. The test binds it next to
# the socket folder and points --cgroup-root there; every other arg is as written.
CGROUP_ROOT_HERE = "/run/node-cgroup"


def cgroup2_here():
    with open("/proc/self/mountinfo") as mounts:
        for line in mounts:
            fields, _, rest = line.partition(" - ")
            if rest.split()[0] == "cgroup2":
                return fields.split()[4]
    raise AssertionError("no cgroup2 hierarchy is mounted on this machine")


def start_daemonset_container(node_folder, added, no_new_privs):
    """dmabufd as the DaemonSet's container: its args, its mount of the node folder and of
    the node's cgroup tree (see CGROUP_ROOT_HERE), its capabilities, a network namespace of
    its own (the pod's)."""
    pod, container = daemon_container(documents((MANIFESTS / "daemonset.yaml").read_text()))
    socket = option(container["args"], "--socket")
    served, _, volume = node_path(pod, container, socket)
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume["name"])
    args = [f"--cgroup-root={CGROUP_ROOT_HERE}" if arg.startswith("--cgroup-root") else arg for arg in container["args"]]
    command = with_capabilities(added, no_new_privs, [DMABUFD, *args])
    mounts = [(node_folder, mount, False), (cgroup2_here(), CGROUP_ROOT_HERE, True)]
    process = subprocess.Popen(in_container(mounts, command, network=True),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, os.path.join(node_folder, os.path.relpath(served, volume["hostPath"]["path"]))


def probe_answers(pid):
    """The probes' and Prometheus's request, GET /metrics on the metrics port, from inside
    the pod's network namespace: 200 with the text."""
    _, container = daemon_container(documents((MANIFESTS / "daemonset.yaml").read_text()))
    port = container_port(container, container["readinessProbe"]["httpGet"]["port"])
    probe = subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", "curl", "-sS", "--fail", "--retry", "20", "--retry-connrefused",
         "--retry-delay", "0", "-D", "-", f"http://127.0.0.1:{port}/metrics"],
        capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert "content-type: text/plain; version=0.0.4" in probe.stdout.lower(), probe.stdout[:300]
    assert "\ndmabufd_scans_total " in probe.stdout


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, output


@pytest.fixture
def node_folder(tmp_path):
    """The node's /run/dmabufd, as the kubelet makes it for DirectoryOrCreate."""
    folder = tmp_path / "node-run-dmabufd"
    folder.mkdir(mode=0o755)
    return str(folder)


def run_sidecar(pod, container, node_folder):
    """A sidecar as the pod runs it: its args, environment and uid, the node folder mounted
    read-only where the pod mounts it; stdout unbuffered for first_line."""
    user = pod["securityContext"]["runAsUser"]
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m.get("readOnly"))
    env = {"PATH": os.environ["PATH"], **{e["name"]: e["value"] for e in container["env"]}}
    as_pod = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--no-new-privs",
              "--bounding-set=-all", DMABUFCTL, *container["args"]]
    return subprocess.Popen(in_container([(node_folder, mount, True)], as_pod), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)


def own_cgroup():
    with open("/proc/self/cgroup") as cgroups:
        return next(line.split(":", 2)[2].strip() for line in cgroups if line.startswith("0::"))


@pytest.mark.parametrize("variant", ["base", "no-sys-admin"])
def test_the_daemonset_container_starts_serves_and_the_sidecar_follows_it(variant, node_folder):
    if variant == "base":
        _, container = daemon_container(documents((MANIFESTS / "daemonset.yaml").read_text()))
        added = container["securityContext"]["capabilities"]["add"]
        no_new_privs = not container["securityContext"]["allowPrivilegeEscalation"]
    else:
        added, escalation = no_sys_admin_patch()
        no_new_privs = not escalation
    dmabufd, socket = start_daemonset_container(node_folder, added, no_new_privs)
    followers = {}
    try:
        assert wait_for_socket(socket, dmabufd, timeout=60), dmabufd.communicate()[0]
        with RawClient(socket) as client:
            assert "error" not in client.call(MONITOR + "Status")
        probe_answers(dmabufd.pid)
        # Loaded, it is --user, and the node's socket folder is that user's.
        _, container = daemon_container(documents((MANIFESTS / "daemonset.yaml").read_text()))
        uid, gid = daemonset_user(container)
        with open(f"/proc/{dmabufd.pid}/status") as status:
            ids = {line.split(":")[0]: line.split()[1:] for line in status if line.startswith(("Uid:", "Gid:"))}
        assert ids == {"Uid": [str(uid)] * 4, "Gid": [str(gid)] * 4}, ids
        assert (os.stat(node_folder).st_uid, os.stat(node_folder).st_gid) == (uid, gid)

        # Each sidecar exactly as the pod runs it: its args, its environment, its uid, the
        # node folder mounted read-only where the pod mounts it.
        manifest = documents((EXAMPLE_APP / "pod.yaml").read_text())
        followers = {name: run_sidecar(*sidecar(manifest, name), node_folder) for name in SIDECARS}
        _, watcher = sidecar(manifest, "dmabuf-watch")
        first = json.loads(first_line(followers["dmabuf-watch"]))
        names, prefixes = watched(watcher["args"])
        assert sorted((m["name"], m["prefix"]) for m in first["matches"]) == sorted(
            [(name, False) for name in names] + [(prefix, True) for prefix in prefixes]), first
        # Mine: dmabufd found the sidecar's cgroup (this test's) from its connection, and
        # named it from the node's tree.
        mine = json.loads(first_line(followers["dmabuf-mine"]))
        assert mine["cgroup"]["path"] == own_cgroup() and mine["processes"] == [], mine

        # dmabufd stopping (a rolling update) ends the sidecar with 69, which the kubelet
        # answers by starting it again.
        code, output = stop(dmabufd)
        assert code == 0, output
        assert "kept: none" in output, output
        for name, follower in followers.items():
            code, _, err = ended(follower)
            assert code == 69, (name, err)
        assert os.listdir(node_folder) == [], "dmabufd left its socket behind"
    finally:
        for process in (*followers.values(), dmabufd):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.parametrize("missing", ["BPF", "PERFMON", "SETPCAP", "SETUID", "SETGID", "CHOWN", "DAC_OVERRIDE"])
def test_dmabufd_refuses_to_start_without_each_capability_it_needs(missing, node_folder):
    # Without SYS_ADMIN (which stands in for BPF and PERFMON), each of these is needed:
    # to load, to read kernel memory, to empty the bounding set, to become --user (its
    # ids, its groups), to give it the socket's folder and to make files in it after.
    added, _ = no_sys_admin_patch()
    dmabufd, _ = start_daemonset_container(node_folder, [cap for cap in added if cap != missing], True)
    try:
        output, _ = dmabufd.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        dmabufd.kill()
        raise
    expected = {"BPF": (77, "needs CAP_BPF and CAP_PERFMON"), "PERFMON": (77, "needs CAP_BPF and CAP_PERFMON"),
                "SETPCAP": (1, "cannot drop privileges: PR_CAPBSET_DROP"),
                "SETUID": (77, "cannot become user (uid 65400, gid 65400): setresuid"),
                "SETGID": (77, "cannot become user (uid 65400, gid 65400): setgroups"),
                "CHOWN": (73, "cannot give /run/dmabufd to uid 65400"),
                "DAC_OVERRIDE": (73, "cannot open the lock /run/dmabufd/dmabufd.sock.lock: Permission denied")}[missing]
    assert (dmabufd.returncode, expected[1] in output) == (expected[0], True), output
