/*
 * Reading the kernel-side aggregation maps (op_stats, op_errors).
 *
 * The BPF program only ever adds to these maps; values are cumulative since
 * load. Reading never resets them, so an increment that lands while we read
 * is simply seen next interval instead of being lost. Keys are removed only
 * for cgroups that no longer exist, once their values stopped changing, and
 * with the value they had when they left (kstats_take).
 */
#ifndef NFS_EBPF_KSTATS_H
#define NFS_EBPF_KSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A copy of one map's entries, taken in one pass. The buffers are kept and
 * grown across intervals so a steady-state read allocates nothing. */
typedef struct {
  size_t key_size;
  size_t val_size;
  void *keys; /* len keys of key_size bytes */
  void *vals; /* len values of val_size bytes */
  size_t len;
  size_t cap;
  void *cursor; /* key_size bytes: where a key-by-key walk continues */
} kstats_snapshot_t;

/* Inline: the plugin's tests fake kstats_read and friends (fake_kernel.c)
 * but keep these. */
static inline void kstats_snapshot_init(kstats_snapshot_t *s, size_t key_size,
                                        size_t val_size) {
  memset(s, 0, sizeof(*s));
  s->key_size = key_size;
  s->val_size = val_size;
}

static inline void kstats_snapshot_free(kstats_snapshot_t *s) {
  free(s->keys);
  free(s->vals);
  free(s->cursor);
  s->keys = s->vals = s->cursor = NULL;
  s->len = s->cap = 0;
}

static inline const void *kstats_key(const kstats_snapshot_t *s, size_t i) {
  return (const char *)s->keys + i * s->key_size;
}
static inline const void *kstats_val(const kstats_snapshot_t *s, size_t i) {
  return (const char *)s->vals + i * s->val_size;
}

/* Replace the snapshot's content with every entry of the map. Uses
 * BPF_MAP_LOOKUP_BATCH where the kernel has it (5.6+) and falls back to
 * get_next_key + lookup otherwise. Returns 0 or -errno. */
int kstats_read(int map_fd, kstats_snapshot_t *s);

/* For tests only: walk key by key even where the kernel has batch lookups,
 * and call hook(map_fd, key just read, arg) after each key of such a walk
 * (to delete keys while it runs, as a concurrent deleter would). */
typedef void (*kstats_walk_hook_t)(int map_fd, const void *key, void *arg);
void kstats_test_force_key_walk(bool on);
void kstats_test_walk_hook(kstats_walk_hook_t hook, void *arg);

/* Delete one key and return the value it had when it left the map, so an
 * increment that landed after the last read is not lost. Returns 0 with
 * `value` filled; 1 when the key was deleted but this kernel cannot return
 * the value in the same step (Linux before 5.14: `value` untouched, the
 * caller's last read must do); or -errno with the key left in place. */
int kstats_take(int map_fd, const void *key, void *value);

/* Delete one key (of a cgroup that is gone). Returns 0 or -errno. */
int kstats_delete(int map_fd, const void *key);

#endif /* NFS_EBPF_KSTATS_H */
