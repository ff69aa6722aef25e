/*
 * Resolve: kernel key -> series (see resolve.h).
 */
#include "collectd_compat.h"

#include "resolve.h"

#include "identifier.h"
#include "rpc_procs.h"

#include <errno.h>

/* The "who" of a kernel key from identity's answer for its cgroup: its
 * pod, or its cgroup outside pods. Returns 0 and fills `who` (long or odd
 * names shortened or hashed as identifier.h says: final, like any other
 * name), -EAGAIN while the answer may still improve, -EINVAL if no
 * identifier can be made (a bug, logged). */
static int resolve_who(const pod_identity_t *id, identity_state_t state,
                       bool give_up, char *who, size_t who_size) {
  /* IDENTITY_PROVISIONAL: a container's or pod's cgroup whose runtime state
   * we cannot read yet (its bundle is being written): wait rather than pin
   * its counts to the cgroup name for good. IDENTITY_UNKNOWN: a cgroup
   * that came and went between two reads; after the grace period `id` is
   * the one "unresolved" cgroup: reported, never dropped, and one series
   * however many such cgroups there are. */
  if (state != IDENTITY_FINAL && !give_up)
    return -EAGAIN;
  int status =
      id->in_pod
          ? identifier_who(who, who_size, id->ns, id->pod, id->container, NULL)
          : identifier_who(who, who_size, NULL, NULL, NULL, id->cgroup);
  return status == 0 ? 0 : -EINVAL;
}

/* Find (or make) the series of a kernel key. NULL: not resolvable yet,
 * try again next read. A bound key whose device now belongs to another
 * mount (the number was reused) is rebound to the new mount's series. */
static series_t *resolve_key(const resolve_t *r, const struct op_key *key,
                             const pod_identity_t *id, identity_state_t state,
                             bool whole_server, bool *mounts_forced) {
  const nfs_mount_t *mnt = mount_table_lookup(r->mounts, key->dev);
  series_t *bound = series_bound(r->series, key);
  if (bound != NULL) {
    if (mnt == NULL)
      mnt = mount_table_lookup_elsewhere(r->mounts, key->dev, false);
    /* Still the same mount, or umounted (nothing adds to the key then). */
    if (mnt == NULL || mnt->generation == series_bound_mount(r->series, key))
      return bound;
    series_t *s = series_get(r->series, bound->who, mnt->server,
                             whole_server ? "" : mnt->export_, key->op);
    if (s == NULL || series_rebind(r->series, key, s, mnt->generation) != 0) {
      ERROR("nfs_ebpf plugin: out of memory adding a series; device %" PRIu32
            ":%" PRIu32 " stays reported under its previous mount.",
            kernel_dev_major(key->dev), kernel_dev_minor(key->dev));
      return bound;
    }
    return s;
  }

  uint64_t first = series_pending_since(r->series, key);
  bool give_up = r->read_number - first >= RESOLVE_GRACE_READS;

  if (mnt == NULL && !*mounts_forced) {
    /* A mount newer than our last look: mountinfo's poll should have told
     * us, but re-read once per interval to be sure. */
    mount_table_refresh(r->mounts, true);
    *mounts_forced = true;
    mnt = mount_table_lookup(r->mounts, key->dev);
  }
  if (mnt == NULL) /* a mount only a container's namespace has */
    mnt = mount_table_lookup_elsewhere(r->mounts, key->dev, true);
  char unknown_server[64];
  const char *server, *export_;
  if (mnt != NULL) {
    server = mnt->server;
    export_ = whole_server ? "" : mnt->export_;
  } else if (give_up) {
    /* In no mount namespace we could read (its processes are gone).
     * Name the device rather than guess a server. */
    ssnprintf(unknown_server, sizeof(unknown_server),
              "unknown-dev-%" PRIu32 "-%" PRIu32, kernel_dev_major(key->dev),
              kernel_dev_minor(key->dev));
    server = unknown_server;
    export_ = "";
  } else {
    return NULL;
  }

  char who[SERIES_NAME_LEN];
  if (resolve_who(id, state, give_up, who, sizeof(who)) != 0)
    return NULL;

  series_t *s = series_get(r->series, who, server, export_, key->op);
  if (s == NULL ||
      series_bind(r->series, key, s, mnt != NULL ? mnt->generation : 0) != 0) {
    ERROR("nfs_ebpf plugin: out of memory adding a series; its values will "
          "be reported once memory is available.");
    return NULL;
  }
  return s;
}

/* One identity answer per key and read (one turn of identity's lock):
 * who it is and whether its cgroup is gone. A key of a cgroup that is gone
 * is marked for retirement once its values stayed the same for two reads:
 * no program is still adding to it. */
void resolve_keys(const resolve_t *r, const kstats_snapshot_t *stats) {
  bool mounts_forced = false;
  for (size_t i = 0; i < stats->len; i++) {
    const struct op_key *key = kstats_key(stats, i);
    const struct op_stats *val = kstats_val(stats, i);
    if (key->op >= NFS_OP_MAX)
      continue; /* impossible unless the BPF object and plugin disagree */
    pod_identity_t id;
    identity_answer_t answer =
        identity_resolve(r->identity, key->cgroup_id, &id);
    if (resolve_key(r, key, &id, answer.state, false, &mounts_forced) != NULL &&
        !answer.alive)
      series_retire_ready(r->series, key, val->count);
  }
}

/* Who an RPC is charged to when it is no cgroup: a name of its own, final
 * at once and never retired. */
static bool rpc_charged_name(uint64_t cgroup_id, pod_identity_t *id) {
  const char *name =
      cgroup_id == NFS_EBPF_CGROUP_UNATTRIBUTED ? RESOLVE_CGROUP_UNATTRIBUTED
      : cgroup_id == NFS_EBPF_CGROUP_NFS_CLIENT ? RESOLVE_CGROUP_NFS_CLIENT
                                                : NULL;
  if (name == NULL)
    return false;
  memset(id, 0, sizeof(*id));
  sstrncpy(id->cgroup, name, sizeof(id->cgroup));
  return true;
}

void resolve_rpc_keys(const resolve_t *r, const kstats_snapshot_t *rpc) {
  bool mounts_forced = false;
  for (size_t i = 0; i < rpc->len; i++) {
    const struct rpc_key *rk = kstats_key(rpc, i);
    const struct rpc_stats *val = kstats_val(rpc, i);
    struct op_key key;
    if (rpc_binding_key(rk, &key) != 0)
      continue; /* logged once */
    pod_identity_t id;
    identity_answer_t answer = {.state = IDENTITY_FINAL, .alive = true};
    if (!rpc_charged_name(rk->cgroup_id, &id))
      answer = identity_resolve(r->identity, rk->cgroup_id, &id);
    if (resolve_key(r, &key, &id, answer.state,
                    rk->scope == NFS_RPC_SCOPE_SERVER,
                    &mounts_forced) != NULL &&
        !answer.alive)
      series_retire_ready(r->series, &key, val->requests);
  }
}
