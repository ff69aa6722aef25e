/*
 * Stand-ins for the parts of the plugin that need a kernel (tracer, kstats)
 * or a node (identity), so nfs_ebpf_test can drive the read callback with
 * exactly the map contents and pod names a scenario needs. Their real
 * versions have their own tests (kstats_test on real BPF maps,
 * identity_test on fixture trees, and the VM lab on real kernels).
 */
#include "collectd_compat.h"

#include "fake_kernel.h"

#include <errno.h>

fake_kernel_t fake;

void fake_reset(void) { memset(&fake, 0, sizeof(fake)); }

/* tracer */
struct tracer_s {
  int unused;
};
static struct tracer_s the_tracer;

int tracer_open(const tracer_config_t *cfg, tracer_t **out) {
  fake.tracer_config = *cfg;
  fake.tracer_opened++;
  if (fake.tracer_open_status != 0)
    return fake.tracer_open_status;
  *out = &the_tracer;
  return 0;
}
int tracer_sync_modules(tracer_t *t) {
  (void)t;
  fake.syncs++;
  return 0;
}
int tracer_stats_fd(const tracer_t *t) {
  (void)t;
  return FAKE_STATS_FD;
}
int tracer_errors_fd(const tracer_t *t) {
  (void)t;
  return FAKE_ERRORS_FD;
}
int tracer_read_lost(tracer_t *t, uint64_t lost[NFS_LOST_MAX]) {
  (void)t;
  memcpy(lost, fake.lost, sizeof(fake.lost));
  return 0;
}
int tracer_sweep_stale_starts(tracer_t *t, uint64_t max_age_ns) {
  (void)t;
  (void)max_age_ns;
  return 0;
}
void tracer_close(tracer_t *t) {
  (void)t;
  fake.tracer_closed++;
}
int tracer_lost_fd(const tracer_t *t) {
  (void)t;
  return FAKE_LOST_FD;
}

/* wire */
struct wire_s {
  int unused;
};
static struct wire_s the_wire;

int wire_open(const wire_config_t *cfg, wire_t **out) {
  fake.wire_config = *cfg;
  fake.wire_opened++;
  if (fake.wire_open_status != 0)
    return fake.wire_open_status;
  *out = &the_wire;
  return 0;
}
int wire_sync_modules(wire_t *w) {
  (void)w;
  return 0;
}
int wire_stats_fd(const wire_t *w) {
  (void)w;
  return FAKE_RPC_FD;
}
uint64_t wire_skipped(wire_t *w) { return w != NULL ? fake.rpc_skipped : 0; }
void wire_close(wire_t *w) {
  if (w != NULL)
    fake.wire_closed++;
}

/* kstats: the two fake maps (kstats.h's own snapshot_init and _free
 * manage the buffers). A snapshot is a copy, as the real one is: what the
 * kernel adds after it is not in it. */
int kstats_read(int map_fd, kstats_snapshot_t *s) {
  /* A failed read, as the real one fails: an error and a partial or
   * stale snapshot the caller must not use. */
  int status = map_fd == FAKE_STATS_FD    ? fake.stats_read_status
               : map_fd == FAKE_ERRORS_FD ? fake.errors_read_status
                                          : 0;
  if (status != 0) {
    s->len = 0;
    return status;
  }
  const void *keys = fake.err_keys, *vals = fake.err_vals;
  size_t n = fake.n_errs;
  if (map_fd == FAKE_STATS_FD) {
    keys = fake.stats_keys;
    vals = fake.stats_vals;
    n = fake.n_stats;
  } else if (map_fd == FAKE_RPC_FD) {
    keys = fake.rpc_keys;
    vals = fake.rpc_vals;
    n = fake.n_rpc;
  }
  if (s->cap < FAKE_MAX) {
    free(s->keys);
    free(s->vals);
    s->keys = malloc(FAKE_MAX * s->key_size);
    s->vals = malloc(FAKE_MAX * s->val_size);
    s->cap = FAKE_MAX;
  }
  memcpy(s->keys, keys, n * s->key_size);
  memcpy(s->vals, vals, n * s->val_size);
  s->len = n;
  return 0;
}

