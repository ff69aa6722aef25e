#!/usr/bin/env python3
"""Lay out a Kubernetes node the way kubelet and a container runtime leave
it, without running either.

  mknode.py --cgroup-root ROOT [--cgroup-root ROOT2 ...] --runtime R
            --driver systemd|cgroupfs --out node.json
  mknode.py --node node.json --cgroup-of NAMESPACE/POD/CONTAINER
  mknode.py --node node.json --add-pod NS/NAME/QOS/CONTAINER[,CONTAINER...]
  mknode.py --node node.json --remove-pod NS/NAME
  mknode.py --node node.json --hostile DIR

The first form creates the kubepods cgroup tree (one burstable, one
besteffort and one guaranteed static pod, in different namespaces) in every
cgroup hierarchy given (v2, or each v1 controller of a hybrid/v1 host: runc
places a container's processes in the same path in each), the runtime's
state for every sandbox and container, and writes node.json describing
them. Runtimes (R): containerd (runtime-v2 task bundles with an OCI
config.json), crio (overlay-containers/<id>/userdata/config.json, crio-<id>
scopes, conmon in crio-conmon-<id>, crun's extra "container" leaf in the v2
hierarchy), docker (cri-dockerd: containers/<id>/config.v2.json written by
rename, docker-<id>.scope or cgroupfs /kubepods/<qos>/pod<uid>/<id>).
Shapes follow tests/fixtures/runtime/.

--cgroup-of prints a container's cgroup path (relative to a root; "POD"
names the sandbox, "conmon" CRI-O's conmon of the first container);
--add-pod / --remove-pod change the node while collectd runs (state is
written before the cgroup exists, and removed after the cgroup, like the
runtimes do); --hostile lays out the hostile-state containers (see
make_hostile) and prints their JSON description.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import uuid

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


def pod_cgroup(pod, driver):
    """The pod's cgroup (relative to a hierarchy's root) and the parent
    name a runtime's cgroupsPath uses."""
    if driver == "systemd":
        parent, leaf = pod_slice(pod)
        return os.path.join(parent, leaf), leaf
    if pod["qos"] == "guaranteed":
        d = "kubepods/pod%s" % pod["uid"]
    else:
        d = "kubepods/%s/pod%s" % (pod["qos"], pod["uid"])
    return d, "/" + d


def container_cgroup(runtime, driver, pod_dir, id_, kind):
    """Cgroup of a container's processes, and the OCI cgroupsPath."""
    parent = pod_dir[1]
    if runtime == "containerd":
        if driver == "systemd":
            return (os.path.join(pod_dir[0], "cri-containerd-%s.scope" % id_),
                    "%s:cri-containerd:%s" % (parent, id_))
        return os.path.join(pod_dir[0], id_), "%s/%s" % (parent, id_)
    if runtime == "crio":
        if driver == "systemd":
            scope = os.path.join(pod_dir[0], "crio-%s.scope" % id_)
            # crun (CRI-O's default runtime) moves the container's processes
            # into a "container" child so the scope can delegate; the sandbox
            # (pause) stays in the scope.
            return (scope + "/container" if kind == "container" else scope,
                    "%s:crio:%s" % (parent, id_))
        return os.path.join(pod_dir[0], "crio-%s" % id_), "%s/crio-%s" % (parent, id_)
    if runtime == "docker":
        if driver == "systemd":
            return (os.path.join(pod_dir[0], "docker-%s.scope" % id_),
                    "%s:docker:%s" % (parent, id_))
        return os.path.join(pod_dir[0], id_), "%s/%s" % (parent, id_)
    raise SystemExit("mknode: unknown runtime %r" % runtime)


def conmon_cgroup(runtime, driver, pod_dir, id_):
    if runtime != "crio":
        return None
    if driver == "systemd":
        return os.path.join(pod_dir[0], "crio-conmon-%s.scope" % id_)
    return os.path.join(pod_dir[0], "crio-conmon-%s" % id_)


