#!/usr/bin/env python3
"""Lay out a Kubernetes node the way kubelet (systemd cgroup driver) and
containerd (CRI plugin, runtime v2) leave it, without running either.

  mknode.py --cgroup-root /sys/fs/cgroup --state /run/containerd --out node.json
  mknode.py --node node.json --cgroup-of NAMESPACE/POD/CONTAINER

The first form creates the kubepods cgroup tree (one burstable, one
besteffort and one guaranteed pod, in different namespaces), a bundle with
an OCI config.json for every sandbox (pause) and container, and writes
node.json describing them. The second prints the cgroup path (relative to
the cgroup root) of a container, for the run-in-pod helper.
"""

import argparse
import hashlib
import json
import os
import sys

# Pods of the lab node. uids are fixed so results are comparable across
# runs; the static pod has a 32-hex uid like kubelet's config-file pods.
PODS = [
    {"namespace": "shop", "name": "web-0", "qos": "burstable",
     "uid": "3f6c1a52-8d2e-4b7a-9c10-5e2f7a9b0c11",
     "containers": [("nginx", "docker.io/library/nginx:1.25"),
                    ("log-shipper", "docker.io/fluent/fluent-bit:2.2")]},
    {"namespace": "batch", "name": "loader-7d9f8c6b5-x2kqp", "qos": "besteffort",
     "uid": "b7e0d2c4-1f3a-4e5b-8c6d-0a9b8c7d6e5f",
     "containers": [("loader", "registry.example/batch/loader:3.1")]},
    {"namespace": "kube-system", "name": "etcd-nfs-ebpf-vm", "qos": "guaranteed",
     "uid": "9a3c5e7f1b2d4f6a8c0e2a4c6e8a0c2e",
     "containers": [("etcd", "registry.k8s.io/etcd:3.5.12-0")]},
]
PAUSE_IMAGE = "registry.k8s.io/pause:3.9"
TASK_DIR = "io.containerd.runtime.v2.task/k8s.io"


def cid(*parts):
    """Deterministic 64-hex container id."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def pod_slice(pod):
    """Parent slice path and leaf slice name of a pod (systemd driver)."""
    uid = pod["uid"].replace("-", "_")
    if pod["qos"] == "guaranteed":
        return "kubepods.slice", "kubepods-pod%s.slice" % uid
    qos = pod["qos"]
    return ("kubepods.slice/kubepods-%s.slice" % qos,
            "kubepods-%s-pod%s.slice" % (qos, uid))


def oci_config(pod, kind, name, image, id_, sandbox_id, pod_slice_name):
    """An OCI runtime spec shaped like the one containerd's CRI writes."""
    annotations = {
        "io.kubernetes.cri.container-type": kind,
        "io.kubernetes.cri.sandbox-id": sandbox_id,
        "io.kubernetes.cri.sandbox-name": pod["name"],
        "io.kubernetes.cri.sandbox-namespace": pod["namespace"],
        "io.kubernetes.cri.sandbox-uid": pod["uid"],
    }
    if kind == "sandbox":
        annotations.update({
            "io.kubernetes.cri.sandbox-cpu-period": "100000",
            "io.kubernetes.cri.sandbox-cpu-quota": "0",
            "io.kubernetes.cri.sandbox-cpu-shares": "2",
            "io.kubernetes.cri.sandbox-memory": "0",
            "io.kubernetes.cri.sandbox-log-directory":
                "/var/log/pods/%s_%s_%s" % (pod["namespace"], pod["name"], pod["uid"]),
        })
        args = ["/pause"]
    else:
        annotations.update({
            "io.kubernetes.cri.container-name": name,
            "io.kubernetes.cri.image-name": image,
        })
        args = ["/docker-entrypoint.sh", name]
    ns_paths = [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
                {"type": "network"}, {"type": "cgroup"}]
    if kind == "container":
        # Containers join the sandbox's network/ipc/uts namespaces.
        ns_paths = [{"type": "pid"}, {"type": "mount"}, {"type": "cgroup"},
                    {"type": "ipc", "path": "/proc/4242/ns/ipc"},
                    {"type": "uts", "path": "/proc/4242/ns/uts"},
                    {"type": "network", "path": "/proc/4242/ns/net"}]
    caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
            "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
            "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
    return {
        "ociVersion": "1.1.0",
        "process": {
            "user": {"uid": 0 if kind == "container" else 65535,
                     "gid": 0 if kind == "container" else 65535,
                     "additionalGids": [0]},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOSTNAME=%s" % pod["name"],
                    "KUBERNETES_SERVICE_HOST=10.96.0.1",
                    "KUBERNETES_SERVICE_PORT=443"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": kind == "sandbox",
            "oomScoreAdj": {"guaranteed": -997, "burstable": 968, "besteffort": 1000}[pod["qos"]],
        },
        "root": {"path": "rootfs", "readonly": kind == "sandbox"},
        "hostname": pod["name"] if kind == "sandbox" else "",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/dev/shm", "type": "bind",
             "source": "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/%s/shm" % sandbox_id,
             "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]},
        ],
        "annotations": annotations,
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}],
                          "cpu": {"shares": 2, "period": 100000}},
            "cgroupsPath": "%s:cri-containerd:%s" % (pod_slice_name, id_),
            "namespaces": ns_paths,
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/sched_debug", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
            "seccomp": {"defaultAction": "SCMP_ACT_ERRNO",
                        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                        "syscalls": [{"names": ["read", "write", "openat", "close", "fstat",
                                                "newfstatat", "fsync", "getdents64"],
                                      "action": "SCMP_ACT_ALLOW"}]},
        },
    }