/* Removing an entry from a fake map, as the kernel would. Before it goes,
 * fake.late_count operations land on a stats entry: the increments that
 * come between a read and the deletion. */
static int fake_remove(int map_fd, const void *key, void *value) {
  if (fake.delete_status != 0)
    return fake.delete_status;
  if (map_fd == FAKE_STATS_FD) {
    for (size_t i = 0; i < fake.n_stats; i++)
      if (memcmp(&fake.stats_keys[i], key, sizeof(struct op_key)) == 0) {
        fake.stats_vals[i].count += fake.late_count;
        fake.stats_vals[i].buckets[0] += fake.late_count;
        if (value != NULL)
          memcpy(value, &fake.stats_vals[i], sizeof(struct op_stats));
        fake.stats_keys[i] = fake.stats_keys[fake.n_stats - 1];
        fake.stats_vals[i] = fake.stats_vals[fake.n_stats - 1];
        fake.n_stats--;
        fake.deleted_stats++;
        return 0;
      }
  } else if (map_fd == FAKE_RPC_FD) {
    for (size_t i = 0; i < fake.n_rpc; i++)
      if (memcmp(&fake.rpc_keys[i], key, sizeof(struct rpc_key)) == 0) {
        if (value != NULL)
          memcpy(value, &fake.rpc_vals[i], sizeof(struct rpc_stats));
        fake.rpc_keys[i] = fake.rpc_keys[fake.n_rpc - 1];
        fake.rpc_vals[i] = fake.rpc_vals[fake.n_rpc - 1];
        fake.n_rpc--;
        fake.deleted_rpc++;
        return 0;
      }
  } else {
    for (size_t i = 0; i < fake.n_errs; i++)
      if (memcmp(&fake.err_keys[i], key, sizeof(struct err_key)) == 0) {
        if (value != NULL)
          memcpy(value, &fake.err_vals[i], sizeof(__u64));
        fake.err_keys[i] = fake.err_keys[fake.n_errs - 1];
        fake.err_vals[i] = fake.err_vals[fake.n_errs - 1];
        fake.n_errs--;
        fake.deleted_errs++;
        return 0;
      }
  }
  return -ENOENT;
}

int kstats_delete(int map_fd, const void *key) {
  return fake_remove(map_fd, key, NULL);
}

/* fake.take_unsupported: a kernel before 5.14. */
int kstats_take(int map_fd, const void *key, void *value) {
  int status = fake_remove(map_fd, key, fake.take_unsupported ? NULL : value);
  return status == 0 && fake.take_unsupported ? 1 : status;
}

/* identity */
struct identity_s {
  int unused;
};
static struct identity_s the_identity;

identity_t *identity_create(const identity_config_t *cfg) {
  (void)cfg;
  fake.identities++;
  return &the_identity;
}
void identity_destroy(identity_t *id) {
  if (id != NULL)
    fake.identities--;
}
identity_cgroup_mode_t identity_cgroup_mode(const identity_t *id,
                                            const char **v1_controller) {
  (void)id;
  *v1_controller = fake.v1_controller;
  return fake.v1_controller ? IDENTITY_CGROUP_V1 : IDENTITY_CGROUP_V2;
}
uint32_t identity_bpf_cgroup_controller(const identity_t *id) {
  (void)id;
  if (fake.v1_controller == NULL)
    return NFS_CGROUP_V2;
  if (strcmp(fake.v1_controller, "memory") == 0)
    return NFS_CGROUP_V1_MEMORY;
  if (strcmp(fake.v1_controller, "pids") == 0)
    return NFS_CGROUP_V1_PIDS;
  return NFS_CGROUP_V1_CPUSET;
}
void identity_tick(identity_t *id, cdtime_t now) {
  (void)id;
  (void)now;
}

static fake_cgroup_t *find_cgroup(uint64_t cgroup_id) {
  for (size_t i = 0; i < fake.n_cgroups; i++)
    if (fake.cgroups[i].id == cgroup_id)
      return &fake.cgroups[i];
  return NULL;
}