def crio_config(pod, kind, name, image, id_, sandbox_id, cgroups_path):
    """CRI-O's OCI spec: the same body, CRI-O's annotation set (as in
    tests/fixtures/runtime/crio), pod labels and annotations copied in."""
    cfg = oci_config(pod, kind, name, image, id_, sandbox_id, "")
    cname = "POD" if kind == "sandbox" else name
    labels = {"io.kubernetes.container.name": cname, "io.kubernetes.pod.name": pod["name"],
              "io.kubernetes.pod.namespace": pod["namespace"],
              "io.kubernetes.pod.uid": pod["uid"]}
    cfg["annotations"] = {
        "io.container.manager": "cri-o",
        "io.kubernetes.container.hash": "6b3f2b1a",
        "io.kubernetes.container.name": cname,
        "io.kubernetes.container.restartCount": "0",
        "io.kubernetes.container.terminationMessagePath": "/dev/termination-log",
        "io.kubernetes.cri-o.Annotations": json.dumps({"io.kubernetes.container.hash": "6b3f2b1a"}),
        "io.kubernetes.cri-o.ContainerID": id_,
        "io.kubernetes.cri-o.ContainerType": kind,
        "io.kubernetes.cri-o.Created": "2024-05-02T09:14:03.512345678Z",
        "io.kubernetes.cri-o.IP.0": "10.85.0.12",
        "io.kubernetes.cri-o.Image": PAUSE_IMAGE if kind == "sandbox" else image,
        "io.kubernetes.cri-o.Labels": json.dumps(labels),
        "io.kubernetes.cri-o.LogPath": "/var/log/pods/%s_%s_%s/%s/0.log"
        % (pod["namespace"], pod["name"], pod["uid"], cname),
        "io.kubernetes.cri-o.Name": "k8s_%s_%s_%s_%s_0"
        % (cname, pod["name"], pod["namespace"], pod["uid"]),
        "io.kubernetes.cri-o.SandboxID": sandbox_id,
        "io.kubernetes.pod.name": pod["name"],
        "io.kubernetes.pod.namespace": pod["namespace"],
        "io.kubernetes.pod.terminationGracePeriod": "30",
        "io.kubernetes.pod.uid": pod["uid"],
        # A user annotation of the pod: CRI-O copies those in too.
        "team": "storage",
    }
    cfg["linux"]["cgroupsPath"] = cgroups_path
    return cfg


def docker_config(pod, kind, name, image, id_, sandbox_id, pid):
    """Docker's container record with cri-dockerd's labels (as in
    tests/fixtures/runtime/docker)."""
    cname = "POD" if kind == "sandbox" else name
    labels = {"io.kubernetes.container.name": cname,
              "io.kubernetes.docker.type": "podsandbox" if kind == "sandbox" else "container",
              "io.kubernetes.pod.name": pod["name"],
              "io.kubernetes.pod.namespace": pod["namespace"],
              "io.kubernetes.pod.uid": pod["uid"]}
    if kind == "container":
        labels.update({
            "annotation.io.kubernetes.container.hash": "9a1b2c3d",
            "annotation.io.kubernetes.container.restartCount": "0",
            "io.kubernetes.container.logpath": "/var/log/pods/%s_%s_%s/%s/0.log"
            % (pod["namespace"], pod["name"], pod["uid"], name),
            "io.kubernetes.sandbox.id": sandbox_id})
    return {
        "StreamConfig": {},
        "State": {"Running": True, "Paused": False, "Restarting": False, "OOMKilled": False,
                  "RemovalInProgress": False, "Dead": False, "Pid": pid, "ExitCode": 0,
                  "Error": "", "StartedAt": "2024-05-02T09:20:11.123456789Z",
                  "FinishedAt": "0001-01-01T00:00:00Z", "Health": None},
        "ID": id_, "Created": "2024-05-02T09:20:10.987654321Z", "Managed": False,
        "Path": "/pause" if kind == "sandbox" else "/docker-entrypoint.sh",
        "Args": [] if kind == "sandbox" else [name],
        "Config": {"Hostname": pod["name"], "Domainname": "", "User": "",
                   "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
                   "Tty": False, "OpenStdin": False, "StdinOnce": False,
                   "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": None, "Healthcheck": None,
                   "Image": PAUSE_IMAGE if kind == "sandbox" else image,
                   "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None,
                   "Labels": labels},
        "Image": "sha256:" + cid(image or PAUSE_IMAGE),
        "NetworkSettings": {"Bridge": "", "SandboxID": "", "Ports": {}},
        "LogPath": "/var/lib/docker/containers/%s/%s-json.log" % (id_, id_),
        "Name": "/k8s_%s_%s_%s_%s_0" % (cname, pod["name"], pod["namespace"], pod["uid"]),
        "Driver": "overlay2", "OS": "linux", "RestartCount": 0, "MountPoints": {},
        "AppArmorProfile": "docker-default", "HostnamePath": "", "HostsPath": "",
        "ShmPath": "", "ResolvConfPath": "", "SeccompProfile": "unconfined",
        "NoNewPrivileges": False,
    }