def write_bundle(state, id_, config, pid):
    """One runtime-v2 task bundle: 0700 dir, config.json, init.pid, an
    (empty) rootfs/ and the work symlink containerd leaves there."""
    bundle = os.path.join(state, TASK_DIR, id_)
    os.makedirs(bundle, exist_ok=True)
    os.chmod(bundle, 0o700)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f)
    os.chmod(os.path.join(bundle, "config.json"), 0o644)
    with open(os.path.join(bundle, "init.pid"), "w") as f:
        f.write(str(pid))
    with open(os.path.join(bundle, "log.json"), "w") as f:
        f.write("")
    os.makedirs(os.path.join(bundle, "rootfs"), exist_ok=True)
    work = os.path.join(bundle, "work")
    if not os.path.islink(work):
        os.symlink("/var/lib/containerd/io.containerd.runtime.v2.task/k8s.io/" + id_, work)


def make_node(cgroup_root, state, out):
    # containerd creates the runtime and namespace dirs 0711.
    for d in (state, os.path.join(state, "io.containerd.runtime.v2.task"),
              os.path.join(state, TASK_DIR)):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o711)
    node = {"cgroup_root": cgroup_root, "state": state, "pods": []}
    fake_pid = 4242
    for pod in PODS:
        parent, leaf = pod_slice(pod)
        pod_dir = os.path.join(parent, leaf)
        os.makedirs(os.path.join(cgroup_root, pod_dir), exist_ok=True)
        sandbox_id = cid(pod["namespace"], pod["name"], "sandbox")
        entries = [("sandbox", "", PAUSE_IMAGE, sandbox_id)]
        entries += [("container", n, img, cid(pod["namespace"], pod["name"], n))
                    for n, img in pod["containers"]]
        info = {"namespace": pod["namespace"], "name": pod["name"], "uid": pod["uid"],
                "qos": pod["qos"], "sandbox_id": sandbox_id, "cgroup": pod_dir,
                "containers": []}
        for kind, name, image, id_ in entries:
            scope = os.path.join(pod_dir, "cri-containerd-%s.scope" % id_)
            os.makedirs(os.path.join(cgroup_root, scope), exist_ok=True)
            write_bundle(state, id_, oci_config(pod, kind, name, image, id_, sandbox_id, leaf),
                         fake_pid)
            fake_pid += 1
            info["containers"].append({"kind": kind, "name": name, "id": id_,
                                       "cgroup": scope})
        node["pods"].append(info)
    with open(out, "w") as f:
        json.dump(node, f, indent=1)


def cgroup_of(node_file, who):
    try:
        ns, pod, container = who.split("/")
    except ValueError:
        sys.exit("mknode: expected NAMESPACE/POD/CONTAINER, got %r" % who)
    with open(node_file) as f:
        node = json.load(f)
    for p in node["pods"]:
        if p["namespace"] == ns and p["name"] == pod:
            for c in p["containers"]:
                if c["kind"] == "container" and c["name"] == container:
                    print(c["cgroup"])
                    return
    sys.exit("mknode: no container %s on this node" % who)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cgroup-root")
    ap.add_argument("--state")
    ap.add_argument("--out")
    ap.add_argument("--node")
    ap.add_argument("--cgroup-of")
    a = ap.parse_args()
    if a.cgroup_of:
        cgroup_of(a.node, a.cgroup_of)
    elif a.cgroup_root and a.state and a.out:
        make_node(a.cgroup_root, a.state, a.out)
    else:
        ap.error("need --cgroup-root/--state/--out or --node/--cgroup-of")


if __name__ == "__main__":
    main()
