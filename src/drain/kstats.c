/*
 * Copies the kernel's op_stats / op_errors hash maps for the read callback.
 * See kstats.h for why reading is enough and nothing is reset.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r */
#endif
#include "collectd_compat.h"

#include "kstats.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>

/* Entries fetched per BPF_MAP_LOOKUP_BATCH call: a typical node's map in a
 * few syscalls. */
#define KSTATS_BATCH 256

/* The kernel's ENOTSUPP (not in userspace errno.h). */
#define KERNEL_ENOTSUPP 524

/* Passes over a full map a key-by-key walk may take before it gives up:
 * every deletion of the key it stands on restarts it (see read_by_key). */
#define KSTATS_WALK_PASSES 4

/* Set once the kernel refused batch lookups (before 5.6); from then on only
 * the per-key walk is tried. */
static bool batch_unsupported;

/* Tests: walk key by key even where batches work, and act after each key. */
static bool force_key_walk;
static kstats_walk_hook_t walk_hook;
static void *walk_hook_arg;

void kstats_test_force_key_walk(bool on) { force_key_walk = on; }
void kstats_test_walk_hook(kstats_walk_hook_t hook, void *arg) {
  walk_hook = hook;
  walk_hook_arg = arg;
}

/* Make room for `extra` more entries. */
static int snapshot_reserve(kstats_snapshot_t *s, size_t extra) {
  if (s->len + extra <= s->cap)
    return 0;
  size_t cap = s->cap ? s->cap : KSTATS_BATCH;
  while (cap < s->len + extra)
    cap *= 2;
  void *keys = realloc(s->keys, cap * s->key_size);
  if (keys == NULL)
    return -ENOMEM;
  s->keys = keys;
  void *vals = realloc(s->vals, cap * s->val_size);
  if (vals == NULL)
    return -ENOMEM;
  s->vals = vals;
  s->cap = cap;
  return 0;
}

/* Orders snapshot positions by key bytes, then by position, so that of
 * several copies of one key the one read last ends a run. */
static int compare_positions(const void *a, const void *b, void *arg) {
  const kstats_snapshot_t *s = arg;
  size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
  int c = memcmp(kstats_key(s, ia), kstats_key(s, ib), s->key_size);
  if (c != 0)
    return c;
  return (ia > ib) - (ia < ib);
}

/* Keep one copy of each key, the one read last (values only grow, so the
 * newest is the right one). Copies come from get_next_key restarting its
 * walk at the first bucket when the key it continues from was deleted in
 * the meantime. */
static int drop_repeated_keys(kstats_snapshot_t *s) {
  if (s->len < 2)
    return 0;
  size_t *order = malloc(s->len * sizeof(*order));
  void *keys = malloc(s->cap * s->key_size);
  void *vals = malloc(s->cap * s->val_size);
  if (order == NULL || keys == NULL || vals == NULL) {
    free(order);
    free(keys);
    free(vals);
    return -ENOMEM;
  }
  for (size_t i = 0; i < s->len; i++)
    order[i] = i;
  qsort_r(order, s->len, sizeof(*order), compare_positions, s);
  size_t kept = 0;
  for (size_t i = 0; i < s->len; i++) {
    if (i + 1 < s->len && memcmp(kstats_key(s, order[i]),
                                 kstats_key(s, order[i + 1]), s->key_size) == 0)
      continue; /* a later copy of this key follows */
    memcpy((char *)keys + kept * s->key_size, kstats_key(s, order[i]),
           s->key_size);
    memcpy((char *)vals + kept * s->val_size, kstats_val(s, order[i]),
           s->val_size);
    kept++;
  }
  free(order);
  free(s->keys);
  free(s->vals);
  s->keys = keys;
  s->vals = vals;
  s->len = kept;
  return 0;
}

/* The map's capacity, which bounds a walk that the kernel keeps
 * restarting. */
static int map_max_entries(int fd, size_t *out) {
  struct bpf_map_info info;
  __u32 len = sizeof(info);
  memset(&info, 0, sizeof(info));
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    return -errno;
  *out = info.max_entries;
  return 0;
}

/* Key by key, for kernels without batch ops. The key to continue from is
 * copied out of the snapshot (whose buffers snapshot_reserve may move).
 * When that key was deleted since it was read, the kernel restarts from
 * the first bucket: the walk then repeats keys, which are dropped at the
 * end, and it is bounded so that deletions that keep coming cannot make it
 * spin. */