def write_atomic(path, data, mode):
    """Write by rename, as Docker does for its records."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def state_dir_of(runtime, state):
    """Directory holding one entry (bundle/userdata dir/record) per id."""
    return os.path.join(state, {"containerd": TASK_DIR, "crio": "overlay-containers",
                                "docker": "containers"}[runtime])


def entry_dir(node, id_):
    return os.path.join(state_dir_of(node["runtime"], node["state"]), id_)


def write_state(node, pod, kind, name, image, id_, sandbox_id, cgroups_path, pid):
    """The runtime's state for one sandbox or container."""
    runtime, state = node["runtime"], node["state"]
    if runtime == "containerd":
        write_bundle(state, id_, oci_config(pod, kind, name, image, id_, sandbox_id,
                                            cgroups_path.split(":")[0]), pid)
        if node["driver"] == "cgroupfs":
            # oci_config writes the systemd form: the cgroupfs driver's
            # cgroupsPath is a plain path.
            path = os.path.join(entry_dir(node, id_), "config.json")
            with open(path) as f:
                cfg = json.load(f)
            cfg["linux"]["cgroupsPath"] = cgroups_path
            write_atomic(path, json.dumps(cfg).encode(), 0o644)
    elif runtime == "crio":
        d = os.path.join(entry_dir(node, id_), "userdata")
        os.makedirs(d, exist_ok=True)
        cfg = crio_config(pod, kind, name, image, id_, sandbox_id, cgroups_path)
        write_atomic(os.path.join(d, "config.json"), json.dumps(cfg).encode(), 0o644)
        with open(os.path.join(d, "pidfile"), "w") as f:
            f.write(str(pid))
    elif runtime == "docker":
        d = entry_dir(node, id_)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o710)
        cfg = docker_config(pod, kind, name, image, id_, sandbox_id, pid)
        write_atomic(os.path.join(d, "config.v2.json"), json.dumps(cfg).encode(), 0o600)
        parent = cgroups_path.rsplit(":", 1)[0].rsplit(":", 1)[0] \
            if node["driver"] == "systemd" else cgroups_path.rsplit("/", 1)[0]
        write_atomic(os.path.join(d, "hostconfig.json"),
                     json.dumps({"CgroupParent": parent}).encode(), 0o600)


def is_v2(root):
    return os.path.exists(os.path.join(root, "cgroup.controllers"))


def make_cgroup(node, rel):
    """Create REL in every hierarchy. crun's "container" leaf exists only
    in the v2 hierarchy (it is there for delegation)."""
    for root in node["cgroup_roots"]:
        if rel.endswith("/container") and not is_v2(root):
            os.makedirs(os.path.join(root, rel[:-len("/container")]), exist_ok=True)
        else:
            os.makedirs(os.path.join(root, rel), exist_ok=True)


