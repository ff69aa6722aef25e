/*
 * The plugin's output series and the index from kernel map keys to them.
 *
 * A series is what the user sees: one (who, mount, op). Several kernel keys
 * (cgroup id, device, op) can feed one series: a restarted container gets a
 * new cgroup id under the same pod/container name, and one export can be
 * mounted on two devices. Each series keeps:
 *  - live: the sum, this interval, of the cumulative values of the kernel
 *    keys that still exist (recomputed every read), and
 *  - retired: the final values of kernel keys that were removed because
 *    their cgroup is gone,
 * so that live + retired never decreases and `rate()` stays right.
 * A read stages its values and commits them only once every map was read:
 * a read that fails halfway leaves every reported value as it was.
 *
 * A kernel key is bound to its series the first time it is resolved and
 * stays bound while its device belongs to the same mount, so its counts
 * never move from one series to another (which would make one counter go
 * backwards). When the device number is reused by another mount (NFS
 * superblocks get the lowest free anonymous device number), the key is
 * rebound: what it counted so far stays with the old series, only the
 * increase from then on goes to the new one.
 */
#ifndef NFS_EBPF_SERIES_H
#define NFS_EBPF_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "hash.h"
#include "nfs_ebpf.h"

/* Mirrors DATA_MAX_NAME_LEN: the encoded strings go straight into
 * value_list_t fields. */
#define SERIES_NAME_LEN 128

/* What a series accumulates: an operation's or an RPC procedure's kernel
 * values (the series' op says which: rpc_procs.h). Both are plain
 * cumulative __u64 counters, added and subtracted word by word, and both
 * count events in their first word. */
typedef union {
  struct op_stats op;
  struct rpc_stats rpc;
} series_values_t;

typedef struct {
  uint16_t err; /* positive errno */
  uint64_t retired;
  uint64_t live;
  uint64_t staged_retired, staged_live; /* this read, until committed */
} series_errno_t;

/* What a series keeps of its keys that ended or moved to another mount:
 * their final values, as of the last committed read and staged by this
 * one. Most series never have any, so it is allocated for the first. */
typedef struct {
  series_values_t committed;
  series_values_t staged; /* this read, until committed */
} series_ended_t;

typedef struct series_s {
  char who[SERIES_NAME_LEN]; /* plugin_instance, already encoded */
  /* Raw, from mountinfo, whole: two long exports that differ only at the
   * end must stay two series (identifier.c hashes them apart). */
  char *server;
  char *export_;
  /* The end every type_instance of the series shares (identifier.h's
   * identifier_what_tail of server and export), built once here rather
   * than per bucket per read; NULL: each is built whole. */
  char *what_tail;
  uint32_t op; /* enum nfs_ebpf_op, or an RPC op (rpc_procs.h) */

  series_values_t live;
  series_values_t staged_live; /* this read, until committed */
  series_ended_t *ended;       /* NULL until a key ends or moves */
  series_errno_t *errnos;
  size_t n_errnos;

  uint64_t last_live; /* interval stamp when a live key last fed it */
  unsigned n_keys;    /* kernel keys bound to this series */

  hash_node_t node; /* in the table's series index */
} series_t;

typedef struct series_table_s series_table_t;

series_table_t *series_table_create(void);
void series_table_destroy(series_table_t *t);

/* Start a read: what series_add_* adds from now on is staged, and every
 * series' live part will be recomputed from scratch by it. The values
 * series_total reports stay those of the last committed read until
 * series_commit_interval; a read that fails is simply never committed (the
 * next begin discards its staged values). `stamp` is any increasing number
 * (the read time). */
void series_begin_interval(series_table_t *t, uint64_t stamp);

/* The read succeeded: its staged values become the reported ones (live
 * replaced, retired added). */
void series_commit_interval(series_table_t *t);

/* Find or create the series for (who, server, export, op). NULL on ENOMEM. */
series_t *series_get(series_table_t *t, const char *who, const char *server,
                     const char *export_, uint32_t op);

/* Add one kernel key's cumulative value, as live data or as the final value
 * of a key that is being removed (staged until the read is committed). The
 * series' ended part is made for the latter if it has none yet (the plugin
 * makes it earlier, when the key is marked for retirement or rebound, where
 * a failure can wait); without memory for it the value is logged as lost. */
void series_add_stats(series_table_t *t, series_t *s,
                      const series_values_t *val, bool retire);
int series_add_errors(series_table_t *t, series_t *s, uint16_t err,
                      uint64_t count, bool retire);

/* live + retired, as of the last committed read */
void series_total(const series_t *s, series_values_t *out);

/* Drop series that no live kernel key has fed since `oldest_stamp`: the
 * pod is gone and its last values have been reported for long enough. */
size_t series_expire(series_table_t *t, uint64_t oldest_stamp);

typedef int (*series_cb)(const series_t *s, void *user_data);
int series_for_each(const series_table_t *t, series_cb cb, void *user_data);
size_t series_count(const series_table_t *t);

/* Kernel key -> series. `cgroup_id, dev, op` is the triple both maps share
 * (struct op_key; errors use the same triple). */
series_t *series_bound(const series_table_t *t, const struct op_key *key);
/* `mount` is the mount generation (mount_table.h) the key was resolved
 * under, 0 for none. */
int series_bind(series_table_t *t, const struct op_key *key, series_t *s,
                uint64_t mount);
uint64_t series_bound_mount(const series_table_t *t, const struct op_key *key);
/* The key's device now belongs to another mount: from the next values on,
 * the key feeds `s`; its old series keeps what the key counted until then
 * (taken from the next series_add_key_stats / _errors of the key).
 * -ENOENT if the key is not bound. */
int series_rebind(series_table_t *t, const struct op_key *key, series_t *s,
                  uint64_t mount);
void series_unbind(series_table_t *t, const struct op_key *key);

/* Add a bound key's cumulative kernel values to its series (the part since
 * its last rebinding). Keys that are not bound are ignored. */
void series_add_key_stats(series_table_t *t, const struct op_key *key,
                          const series_values_t *val);
int series_add_key_errors(series_table_t *t, const struct op_key *key,
                          uint16_t err, uint64_t count);

/* Retirement of a key whose cgroup is gone. Ready once its count stayed
 * the same across two reads that both found the cgroup gone (call once per
 * read with the count read): no program is still adding to it then.
 * The final values (read when the key is deleted) go to the series'
 * retired part; unbind only after the key left the kernel map. */
bool series_retire_ready(series_table_t *t, const struct op_key *key,
                         uint64_t count);
/* Whether the last series_retire_ready found the key ready, unless
 * series_retire_cancel (a deletion failed: the key stays) came after. */
bool series_retiring(const series_table_t *t, const struct op_key *key);
void series_retire_cancel(series_table_t *t, const struct op_key *key);
void series_retire_key_stats(series_table_t *t, const struct op_key *key,
                             const series_values_t *val);
int series_retire_key_errors(series_table_t *t, const struct op_key *key,
                             uint16_t err, uint64_t count);

/* A key that could not be resolved yet (its pod's state file or its mount
 * is not visible yet) is left unbound and retried next read: its kernel
 * values are cumulative, so waiting loses nothing. Returns the stamp of the
 * first read that saw the key unresolved, recording it if new (0 on
 * ENOMEM). */
uint64_t series_pending_since(series_table_t *t, const struct op_key *key);

#endif /* NFS_EBPF_SERIES_H */