identity_answer_t identity_resolve(identity_t *id, uint64_t cgroup_id,
                                   pod_identity_t *out) {
  (void)id;
  memset(out, 0, sizeof(*out));
  fake_cgroup_t *c = find_cgroup(cgroup_id);
  if (c == NULL) {
    sstrncpy(out->cgroup, IDENTITY_UNRESOLVED_CGROUP, sizeof(out->cgroup));
    return (identity_answer_t){.state = IDENTITY_UNKNOWN, .alive = false};
  }
  *out = c->identity;
  return (identity_answer_t){.state = c->state, .alive = !c->dead};
}

static fake_cgroup_t *fake_add(uint64_t id) {
  fake_cgroup_t *c = &fake.cgroups[fake.n_cgroups++];
  memset(c, 0, sizeof(*c));
  c->id = id;
  c->state = IDENTITY_FINAL;
  return c;
}

void fake_add_pod(uint64_t id, const char *ns, const char *pod,
                  const char *container) {
  fake_add(id);
  fake_resolve_to_pod(id, ns, pod, container);
}

void fake_add_cgroup(uint64_t id, const char *name) {
  fake_cgroup_t *c = fake_add(id);
  sstrncpy(c->identity.cgroup, name, sizeof(c->identity.cgroup));
}

void fake_set_provisional(uint64_t id) {
  fake_cgroup_t *c = find_cgroup(id);
  if (c != NULL)
    c->state = IDENTITY_PROVISIONAL;
}

void fake_resolve_to_pod(uint64_t id, const char *ns, const char *pod,
                         const char *container) {
  fake_cgroup_t *c = find_cgroup(id);
  if (c == NULL)
    return;
  c->state = IDENTITY_FINAL;
  memset(&c->identity, 0, sizeof(c->identity));
  c->identity.in_pod = true;
  sstrncpy(c->identity.ns, ns, sizeof(c->identity.ns));
  sstrncpy(c->identity.pod, pod, sizeof(c->identity.pod));
  sstrncpy(c->identity.container, container, sizeof(c->identity.container));
}

void fake_kill_cgroup(uint64_t id) {
  fake_cgroup_t *c = find_cgroup(id);
  if (c != NULL)
    c->dead = true;
}

struct rpc_stats *fake_set_rpc(uint64_t cgroup_id, uint32_t dev, uint32_t scope,
                               const char *proc) {
  struct rpc_key k = {.cgroup_id = cgroup_id, .dev = dev, .scope = scope};
  sstrncpy(k.proc, proc, sizeof(k.proc));
  for (size_t i = 0; i < fake.n_rpc; i++)
    if (memcmp(&fake.rpc_keys[i], &k, sizeof(k)) == 0)
      return &fake.rpc_vals[i];
  fake.rpc_keys[fake.n_rpc] = k;
  memset(&fake.rpc_vals[fake.n_rpc], 0, sizeof(struct rpc_stats));
  return &fake.rpc_vals[fake.n_rpc++];
}

struct op_stats *fake_set_stats(uint64_t cgroup_id, uint32_t dev, uint32_t op) {
  struct op_key k = {.cgroup_id = cgroup_id, .dev = dev, .op = op};
  for (size_t i = 0; i < fake.n_stats; i++)
    if (memcmp(&fake.stats_keys[i], &k, sizeof(k)) == 0)
      return &fake.stats_vals[i];
  fake.stats_keys[fake.n_stats] = k;
  memset(&fake.stats_vals[fake.n_stats], 0, sizeof(struct op_stats));
  return &fake.stats_vals[fake.n_stats++];
}

void fake_set_error(uint64_t cgroup_id, uint32_t dev, uint32_t op, int err,
                    uint64_t count) {
  struct err_key k = {
      .cgroup_id = cgroup_id, .dev = dev, .op = (__u16)op, .err = (__u16)err};
  for (size_t i = 0; i < fake.n_errs; i++)
    if (memcmp(&fake.err_keys[i], &k, sizeof(k)) == 0) {
      fake.err_vals[i] = count;
      return;
    }
  fake.err_keys[fake.n_errs] = k;
  fake.err_vals[fake.n_errs++] = count;
}