def remove_cgroup(node, rel):
    """rmdir REL (leaf first) in every hierarchy, retrying while the
    kernel still counts the exited processes."""
    for root in node["cgroup_roots"]:
        path = os.path.join(root, rel)
        for d in (path, os.path.dirname(path)) if rel.endswith("/container") else (path,):
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise SystemExit("mknode: cannot remove cgroup %s" % d)


def add_pod(node, pod):
    """State first, then cgroups (a runtime writes the spec before it
    creates the cgroup), then the description in node.json."""
    driver, runtime = node["driver"], node["runtime"]
    pod_dir = pod_cgroup(pod, driver)
    sandbox_id = cid(pod["namespace"], pod["name"], "sandbox")
    entries = [("sandbox", "POD", PAUSE_IMAGE, sandbox_id)]
    entries += [("container", n, img, cid(pod["namespace"], pod["name"], n))
                for n, img in pod["containers"]]
    info = {"namespace": pod["namespace"], "name": pod["name"], "uid": pod["uid"],
            "qos": pod["qos"], "sandbox_id": sandbox_id, "cgroup": pod_dir[0],
            "containers": []}
    pid = 4242 + 10 * len(node["pods"])
    for kind, name, image, id_ in entries:
        cg, cpath = container_cgroup(runtime, driver, pod_dir, id_, kind)
        write_state(node, pod, kind, name, image, id_, sandbox_id, cpath, pid)
        pid += 1
        info["containers"].append({"kind": kind, "name": name, "id": id_, "cgroup": cg})
    make_cgroup(node, pod_dir[0])
    for c in info["containers"]:
        make_cgroup(node, c["cgroup"])
        con = conmon_cgroup(runtime, driver, pod_dir, c["id"])
        if con:
            make_cgroup(node, con)
            c["conmon"] = con
    node["pods"].append(info)
    return info


def remove_pod(node, ns, name):
    """Like kubelet + runtime: processes gone, cgroups removed, then state."""
    for p in node["pods"]:
        if p["namespace"] == ns and p["name"] == name:
            break
    else:
        raise SystemExit("mknode: no pod %s/%s" % (ns, name))
    for c in p["containers"]:
        remove_cgroup(node, c["cgroup"])
        if c.get("conmon"):
            remove_cgroup(node, c["conmon"])
    remove_cgroup(node, p["cgroup"])
    for c in p["containers"]:
        shutil.rmtree(entry_dir(node, c["id"]))
    node["pods"].remove(p)


