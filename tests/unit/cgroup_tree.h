/*
 * What the identity tests (identity_test, identity_watch_test) and the
 * identity benchmark (tests/bench/identity_bench.c) build their nodes
 * with: fake cgroup v2 trees and runtime state dirs in a temp dir, made
 * without a shell, cgroup ids as identity reads them, the path of this
 * host's cgroup hierarchy, and the identity configuration they share.
 *
 * Plain return codes, no TAP output: testing.h's counters are per file.
 */
#ifndef NFS_EBPF_TESTS_CGROUP_TREE_H
#define NFS_EBPF_TESTS_CGROUP_TREE_H

#include "collectd_compat.h"

#include "identity.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* mkdir -p path (0755). 0 or -1. */
int tree_mkdir_p(const char *path);

/* mkdir -p root followed by rel ("/a/b", or "" for root itself). */
int tree_mkdir_under(const char *root, const char *rel);

/* Creates or truncates path with text in it. 0 or -1. */
int tree_write_file(const char *path, const char *text);

/* rm -rf path. 0 or -1. */
int tree_rm_rf(const char *path);

/* A directory that identity detects as a cgroup v2 mount: path (made if
 * needed) with an empty cgroup.controllers. 0 or -1. */
int tree_make_v2_root(const char *path);

/* The cgroup id of the directory root followed by rel, as identity reads
 * it (the kernfs handle on a real cgroup, the inode number on a fake
 * tree); 0 if it cannot be read. */
uint64_t tree_cgroup_id(const char *root, const char *rel);

/* Makes a temp dir named prefix_XXXXXX in /dev/shm where that is writable
 * (in memory, as cgroupfs and /run are: ext4 gives a removed directory's
 * inode number to the next one at once, and a fake tree's ids are inode
 * numbers), else in /tmp. Its path in buf; false if it cannot be made. */
bool tree_temp_dir(char *buf, size_t size, const char *prefix);

/* This host's hierarchy that id reads: /sys/fs/cgroup, its unified/ on a
 * hybrid host, its controller's directory on a v1 host. */
void tree_host_mount(const identity_t *id, char *buf, size_t size);

/* The identity configuration the tests share: rescans every 60 s,
 * tombstones kept for 5 min; callers add their tests-only switches. */
identity_config_t tree_identity_config(const char *cgroup_root,
                                       const char *const *state_dirs,
                                       size_t n_state_dirs);

#endif /* NFS_EBPF_TESTS_CGROUP_TREE_H */
