#!/usr/bin/python3
"""Run one pod sandbox and one container through a real containerd's CRI
plugin and keep the OCI bundle files it writes, as test fixtures.

  tests/tools/cri-capture/cri_capture.py tests/fixtures/runtime/containerd-cri

Needs root, Debian's containerd and runc, python3-grpcio and
python3-grpc-tools. containerd runs with a private root, state directory and
socket under a temporary directory, so a containerd already on the machine
is not touched. The images are built here from busybox-static (no registry):
a "pause" image for the sandbox and a "sleeper" image for the container.

OUTDIR receives io.containerd.runtime.v2.task/k8s.io/<id>/config.json for the
sandbox and the container, plus capture.json: what the pod was (name,
namespace, uid, container name), the container ids, the cgroup paths and
the containerd version, so that a test can assert what the parser must
find in those files.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PAUSE_IMAGE = "nfs-ebpf.test/pause:1"
SLEEP_IMAGE = "nfs-ebpf.test/sleeper:1"
POD = {"name": "capture-pod", "namespace": "nfs-team",
       "uid": "0b4bd0f7-5f0e-4c4c-9a1c-6a4c1d2e3f40"}
CONTAINER = "writer"
CGROUP_PARENT = "/kubepods/besteffort/pod" + POD["uid"]


def generate_stubs(tmp):
    """Compile cri_min.proto into tmp and import it (nothing committed)."""
    from grpc_tools import protoc
    rc = protoc.main(["protoc", "-I" + HERE, "--python_out=" + tmp,
                      "--grpc_python_out=" + tmp,
                      os.path.join(HERE, "cri_min.proto")])
    if rc != 0:
        sys.exit("cri-capture: protoc failed on cri_min.proto")
    sys.path.insert(0, tmp)
    import cri_min_pb2
    import cri_min_pb2_grpc
    return cri_min_pb2, cri_min_pb2_grpc


def tar_bytes(files):
    """An uncompressed tar of {path: (bytes or None for a symlink, target)}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, (data, link) in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.mtime = 0
            if link is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = link
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o755
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def docker_archive(ref, entrypoint):
    """A `docker save`-style archive of one layer: busybox and its links.
    The reference goes into the image config as a label so that the two
    images differ (same content would make containerd treat them as one
    image under two names)."""
    with open("/bin/busybox", "rb") as f:
        busybox = f.read()
    layer = tar_bytes({"bin/busybox": (busybox, None),
                       "bin/sh": (None, "busybox"),
                       "bin/sleep": (None, "busybox")})
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": entrypoint, "Env": ["PATH=/bin"],
                   "Labels": {"nfs-ebpf.test/ref": ref}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [ref],
                            "Layers": ["layer/layer.tar"]}]).encode()
    return tar_bytes({"manifest.json": (manifest, None),
                      config_name: (config, None),
                      "layer/layer.tar": (layer, None)})


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        sys.exit("cri-capture: needs root (containerd, runc, cgroups)")
    tmp = tempfile.mkdtemp(prefix="cri-capture.")
    pb, rpc = generate_stubs(tmp)
    import grpc

    root, state = os.path.join(tmp, "root"), os.path.join(tmp, "state")
    sock = os.path.join(tmp, "containerd.sock")
    with open(os.path.join(tmp, "config.toml"), "w") as f:
        f.write(f'''version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{sock}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # Sandboxes get oom_score_adj -998; a root without CAP_SYS_RESOURCE
  # (a container, some VMs) may not lower its own, so cap it at ours.
  restrict_oom_score_adj = true
''')
    log = open(os.path.join(tmp, "containerd.log"), "w")
    daemon = subprocess.Popen(["containerd", "--config",
                               os.path.join(tmp, "config.toml")],
                              stdout=log, stderr=subprocess.STDOUT)
    ctr = ["ctr", "--address", sock, "-n", "k8s.io"]
    sandbox_id = container_id = None
    stub = None
    try:
        for _ in range(300):
            if os.path.exists(sock):
                break
            if daemon.poll() is not None:
                raise SystemExit("cri-capture: containerd exited, see " + log.name)
            time.sleep(0.1)
        for ref, entry in ((PAUSE_IMAGE, ["/bin/sleep", "infinity"]),
                           (SLEEP_IMAGE, ["/bin/sleep", "infinity"])):
            path = os.path.join(tmp, ref.replace("/", "_") + ".tar")
            with open(path, "wb") as f:
                f.write(docker_archive(ref, entry))
            subprocess.run(ctr + ["images", "import", path], check=True,
                           stdout=subprocess.DEVNULL)

        stub = rpc.RuntimeServiceStub(grpc.insecure_channel("unix://" + sock))
        node = pb.NamespaceOption(network=pb.NODE)
        sandbox = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(attempt=0, **POD),
            log_directory=os.path.join(tmp, "logs"),
            labels={"app": "capture"},
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=CGROUP_PARENT,
                security_context=pb.LinuxSandboxSecurityContext(
                    namespace_options=node)))
        sandbox_id = stub.RunPodSandbox(
            pb.RunPodSandboxRequest(config=sandbox), timeout=120).pod_sandbox_id
        container = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=CONTAINER),
            image=pb.ImageSpec(image=SLEEP_IMAGE),
            log_path=CONTAINER + ".log",
            linux=pb.LinuxContainerConfig(
                security_context=pb.LinuxContainerSecurityContext(
                    namespace_options=node)))
        container_id = stub.CreateContainer(pb.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=container,
            sandbox_config=sandbox), timeout=120).container_id
        stub.StartContainer(pb.ContainerIdRequest(container_id=container_id),
                            timeout=120)

        tasks = os.path.join(state, "io.containerd.runtime.v2.task", "k8s.io")
        dest = os.path.join(out, "io.containerd.runtime.v2.task", "k8s.io")
        cgroups = {}
        for cid in (sandbox_id, container_id):
            os.makedirs(os.path.join(dest, cid), exist_ok=True)
            with open(os.path.join(tasks, cid, "config.json"), "rb") as f:
                raw = f.read()
            # containerd's bytes, except the random name of our temporary
            # directory (log paths, /etc/hosts mounts): a stable fixture.
            raw = raw.replace(tmp.encode(), b"/tmp/cri-capture")
            with open(os.path.join(dest, cid, "config.json"), "wb") as f:
                f.write(raw)
            cgroups[cid] = json.loads(raw)["linux"]["cgroupsPath"]
        version = subprocess.run(["containerd", "--version"], check=True,
                                 capture_output=True, text=True).stdout.split()
        with open(os.path.join(out, "capture.json"), "w") as f:
            json.dump({"containerd": version[2] if len(version) > 2 else "",
                       "pod": POD, "container": CONTAINER,
                       "sandbox_id": sandbox_id,
                       "container_id": container_id,
                       "cgroups_path": cgroups}, f, indent=2, sort_keys=True)
            f.write("\n")
        print("cri-capture: sandbox %s, container %s -> %s"
              % (sandbox_id[:12], container_id[:12], out))
    finally:
        if stub is not None and sandbox_id is not None:
            try:
                stub.StopPodSandbox(pb.PodSandboxIdRequest(
                    pod_sandbox_id=sandbox_id), timeout=60)
                stub.RemovePodSandbox(pb.PodSandboxIdRequest(
                    pod_sandbox_id=sandbox_id), timeout=60)
            except grpc.RpcError as e:
                print("cri-capture: cleanup: %s" % e.details(), file=sys.stderr)
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()
        subprocess.run(["umount", "-R", root], stderr=subprocess.DEVNULL)
        if os.environ.get("CRI_CAPTURE_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