def make_hostile(node, decoy_dir):
    """Containers of pod lab-hostile/hostile-0 (valid sandbox) whose state
    is hostile; each must be reported under its cgroup name, never under a
    pod. Their cgroups exist, so workloads can run there. Returns their
    description: name, cgroup, expected cgroup label."""
    pod = {"namespace": "lab-hostile", "name": "hostile-0", "qos": "besteffort",
           "uid": "0d15ea5e-0000-4bad-8bad-0000c0ffee00", "containers": []}
    info = add_pod(node, pod)
    driver, runtime = node["driver"], node["runtime"]
    pod_dir = pod_cgroup(pod, driver)
    if runtime != "containerd":
        raise SystemExit("mknode: hostile state is laid out for containerd only")
    sandbox_id = info["sandbox_id"]
    out = []

    def good(name):
        """A valid spec for container NAME of the hostile pod."""
        id_ = cid("hostile", name)
        cg, cpath = container_cgroup(runtime, driver, pod_dir, id_, "container")
        cfg = oci_config(pod, "container", name, "registry.example/evil:1", id_,
                         sandbox_id, cpath.split(":")[0])
        return id_, cg, cfg

    def add(kind, id_, cg):
        make_cgroup(node, cg)
        info["containers"].append({"kind": "hostile-" + kind, "name": kind, "id": id_,
                                   "cgroup": cg})
        out.append({"name": kind, "id": id_, "cgroup": cg,
                    "label": os.path.basename(cg)})

    tasks = state_dir_of(runtime, node["state"])
    # 1. config.json is a symlink to a file with valid annotations of
    # another pod (victim/victim-0): following it would name that pod.
    id_, cg, cfg = good("symlink")
    victim = dict(pod, namespace="victim", name="victim-0",
                  uid="7a11ce00-1111-4222-8333-944455556666")
    decoy = oci_config(victim, "container", "app", "x", id_, sandbox_id,
                       cfg["linux"]["cgroupsPath"].split(":")[0])
    os.makedirs(decoy_dir, exist_ok=True)
    with open(os.path.join(decoy_dir, "decoy.json"), "w") as f:
        json.dump(decoy, f)
    write_bundle(node["state"], id_, cfg, 1)
    os.unlink(os.path.join(tasks, id_, "config.json"))
    os.symlink(os.path.join(decoy_dir, "decoy.json"), os.path.join(tasks, id_, "config.json"))
    add("symlink", id_, cg)

    # 2. 100 MiB config.json: valid annotations of this pod, then a huge
    # string. Past the size cap it must not be read at all.
    id_, cg, cfg = good("huge")
    write_bundle(node["state"], id_, {}, 1)
    with open(os.path.join(tasks, id_, "config.json"), "w") as f:
        body = json.dumps(cfg)
        f.write(body[:-1] + ', "padding": "')
        chunk = "A" * (1 << 20)
        for _ in range(100):
            f.write(chunk)
        f.write('"}')
    add("huge", id_, cg)

    # 3. Nesting 100000 deep before the annotations: a recursive parser
    # without a bound would blow its stack.
    id_, cg, cfg = good("deep")
    write_bundle(node["state"], id_, {}, 1)
    with open(os.path.join(tasks, id_, "config.json"), "w") as f:
        f.write('{"x": ' + "[" * 100000 + "]" * 100000 + ", ")
        f.write(json.dumps(cfg)[1:])
    add("deep", id_, cg)

    # 4. Invalid UTF-8 in the pod name.
    id_, cg, cfg = good("utf8")
    write_bundle(node["state"], id_, {}, 1)
    body = json.dumps(cfg).replace('"io.kubernetes.cri.sandbox-name": "hostile-0"',
                                   '"io.kubernetes.cri.sandbox-name": "hostile-\xff\xfe0"')
    with open(os.path.join(tasks, id_, "config.json"), "wb") as f:
        f.write(body.encode("latin-1"))
    add("utf8", id_, cg)

    # 5. Control characters (ESC, newline, BEL) in the container name.
    id_, cg, cfg = good("ctrl")
    cfg["annotations"]["io.kubernetes.cri.container-name"] = "app\x1b[31m\nfake\x07"
    write_bundle(node["state"], id_, cfg, 1)
    add("ctrl", id_, cg)
    return out


def swap_bundle(node, who, stop_file):
    """Replace a container's state entry by rename, over and over, until
    STOP_FILE exists: a new copy is written under a name the plugin must
    ignore (leading dot), the live one renamed away, the copy renamed in,
    the old one removed. Readers see the entry vanish and reappear."""
    rel = find_cgroup(node, who)
    for p in node["pods"]:
        for c in p["containers"]:
            if c["cgroup"] == rel:
                id_ = c["id"]
    live = entry_dir(node, id_)
    parent = os.path.dirname(live)
    n = 0
    while not os.path.exists(stop_file):
        new, old = os.path.join(parent, ".new-" + id_), os.path.join(parent, ".old-" + id_)
        shutil.copytree(live, new, symlinks=True)
        os.rename(live, old)
        os.rename(new, live)
        shutil.rmtree(old)
        n += 1
        time.sleep(0.05)
    print("mknode: replaced the state of %s %d times" % (who, n))


def load_node(path):
    with open(path) as f:
        return json.load(f)


def save_node(node, path):
    with open(path + ".tmp", "w") as f:
        json.dump(node, f, indent=1)
    os.rename(path + ".tmp", path)