static int read_by_key(int fd, kstats_snapshot_t *s) {
  size_t max_entries = 0;
  int status = map_max_entries(fd, &max_entries);
  if (status != 0)
    return status;
  /* One pass visits at most max_entries keys; allow a few restarts. */
  size_t max_steps = KSTATS_WALK_PASSES * (max_entries + 1);
  if (s->cursor == NULL && (s->cursor = malloc(s->key_size)) == NULL)
    return -ENOMEM;
  bool first = true;
  for (size_t step = 0;; step++) {
    if (step >= max_steps) {
      ERROR("nfs_ebpf plugin: the key-by-key walk of a %zu-entry map did "
            "not end after %zu steps (keys deleted while it ran); this "
            "read is abandoned.",
            max_entries, step);
      return -EAGAIN;
    }
    status = snapshot_reserve(s, 1);
    if (status != 0)
      return status;
    void *key = (char *)s->keys + s->len * s->key_size;
    if (bpf_map_get_next_key(fd, first ? NULL : s->cursor, key) != 0) {
      if (errno != ENOENT)
        return -errno;
      break; /* the end of the map */
    }
    memcpy(s->cursor, key, s->key_size);
    first = false;
    if (bpf_map_lookup_elem(fd, key, (char *)s->vals + s->len * s->val_size) !=
        0) {
      if (errno == ENOENT)
        continue; /* deleted between the two calls: nothing to copy */
      return -errno;
    }
    s->len++;
    if (walk_hook != NULL)
      walk_hook(fd, s->cursor, walk_hook_arg);
  }
  return drop_repeated_keys(s);
}

static int read_batched(int fd, kstats_snapshot_t *s) {
  /* The batch cursor is opaque to us; 8 bytes covers every map type. */
  __u64 in_batch = 0, out_batch = 0;
  bool first = true;
  for (;;) {
    int status = snapshot_reserve(s, KSTATS_BATCH);
    if (status != 0)
      return status;
    __u32 count = KSTATS_BATCH;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch,
                                   (char *)s->keys + s->len * s->key_size,
                                   (char *)s->vals + s->len * s->val_size,
                                   &count, &opts);
    if (err != 0 && errno != ENOENT)
      return -errno;
    s->len += count;
    if (err != 0) /* ENOENT: that was the last batch */
      return 0;
    in_batch = out_batch;
    first = false;
  }
}

int kstats_read(int map_fd, kstats_snapshot_t *s) {
  s->len = 0;
  if (!batch_unsupported && !force_key_walk) {
    int status = read_batched(map_fd, s);
    if (status == 0)
      return 0;
    if (status != -EINVAL && status != -EOPNOTSUPP &&
        status != -KERNEL_ENOTSUPP && status != -ENOSPC)
      return status;
    /* No batch ops here (or, ENOSPC, a hash bucket larger than a batch):
     * throw the partial copy away and walk key by key. */
    if (status != -ENOSPC) {
      batch_unsupported = true;
      INFO("nfs_ebpf plugin: this kernel has no batched map lookups "
           "(Linux 5.6+); reading the maps key by key.");
    }
    s->len = 0;
  }
  return read_by_key(map_fd, s);
}

/* Set once the kernel refused BPF_MAP_LOOKUP_AND_DELETE_ELEM on a hash map
 * (before 5.14). */
static bool take_unsupported;

int kstats_take(int map_fd, const void *key, void *value) {
  if (!take_unsupported) {
    if (bpf_map_lookup_and_delete_elem(map_fd, key, value) == 0)
      return 0;
    if (errno != EINVAL && errno != EOPNOTSUPP && errno != KERNEL_ENOTSUPP)
      return -errno;
    take_unsupported = true;
    INFO("nfs_ebpf plugin: this kernel cannot read and delete a hash map "
         "entry in one step (Linux 5.14+); ended keys are deleted after "
         "their values stayed the same for two reads.");
  }
  if (bpf_map_delete_elem(map_fd, key) != 0)
    return -errno;
  return 1;
}

int kstats_delete(int map_fd, const void *key) {
  if (bpf_map_delete_elem(map_fd, key) != 0)
    return -errno;
  return 0;
}