def make_node(cgroup_roots, runtime, driver, state, out):
    if runtime == "containerd":
        # containerd creates the runtime and namespace dirs 0711.
        for d in (state, os.path.join(state, "io.containerd.runtime.v2.task"),
                  os.path.join(state, TASK_DIR)):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o711)
    else:
        os.makedirs(state_dir_of(runtime, state), exist_ok=True)
        os.chmod(state_dir_of(runtime, state), 0o700 if runtime == "docker" else 0o755)
    # v1 cpuset: a new cgroup starts with no cpus/mems and refuses tasks
    # unless it copies its parent's (what systemd/runc configure).
    for root in cgroup_roots:
        cc = os.path.join(root, "cgroup.clone_children")
        if os.path.exists(os.path.join(root, "cpuset.cpus")) and os.path.exists(cc):
            with open(cc, "w") as f:
                f.write("1")
    node = {"cgroup_root": cgroup_roots[0], "cgroup_roots": cgroup_roots,
            "runtime": runtime, "driver": driver, "state": state, "pods": []}
    for pod in PODS:
        add_pod(node, pod)
    save_node(node, out)


def find_cgroup(node, who):
    try:
        ns, pod, container = who.split("/")
    except ValueError:
        sys.exit("mknode: expected NAMESPACE/POD/CONTAINER, got %r" % who)
    for p in node["pods"]:
        if p["namespace"] == ns and p["name"] == pod:
            for c in p["containers"]:
                if container == "conmon" and c.get("conmon") and c["kind"] == "container":
                    return c["conmon"]
                if c["name"] == container:
                    return c["cgroup"]
    sys.exit("mknode: no container %s on this node" % who)


DEFAULT_STATE = {"containerd": "/run/containerd", "crio": "/run/containers/storage",
                 "docker": "/var/lib/docker"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cgroup-root", action="append")
    ap.add_argument("--runtime", default="containerd", choices=sorted(DEFAULT_STATE))
    ap.add_argument("--driver", default="systemd", choices=["systemd", "cgroupfs"])
    ap.add_argument("--state")
    ap.add_argument("--out")
    ap.add_argument("--node")
    ap.add_argument("--cgroup-of")
    # Several --add-pod / --remove-pod in one call: one load and save of
    # node.json for a whole wave of pods (python starts slowly under TCG).
    ap.add_argument("--add-pod", action="append")
    ap.add_argument("--remove-pod", action="append")
    ap.add_argument("--print-cgroups", action="store_true",
                    help="after --add-pod: print each new container's cgroup")
    ap.add_argument("--hostile", metavar="DECOY_DIR")
    ap.add_argument("--swap-bundle", metavar="NS/POD/CONTAINER")
    ap.add_argument("--until", metavar="STOP_FILE")
    a = ap.parse_args()
    if a.cgroup_of:
        print(find_cgroup(load_node(a.node), a.cgroup_of))
    elif a.add_pod:
        node = load_node(a.node)
        for spec in a.add_pod:
            ns, name, qos, containers = spec.split("/")
            uid = str(uuid.UUID(cid(ns, name, "uid")[:32]))
            names = containers.split(",")
            pod = {"namespace": ns, "name": name, "qos": qos, "uid": uid,
                   "containers": [(c, "registry.example/%s:1" % c) for c in names]}
            add_pod(node, pod)
            if a.print_cgroups:
                for c in names:
                    who = "%s/%s/%s" % (ns, name, c)
                    print(who, find_cgroup(node, who))
        save_node(node, a.node)
    elif a.remove_pod:
        node = load_node(a.node)
        for who in a.remove_pod:
            remove_pod(node, *who.split("/"))
        save_node(node, a.node)
    elif a.swap_bundle:
        swap_bundle(load_node(a.node), a.swap_bundle, a.until)
    elif a.hostile:
        node = load_node(a.node)
        out = make_hostile(node, a.hostile)
        save_node(node, a.node)
        print(json.dumps(out))
    elif a.cgroup_root and a.out:
        make_node(a.cgroup_root, a.runtime, a.driver, a.state or DEFAULT_STATE[a.runtime], a.out)
    else:
        ap.error("need --cgroup-root/--out or --node with an action")


if __name__ == "__main__":
    main()
