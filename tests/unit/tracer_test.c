/*
 * Tests of the loader (src/probe/tracer.c) and of the BPF programs' data path
 * on a kernel WITHOUT NFS. Needs root (or CAP_BPF+CAP_PERFMON) and kernel BTF:
 * without them every test fails, on purpose (nothing here is skipped).
 *
 *  - configuration errors are refused with a clear ERROR;
 *  - maps are created with MaxEntries;
 *  - a missing nfs module gives one WARNING, not one per interval;
 *  - with a fake /sys/module and kallsyms naming the NFS functions:
 *    AttachMode "fentry" fails cleanly (no module BTF), "auto" falls back to
 *    kprobes, whose programs all pass this kernel's verifier (only the
 *    attach fails, the functions do not exist here);
 *  - the data path: the kprobe/kretprobe twins are attached as uprobes to
 *    stand-ins in this program (this host has neither NFS nor kprobes), so
 *    counts, bytes, latency buckets, errno, int/ERR_PTR return handling,
 *    the atomic-open rules, lost events and the cgroup id (v2 and, where
 *    mounted, v1) recorded in the maps are checked against what the test
 *    did. Real attachment to nfs.ko is proven in the VMs (tests/vm).
 *
 * Build (from the repository root, after generating the skeleton):
 *   gcc -std=gnu11 -Wall -Wextra -DHAVE_CONFIG_H -I/usr/include/collectd \
 *       -Isrc -Ibpf -I<dir of nfs_ebpf.skel.h> tests/unit/tracer_test.c \
 *       tests/unit/mock_collectd.c -o tracer_test -lbpf -lelf -lz
 */
#include "tracer.c"

#include <collectd/core/testing.h>
#include <pthread.h>
#include <sys/utsname.h>

#include "mock_collectd.h"

static char tmpdir[] = "/tmp/nfs_ebpf_tracer_test.XXXXXX";

static void write_file(const char *dir, const char *name, const char *text) {
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *fh = fopen(path, "w");
  if (fh == NULL) {
    fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
    exit(2);
  }
  fputs(text, fh);
  fclose(fh);
}

static tracer_config_t base_config(const char *module_dir) {
  tracer_config_t cfg = {
      .mode = TRACER_ATTACH_AUTO,
      .bucket_bounds_ns = {1000, 1000000, 1000000000},
      .nr_buckets = 3,
      .max_entries = 1234,
      .cgroup_controller = NFS_CGROUP_V2,
      .sys_module_dir = module_dir,
  };
  return cfg;
}

/* A tracer on the modules of module_dir in mode, the log reset first. */
static int open_tracer(const char *module_dir, tracer_attach_mode_t mode,
                       tracer_t **t) {
  tracer_config_t cfg = base_config(module_dir);

  cfg.mode = mode;
  mock_reset();
  EXPECT_EQ_INT(0, tracer_open(&cfg, t));
  CHECK_NOT_NULL(*t);
  return 0;
}

/* What the log must hold: count messages of level containing text (at
 * least count with at_least). */
typedef struct {
  int level;
  const char *text;
  size_t count;
  bool at_least;
  const char *why;
} logged_t;

static int expect_logged(const logged_t *want, size_t n) {
  for (size_t i = 0; i < n; i++) {
    size_t got = mock_log_count(want[i].level, want[i].text);
    OK1(want[i].at_least ? got >= want[i].count : got == want[i].count,
        want[i].why);
  }
  return 0;
}

/* A /sys/module without nfs. */
static const char *no_modules(void) {
  static char empty[PATH_MAX];

  snprintf(empty, sizeof(empty), "%s/empty", tmpdir);
  mkdir(empty, 0755);
  return empty;
}

/* The kallsyms the tracer reads from now on (a copy of path). */
static void use_kallsyms(const char *path) {
  static char kallsyms[PATH_MAX + 32];

  sstrncpy(kallsyms, path, sizeof(kallsyms));
  tracer_kallsyms_path = kallsyms;
}

DEF_TEST(environment) {
  OK1(geteuid() == 0, "runs as root (needed to load BPF programs)");
  OK1(access("/sys/kernel/btf/vmlinux", R_OK) == 0, "kernel BTF is readable");
  return 0;
}

DEF_TEST(bad_config) {
  tracer_config_t cfg = base_config(tmpdir);
  tracer_t *t = (void *)1;

  mock_reset();
  cfg.bucket_bounds_ns[1] = cfg.bucket_bounds_ns[0];
  EXPECT_EQ_INT(-EINVAL, tracer_open(&cfg, &t));
  OK(t == NULL);
  OK(mock_log_count(LOG_ERR, "strictly increasing") == 1);

  cfg = base_config(tmpdir);
  cfg.nr_buckets = NFS_EBPF_MAX_BUCKETS + 1;
  EXPECT_EQ_INT(-EINVAL, tracer_open(&cfg, &t));

  cfg = base_config(tmpdir);
  cfg.cgroup_controller = 99;
  EXPECT_EQ_INT(-EINVAL, tracer_open(&cfg, &t));
  OK(mock_log_count(LOG_ERR, "unknown cgroup controller 99") == 1);
  return 0;
}

DEF_TEST(open_and_absent_module) {
  tracer_t *t = NULL;
  uint64_t lost[NFS_LOST_MAX];
  struct bpf_map_info info;
  __u32 len = sizeof(info);
  struct op_key key;

  if (open_tracer(no_modules(), TRACER_ATTACH_AUTO, &t) != 0)
    return -1;
  OK(tracer_stats_fd(t) >= 0);
  OK(tracer_errors_fd(t) >= 0);

  memset(&info, 0, sizeof(info));
  EXPECT_EQ_INT(0, bpf_obj_get_info_by_fd(tracer_stats_fd(t), &info, &len));
  EXPECT_EQ_INT(1234, (int)info.max_entries);
  EXPECT_EQ_INT(-ENOENT, bpf_map_get_next_key(tracer_stats_fd(t), NULL, &key)
                             ? -errno
                             : 0);

  EXPECT_EQ_INT(0, tracer_read_lost(t, lost));
  for (int i = 0; i < NFS_LOST_MAX; i++)
    EXPECT_EQ_UINT64(0, lost[i]);

  EXPECT_EQ_INT(0, tracer_sync_modules(t));
  EXPECT_EQ_INT(0, tracer_sync_modules(t));
  OK1(mock_log_count(LOG_WARNING, "nfs kernel module is not loaded") == 1,
      "absent nfs module warned exactly once over two intervals");
  tracer_close(t);
  tracer_close(NULL);
  return 0;
}

/* A /sys/module with live nfs and nfsv4 and a kallsyms naming every hook. */
static void fake_modules(char *moddir, size_t size) {
  char dir[PATH_MAX + 32];
  FILE *fh;

  snprintf(moddir, size, "%s/module", tmpdir);
  mkdir(moddir, 0755);
  for (int set = 0; set < SET_MAX; set++) {
    snprintf(dir, sizeof(dir), "%s/%s", moddir, set_modules[set]);
    mkdir(dir, 0755);
    write_file(dir, "initstate", "live\n");
  }
  snprintf(dir, sizeof(dir), "%s/kallsyms", tmpdir);
  fh = fopen(dir, "w");
  fprintf(fh, "ffffffff81000000 T _stext\n");
  for (size_t i = 0; i < NR_HOOKS; i++)
    fprintf(fh, "ffffffffc0a%05zx t %s\t[%s]\n", i * 16, hooks[i].func,
            set_modules[hooks[i].set]);
  fprintf(fh, "ffffffffc0b00000 t nfs_file_read\t[not_nfs]\n");
  fclose(fh);
  use_kallsyms(dir);
}

/* A module unloaded and loaded again between two reads is seen as a new
 * load even where its code lands at the same address: the new
 * /sys/module directory has a new inode. */
DEF_TEST(reload_at_the_same_address_is_a_new_load) {
  char moddir[PATH_MAX], dir[PATH_MAX + 32], sections[PATH_MAX + 48];
  char before[64], after[64];
  bool builtin = false;
  static tracer_t t; /* large: not on the stack */

  fake_modules(moddir, sizeof(moddir));
  sstrncpy(t.sys_module_dir, moddir, sizeof(t.sys_module_dir));
  snprintf(dir, sizeof(dir), "%s/nfsv4", moddir);
  snprintf(sections, sizeof(sections), "%s/sections", dir);
  mkdir(sections, 0755);
  write_file(sections, ".text", "0xffffffffc0a00000\n");
  OK1(kmodule_state(t.sys_module_dir, "nfsv4", before, sizeof(before),
                    &builtin) &&
          !builtin,
      "a live module");
  /* rmmod, then modprobe: the same .text address. sysfs numbers its
   * directories cyclically, so the new one never has the old inode. A
   * test file system may reuse a freed inode at once; keeping the old
   * directory (renamed) makes the new one's inode differ here too. */
  char gone[PATH_MAX + 32];
  snprintf(gone, sizeof(gone), "%s/nfsv4.unloaded", moddir);
  OK(rename(dir, gone) == 0);
  mkdir(dir, 0755);
  write_file(dir, "initstate", "live\n");
  mkdir(sections, 0755);
  write_file(sections, ".text", "0xffffffffc0a00000\n");
  OK1(kmodule_state(t.sys_module_dir, "nfsv4", after, sizeof(after), &builtin),
      "live again");
  OK1(strcmp(before, after) != 0,
      "the reload is told apart from the first load");
  return 0;
}

DEF_TEST(fentry_forced_fails_cleanly) {
  char moddir[PATH_MAX];
  tracer_t *t = NULL;

  fake_modules(moddir, sizeof(moddir));
  if (open_tracer(moddir, TRACER_ATTACH_FENTRY, &t) != 0)
    return -1;
  static const logged_t logged[] = {
      {LOG_ERR, "AttachMode \"fentry\" is not possible for module nfs (", 1,
       false, "one clear ERROR for nfs"},
      {LOG_ERR, "AttachMode \"fentry\" is not possible for module nfsv4", 1,
       false, "one clear ERROR for nfsv4"},
      {LOG_ERR, "nfs_file_read", 1, true, "the ERROR names the missing target"},
      {LOG_INFO, "attached", 0, false, "nothing attached"},
  };
  int rc = tracer_sync_modules(t);
  OK1(rc < 0, "forced fentry without module BTF returns an error");
  if (expect_logged(logged, STATIC_ARRAY_SIZE(logged)) != 0)
    return -1;
  size_t before = mock_log_count(LOG_ERR, NULL);
  tracer_sync_modules(t);
  OK1(mock_log_count(LOG_ERR, NULL) == before,
      "the failure is not logged again next interval");
  tracer_close(t);
  return 0;
}

DEF_TEST(auto_falls_back_and_kprobes_verify) {
  char moddir[PATH_MAX];
  tracer_t *t = NULL;

  fake_modules(moddir, sizeof(moddir));
  if (open_tracer(moddir, TRACER_ATTACH_AUTO, &t) != 0)
    return -1;
  static const logged_t logged[] = {
      {LOG_NOTICE, "fentry/fexit not usable for nfs", 1, false,
       "fallback to kprobes is logged once with its reason"},
      {LOG_ERR, "loading:", 0, false,
       "every kprobe/kretprobe program passed the verifier"},
      {LOG_WARNING, "attaching kprobe/kretprobe to nfs_file_read failed", 1,
       false, "attach failure (no such function here) is reported per hook"},
      {LOG_ERR, "no program could be attached", 2, false,
       "both sets end with a clear ERROR"},
  };
  EXPECT_EQ_INT(0, tracer_sync_modules(t));
  if (expect_logged(logged, STATIC_ARRAY_SIZE(logged)) != 0)
    return -1;
  tracer_close(t);
  return 0;
}

/* An NFS client built into the kernel (no /sys/module/nfs/initstate, its
 * functions untagged in kallsyms) but, on this host, absent from vmlinux's
 * BTF: every fentry program is refused on its own. AUTO must move hooks to
 * kprobes one at a time, naming each and why, not give up fentry for the
 * whole set at the first refusal. */
DEF_TEST(auto_falls_back_per_hook) {
  char moddir[PATH_MAX], dir[PATH_MAX + 32];
  tracer_t *t = NULL;
  size_t nfs_hooks = 0;
  FILE *fh;

  snprintf(moddir, sizeof(moddir), "%s/builtin", tmpdir);
  mkdir(moddir, 0755);
  snprintf(dir, sizeof(dir), "%s/nfs", moddir);
  mkdir(dir, 0755); /* parameters only: built in */
  snprintf(dir, sizeof(dir), "%s/kallsyms-builtin", tmpdir);
  fh = fopen(dir, "w");
  CHECK_NOT_NULL(fh);
  for (size_t i = 0; i < NR_HOOKS; i++) {
    fprintf(fh, "ffffffff81a%05zx t %s\n", i * 16, hooks[i].func);
    nfs_hooks += hooks[i].set == SET_NFS;
  }
  fclose(fh);
  use_kallsyms(dir);

  if (open_tracer(moddir, TRACER_ATTACH_AUTO, &t) != 0)
    return -1;
  const logged_t logged[] = {
      {LOG_NOTICE, "using kprobe/kretprobe instead", 0, false,
       "no whole-set fallback"},
      {LOG_NOTICE, "tracing it with kprobe/kretprobe instead", NR_HOOKS, false,
       "one NOTICE per hook the kernel refused, nfs and nfsv4"},
      {LOG_NOTICE,
       "fentry/fexit not usable for nfs_file_read in nfs "
       "(loading:",
       1, false, "the NOTICE names the hook and the load failure"},
      {LOG_NOTICE, "find kernel BTF type ID of 'nfs_mkdir'", 1, false,
       "and libbpf's reason"},
      {LOG_ERR, "loading:", 0, false,
       "every kprobe/kretprobe program passed the verifier"},
  };
  EXPECT_EQ_INT(0, tracer_sync_modules(t));
  if (expect_logged(logged, STATIC_ARRAY_SIZE(logged)) != 0)
    return -1;
  printf("# %zu nfs hooks, %zu in all\n", nfs_hooks, NR_HOOKS);
  tracer_close(t);
  return 0;
}

/*
 * nfs_mkdir returns struct dentry * since 6.15: the loader reads the return
 * type from the kernel's BTF and picks the fexit program the verifier
 * accepts for it (fexit_nfs_mkdir_dentry for a pointer). This host cannot
 * load tracing programs at all, so the load itself is proven in the VM lab
 * (the sid cells); here the choice, with functions whose return type is
 * the same on every kernel: d_make_root (struct dentry *) and vfs_rmdir
 * (int).
 */
DEF_TEST(mkdir_exit_program_follows_the_btf_return_type) {
  struct btf *vmlinux = btf__load_vmlinux_btf();
  struct bpf_program *en = NULL, *ex = NULL;
  tracer_t fake_tracer;
  size_t mkdir_hook = NR_HOOKS;

  CHECK_NOT_NULL(vmlinux);
  for (size_t i = 0; i < NR_HOOKS; i++)
    if (strcmp(hooks[i].func, "nfs_mkdir") == 0)
      mkdir_hook = i;
  OK(mkdir_hook < NR_HOOKS);
  EXPECT_EQ_INT(NFS_RET_PTR, (int)btf_ret_kind(vmlinux, "d_make_root"));
  EXPECT_EQ_INT(NFS_RET_INT, (int)btf_ret_kind(vmlinux, "vfs_rmdir"));
  EXPECT_EQ_INT(NFS_RET_UNKNOWN,
                (int)btf_ret_kind(vmlinux, "no_such_function_here"));
  struct nfs_ebpf *skel = nfs_ebpf__open();
  CHECK_NOT_NULL(skel);
  memset(&fake_tracer, 0, sizeof(fake_tracer));
  fake_tracer.mkdir_ret_kind = btf_ret_kind(vmlinux, "d_make_root");
  hook_progs(&fake_tracer, skel, mkdir_hook, MODE_FENTRY, &en, &ex);
  CHECK_NOT_NULL(ex);
  EXPECT_EQ_STR("fexit_nfs_mkdir_dentry", bpf_program__name(ex));
  EXPECT_EQ_STR("fentry_nfs_mkdir", bpf_program__name(en));
  fake_tracer.mkdir_ret_kind = btf_ret_kind(vmlinux, "vfs_rmdir");
  hook_progs(&fake_tracer, skel, mkdir_hook, MODE_FENTRY, &en, &ex);
  EXPECT_EQ_STR("fexit_nfs_mkdir", bpf_program__name(ex));
  hook_progs(&fake_tracer, skel, mkdir_hook, MODE_KPROBE, &en, &ex);
  EXPECT_EQ_STR("kretprobe_nfs_mkdir", bpf_program__name(ex));
  OK1(hook_of_prog("fexit_nfs_mkdir_dentry") == (int)mkdir_hook,
      "a refused variant is traced back to its hook");

  /* What the user is told when the verifier refuses one: libbpf's
   * first warning names the program, its log ends with the reason
   * (as 7.x logged it for the int variant) and statistics. */
  libbpf_reset_warnings();
  libbpf_note_warning("libbpf: prog 'fexit_nfs_mkdir': BPF program load "
                      "failed: Permission denied");
  libbpf_note_warning(
      "libbpf: prog 'fexit_nfs_mkdir': -- BEGIN PROG LOAD LOG --\n"
      "0: R1=ctx() R10=fp0\n; int fexit_nfs_mkdir(__u64 *ctx)\n"
      "12: (77) r1 >>= 32\n"
      "R1 bitwise operator >>= on pointer prohibited\n"
      "processed 13 insns (limit 1000000) max_states_per_insn 0 "
      "total_states 1 peak_states 1 mark_read 1\n"
      "-- END PROG LOAD LOG --");
  EXPECT_EQ_STR("fexit_nfs_mkdir", libbpf_failed_prog);
  EXPECT_EQ_STR("R1 bitwise operator >>= on pointer prohibited",
                libbpf_verifier_reason);
  OK(hook_of_prog(libbpf_failed_prog) == (int)mkdir_hook);
  libbpf_reset_warnings();
  nfs_ebpf__destroy(skel);
  btf__free(vmlinux);
  return 0;
}

/* ---- data path with kprobes on look-alike local functions ---- */

static __u64 expected_cgroup_v2(void) {
  char line[4096], mnt[PATH_MAX] = "", cg[PATH_MAX] = "", path[2 * PATH_MAX];
  struct stat st;
  FILE *fh = fopen("/proc/self/mountinfo", "r");

  while (fh && fgets(line, sizeof(line), fh)) {
    char m[PATH_MAX], fstype[64];
    char *sep = strstr(line, " - ");
    if (sep && sscanf(sep, " - %63s", fstype) == 1 &&
        strcmp(fstype, "cgroup2") == 0 &&
        sscanf(line, "%*s %*s %*s %*s %4095s", m) == 1) {
      sstrncpy(mnt, m, sizeof(mnt));
      break;
    }
  }
  if (fh)
    fclose(fh);
  fh = fopen("/proc/self/cgroup", "r");
  while (fh && fgets(line, sizeof(line), fh)) {
    if (strncmp(line, "0::", 3) == 0) {
      sstrncpy(cg, line + 3, sizeof(cg));
      cg[strcspn(cg, "\n")] = '\0';
    }
  }
  if (fh)
    fclose(fh);
  if (mnt[0] == '\0')
    return 0;
  snprintf(path, sizeof(path), "%s%s", mnt, cg);
  return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* This process's cgroup id in the v1 hierarchy of a controller mounted at
 * /sys/fs/cgroup/<controller>; false when there is none. */
static bool expected_cgroup_v1(const char *controller, __u64 *id) {
  char line[4096], path[2 * PATH_MAX], cg[PATH_MAX] = "", tag[64];
  struct stat st;
  FILE *fh = fopen("/proc/self/cgroup", "r");

  snprintf(tag, sizeof(tag), ":%s:", controller);
  while (fh && fgets(line, sizeof(line), fh)) {
    char *p = strstr(line, tag);
    if (p) {
      sstrncpy(cg, p + strlen(tag), sizeof(cg));
      cg[strcspn(cg, "\n")] = '\0';
    }
  }
  if (fh)
    fclose(fh);
  snprintf(path, sizeof(path), "/sys/fs/cgroup/%s%s", controller, cg);
  if (cg[0] == '\0' || stat(path, &st) != 0)
    return false;
  *id = st.st_ino;
  return true;
}

/*
 * Stand-ins for the NFS functions, in this program: the kprobe/kretprobe
 * twins are attached to them as uprobes (same program type, same pt_regs),
 * which works on a kernel without NFS and even without kprobes. Argument
 * pointers are user memory, which the programs' kernel reads cannot follow:
 * the device is recorded as 0. Everything else (count, latency, buckets,
 * bytes, errno, cgroup id, lost events, atomic-open rules) is real.
 * unsigned long returns put exactly the given value in the return register,
 * including the "undefined" upper half of an int.
 */
#define LOOKALIKE __attribute__((noinline, noclone, used))
#pragma GCC diagnostic ignored "-Wunused-parameter"
LOOKALIKE unsigned long la_read(void *iocb, void *iter, unsigned long rax) {
  __asm__ volatile("" ::: "memory");
  return rax;
}
LOOKALIKE unsigned long la_fsync(void *file, long s, long e,
                                 unsigned long rax) {
  __asm__ volatile("" ::: "memory");
  return rax + 0 * (s + e);
}
LOOKALIKE unsigned long la_lookup(void *dir, void *dentry, unsigned long rax) {
  __asm__ volatile("" ::: "memory");
  return rax;
}
LOOKALIKE unsigned long la_mkdir(void *idmap, void *dir, unsigned long rax) {
  __asm__ volatile("" ::: "memory");
  return rax;
}
LOOKALIKE unsigned long la_file_open(void *inode, void *file,
                                     unsigned long rax) {
  __asm__ volatile("" ::: "memory");
  return rax;
}
LOOKALIKE unsigned long la_atomic_open(void *dir, void *dentry, void *file,
                                       int inner, unsigned long rax) {
  __asm__ volatile("" ::: "memory");
  if (inner)
    la_file_open(dir, file, 0);
  return rax;
}
LOOKALIKE unsigned long la_rmdir(void *dir, void *dentry) {
  __asm__ volatile("" ::: "memory");
  return 0;
}
LOOKALIKE unsigned long la_unlink(void *dir, void *dentry) {
  __asm__ volatile("" ::: "memory");
  return 1;
}

/* A call that sleeps until the test lets it return (a hard mount whose
 * server is away): it says it is inside (its entry probe has run by then)
 * and waits for one byte on fd. */
static int write_entered;
LOOKALIKE unsigned long la_write(void *iocb, void *iter, int fd) {
  char c;

  __atomic_add_fetch(&write_entered, 1, __ATOMIC_SEQ_CST);
  return read(fd, &c, 1) == 1 ? 10 : (unsigned long)(long)-EIO;
}

#define ERRPTR(e) ((unsigned long)(long)(e))
#define INT_ZEXT(e) ((unsigned long)(unsigned int)(int)(e))

typedef struct {
  const char *prog;
  const char *func;
  bool retprobe;
} probe_t;

static const probe_t probes[] = {
    {"kretprobe_nfs_file_read", "la_read", true},
    {"kprobe_nfs_file_read", "la_read", false},
    {"kretprobe_nfs_file_fsync", "la_fsync", true},
    {"kprobe_nfs_file_fsync", "la_fsync", false},
    {"kretprobe_nfs_lookup", "la_lookup", true},
    {"kprobe_nfs_lookup", "la_lookup", false},
    {"kretprobe_nfs_mkdir", "la_mkdir", true},
    {"kprobe_nfs_mkdir", "la_mkdir", false},
    {"kretprobe_nfs_file_open", "la_file_open", true},
    {"kprobe_nfs_file_open", "la_file_open", false},
    {"kretprobe_nfs_atomic_open", "la_atomic_open", true},
    {"kprobe_nfs_atomic_open", "la_atomic_open", false},
    /* only the return: every call is a missed entry */
    {"kretprobe_nfs_rmdir", "la_rmdir", true},
    /* only the entry: every call after the first finds a missed return */
    {"kprobe_nfs_unlink", "la_unlink", false},
    {"kretprobe_nfs_file_write", "la_write", true},
    {"kprobe_nfs_file_write", "la_write", false},
};
#define NR_PROBES (sizeof(probes) / sizeof(probes[0]))

/* How load_lookalikes sets the stand-ins' programs up. */
typedef struct {
  /* share the maps of this tracer (and so its thread-exit reaper);
   * NULL: maps of their own */
  tracer_t *t;
  const __u64 *bounds;
  __u32 nr_bounds;
  __u32 controller;
  /* entries of op_starts, start_refused, op_stats, op_errors (0: as
   * the program defines them) */
  __u32 starts_size, refused_size, stats_size, errors_size;
  /* start records in task_starts instead of op_starts (with t: t's) */
  bool starts_in_task;
} lookalikes_t;

static void set_max_entries(struct bpf_map *map, __u32 size) {
  if (size > 0)
    bpf_map__set_max_entries(map, size);
}

/* The stand-ins' programs, loaded and attached as o says. */
static struct nfs_ebpf *load_lookalikes(const lookalikes_t *o,
                                        struct bpf_link **links) {
  struct nfs_ebpf *skel = nfs_ebpf__open();
  struct bpf_program *prog;

  if (skel == NULL)
    return NULL;
  if (o->t != NULL && share_maps(o->t, skel) != 0) {
    nfs_ebpf__destroy(skel);
    return NULL;
  }
  set_max_entries(skel->maps.op_starts, o->starts_size);
  set_max_entries(skel->maps.start_refused, o->refused_size);
  set_max_entries(skel->maps.op_stats, o->stats_size);
  set_max_entries(skel->maps.op_errors, o->errors_size);
  for (__u32 i = 0; i < o->nr_bounds; i++)
    skel->rodata->bucket_bounds_ns[i] = o->bounds[i];
  skel->rodata->nr_buckets = o->nr_bounds;
  skel->rodata->cgroup_controller = o->controller;
  set_start_store(skel,
                  o->t != NULL ? o->t->starts_in_task : o->starts_in_task);
  bpf_object__for_each_program(prog, skel->obj)
      bpf_program__set_autoload(prog, false);
  for (size_t i = 0; i < NR_PROBES; i++)
    bpf_program__set_autoload(
        bpf_object__find_program_by_name(skel->obj, probes[i].prog), true);
  if (nfs_ebpf__load(skel) != 0) {
    fprintf(stderr, "# loading the kprobe programs failed\n");
    nfs_ebpf__destroy(skel);
    return NULL;
  }
  for (size_t i = 0; i < NR_PROBES; i++) {
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = probes[i].func,
                .retprobe = probes[i].retprobe);
    links[i] = bpf_program__attach_uprobe_opts(
        bpf_object__find_program_by_name(skel->obj, probes[i].prog), getpid(),
        "/proc/self/exe", 0, &opts);
    if (links[i] == NULL) {
      fprintf(stderr, "# uprobe %s on %s failed: %s\n", probes[i].prog,
              probes[i].func, strerror(errno));
      for (size_t j = 0; j < i; j++)
        bpf_link__destroy(links[j]);
      nfs_ebpf__destroy(skel);
      return NULL;
    }
  }
  return skel;
}

static void unload_lookalikes(struct nfs_ebpf *skel, struct bpf_link **links) {
  for (size_t i = 0; i < NR_PROBES; i++)
    bpf_link__destroy(links[i]);
  nfs_ebpf__destroy(skel);
}

static int stats_of(struct nfs_ebpf *skel, __u64 cg, __u32 op,
                    struct op_stats *out) {
  struct op_key key = {.cgroup_id = cg, .dev = 0, .op = op};
  memset(out, 0, sizeof(*out));
  return bpf_map__lookup_elem(skel->maps.op_stats, &key, sizeof(key), out,
                              sizeof(*out), 0);
}

static __u64 errors_of(struct nfs_ebpf *skel, __u64 cg, __u32 op, int err) {
  struct err_key ek = {.cgroup_id = cg, .dev = 0, .op = op, .err = err};
  __u64 n = 0;
  if (bpf_map__lookup_elem(skel->maps.op_errors, &ek, sizeof(ek), &n, sizeof(n),
                           0) != 0)
    return 0;
  return n;
}

static __u64 lost_of(struct nfs_ebpf *skel, __u32 reason) {
  __u64 n = 0;
  bpf_map__lookup_elem(skel->maps.lost_events, &reason, sizeof(reason), &n,
                       sizeof(n), 0);
  return n;
}

/* Records in op_starts, by walking it (nothing else touches it here). */
static int starts_in_map(int fd) {
  struct start_key key, next;
  int n = 0;

  for (const struct start_key *prev = NULL;
       bpf_map_get_next_key(fd, prev, &next) == 0 && n < 100000; prev = &key) {
    key = next;
    n++;
  }
  return n;
}

/* How often a program ran and was skipped, for the TAP log (needs the
 * run-time statistics, enabled in main). */
static void diag_prog(struct nfs_ebpf *skel, const char *name) {
  struct bpf_prog_info info;
  __u32 len = sizeof(info);

  memset(&info, 0, sizeof(info));
  if (bpf_obj_get_info_by_fd(
          bpf_program__fd(bpf_object__find_program_by_name(skel->obj, name)),
          &info, &len) == 0)
    printf("# %s: run_cnt %llu, recursion_misses %llu\n", name,
           (unsigned long long)info.run_cnt,
           (unsigned long long)info.recursion_misses);
}

/* Every return kind, atomic open and the lost-event counts, with the start
 * records in op_starts (5.10) or in task-local storage (5.12+). */
static int data_path_v2(bool starts_in_task) {
  const __u64 bounds[] = {1, 2, 60000000000ULL};
  struct bpf_link *links[NR_PROBES] = {0};
  struct op_stats s;
  char fake[64];
  __u64 cg = expected_cgroup_v2();

  OK1(cg != 0, "found this process's cgroup v2 directory");
  struct nfs_ebpf *skel =
      load_lookalikes(&(lookalikes_t){.bounds = bounds,
                                      .nr_bounds = 3,
                                      .controller = NFS_CGROUP_V2,
                                      .starts_in_task = starts_in_task},
                      links);
  CHECK_NOT_NULL(skel);

  /* read: ssize_t, bytes on success, errno on failure */
  for (int i = 0; i < 3; i++)
    la_read(fake, fake, 100);
  la_read(fake, fake, 0);
  la_read(fake, fake, ERRPTR(-EIO));
  /* -EIOCBQUEUED: asynchronous direct I/O queued, not an error */
  la_read(fake, fake, ERRPTR(-529));
  EXPECT_EQ_INT(0, stats_of(skel, cg, NFS_OP_READ, &s));
  EXPECT_EQ_UINT64(6, s.count);
  EXPECT_EQ_UINT64(300, s.bytes);
  OK1(s.latency_ns > 0, "latency summed");
  EXPECT_EQ_UINT64(0, s.buckets[0]);
  EXPECT_EQ_UINT64(0, s.buckets[1]);
  EXPECT_EQ_UINT64(6, s.buckets[2]);
  EXPECT_EQ_UINT64(0, s.buckets[3]);
  EXPECT_EQ_UINT64(1, errors_of(skel, cg, NFS_OP_READ, EIO));
  EXPECT_EQ_UINT64(0, errors_of(skel, cg, NFS_OP_READ, 529));

  /* fsync: int; only the low half of the register counts */
  la_fsync(fake, 0, 0, 0);
  la_fsync(fake, 0, 0, 0x1234567800000000UL); /* int 0: success */
  la_fsync(fake, 0, 0, INT_ZEXT(-EINTR));     /* zero-extended -4 */
  la_fsync(fake, 0, 0, ERRPTR(-EINTR));       /* sign-extended -4 */
  EXPECT_EQ_INT(0, stats_of(skel, cg, NFS_OP_FSYNC, &s));
  EXPECT_EQ_UINT64(4, s.count);
  EXPECT_EQ_UINT64(0, s.bytes);
  EXPECT_EQ_UINT64(2, errors_of(skel, cg, NFS_OP_FSYNC, EINTR));

  /* lookup: struct dentry * (NULL or a dentry is success) */
  la_lookup(fake, fake, 0);
  la_lookup(fake, fake, 0xffff888812345678UL);
  la_lookup(fake, fake, ERRPTR(-ENOENT));
  la_lookup(fake, fake, INT_ZEXT(-ENOENT)); /* not an ERR_PTR */
  EXPECT_EQ_INT(0, stats_of(skel, cg, NFS_OP_LOOKUP, &s));
  EXPECT_EQ_UINT64(4, s.count);
  EXPECT_EQ_UINT64(1, errors_of(skel, cg, NFS_OP_LOOKUP, ENOENT));

  /* mkdir: int before 6.15, struct dentry * since */
  la_mkdir(fake, fake, 0);
  la_mkdir(fake, fake, 0xffff888812345678UL);
  la_mkdir(fake, fake, ERRPTR(-ENOMEM));
  la_mkdir(fake, fake, INT_ZEXT(-EEXIST));
  EXPECT_EQ_INT(0, stats_of(skel, cg, NFS_OP_MKDIR, &s));
  EXPECT_EQ_UINT64(4, s.count);
  EXPECT_EQ_UINT64(1, errors_of(skel, cg, NFS_OP_MKDIR, ENOMEM));
  EXPECT_EQ_UINT64(1, errors_of(skel, cg, NFS_OP_MKDIR, EEXIST));

  /* open: atomic_open counted only when nothing inside counted it */
  la_atomic_open(fake, fake, fake, 0, INT_ZEXT(-ENOENT)); /* failed */
  EXPECT_EQ_INT(0, stats_of(skel, cg, NFS_OP_OPEN, &s));
  EXPECT_EQ_UINT64(1, s.count);
  EXPECT_EQ_UINT64(1, errors_of(skel, cg, NFS_OP_OPEN, ENOENT));
  la_atomic_open(fake, fake, fake, 1, 0); /* ->open ran inside */
  EXPECT_EQ_INT(0, stats_of(skel, cg, NFS_OP_OPEN, &s));
  OK1(s.count == 2, "an atomic open that called ->open is counted once");
  la_atomic_open(fake, fake, fake, 0, 0); /* finish_no_open: not opened */
  la_atomic_open(fake, fake, fake, 1, INT_ZEXT(-EIO));
  EXPECT_EQ_INT(0, stats_of(skel, cg, NFS_OP_OPEN, &s));
  OK1(s.count == 3, "no open counted for finish_no_open, one for the inner "
                    "->open of a failing atomic open");
  EXPECT_EQ_UINT64(0, errors_of(skel, cg, NFS_OP_OPEN, EIO));
  la_file_open(fake, fake, 0);
  EXPECT_EQ_INT(0, stats_of(skel, cg, NFS_OP_OPEN, &s));
  EXPECT_EQ_UINT64(4, s.count);

  /* lost events */
  EXPECT_EQ_UINT64(0, lost_of(skel, NFS_LOST_MISSED_ENTRY));
  EXPECT_EQ_UINT64(0, lost_of(skel, NFS_LOST_MISSED_RETURN));
  la_rmdir(fake, fake);
  la_rmdir(fake, fake);
  la_unlink(fake, fake);
  la_unlink(fake, fake);
  la_unlink(fake, fake);
  diag_prog(skel, "kprobe_nfs_unlink");
  diag_prog(skel, "kretprobe_nfs_rmdir");
  printf("# op_starts holds %d records; lost",
         starts_in_map(bpf_map__fd(skel->maps.op_starts)));
  for (__u32 r = 0; r < NFS_LOST_MAX; r++)
    printf(" %llu", (unsigned long long)lost_of(skel, r));
  printf("\n");
  EXPECT_EQ_UINT64(2, lost_of(skel, NFS_LOST_MISSED_ENTRY));
  EXPECT_EQ_UINT64(2, lost_of(skel, NFS_LOST_MISSED_RETURN));
  OK1(stats_of(skel, cg, NFS_OP_RMDIR, &s) != 0,
      "a return without entry is not counted as an operation");
  EXPECT_EQ_UINT64(0, lost_of(skel, NFS_LOST_START_MAP_FULL));
  EXPECT_EQ_UINT64(0, lost_of(skel, NFS_LOST_STATS_MAP_FULL));
  EXPECT_EQ_UINT64(0, lost_of(skel, NFS_LOST_ERRORS_MAP_FULL));
  /* the unlink entry left in flight is in the store in use only */
  EXPECT_EQ_INT(starts_in_task ? 0 : 1,
                starts_in_map(bpf_map__fd(skel->maps.op_starts)));
  unload_lookalikes(skel, links);
  return 0;
}

DEF_TEST(data_path_v2_op_starts) { return data_path_v2(false); }

/* Whether the running kernel is at least major.minor. */
static bool kernel_at_least(int major, int minor) {
  struct utsname u;
  int ma = 0, mi = 0;

  if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
    return false;
  return ma > major || (ma == major && mi >= minor);
}

/* The loader's probe for task storage in tracing programs: there on every
 * kernel since 6.0, absent before 5.11 (Debian's 5.10 has op_starts only).
 * Where it is there, the data path with records in it. */
DEF_TEST(data_path_v2_task_storage) {
  bool usable = task_storage_usable();

  printf("# task-local storage for tracing programs: %s\n",
         usable ? "yes" : "no");
  if (kernel_at_least(6, 0))
    OK1(usable, "task storage usable by tracing programs on 6.0+");
  if (!kernel_at_least(5, 11))
    OK1(!usable, "no task storage for tracing programs before 5.11");
  if (!usable)
    return 0;
  return data_path_v2(true);
}

DEF_TEST(data_path_full_maps) {
  const __u64 bounds[] = {60000000000ULL};
  struct bpf_link *links[NR_PROBES] = {0};
  char fake[64];

  /* Room for one key per map: a second op or errno is lost. */
  struct nfs_ebpf *skel =
      load_lookalikes(&(lookalikes_t){.bounds = bounds,
                                      .nr_bounds = 1,
                                      .controller = NFS_CGROUP_V2,
                                      .stats_size = 1,
                                      .errors_size = 1},
                      links);
  CHECK_NOT_NULL(skel);
  la_read(fake, fake, ERRPTR(-EIO));
  la_read(fake, fake, ERRPTR(-EAGAIN)); /* second errno key: no room */
  la_fsync(fake, 0, 0, 0);              /* second stats key: no room */
  EXPECT_EQ_UINT64(1, lost_of(skel, NFS_LOST_STATS_MAP_FULL));
  EXPECT_EQ_UINT64(1, lost_of(skel, NFS_LOST_ERRORS_MAP_FULL));
  unload_lookalikes(skel, links);
  return 0;
}

/* The v1 path for the memory and the pids controller: the program takes
 * each one's css_set.subsys[] index from the kernel's enum cgroup_subsys_id
 * (pids is where a /proc/cgroups line count goes wrong on 6.12+). */
DEF_TEST(data_path_above_last_bucket_and_v1) {
  static const struct {
    const char *name;
    __u32 controller;
  } v1[] = {{"memory", NFS_CGROUP_V1_MEMORY}, {"pids", NFS_CGROUP_V1_PIDS}};
  const __u64 bounds[] = {1};

  for (size_t c = 0; c < sizeof(v1) / sizeof(v1[0]); c++) {
    struct bpf_link *links[NR_PROBES] = {0};
    struct op_stats s;
    char fake[64];
    __u64 cg = 0;
    bool mounted = expected_cgroup_v1(v1[c].name, &cg);

    if (!mounted)
      printf("# no cgroup v1 %s hierarchy mounted: the v1 id is "
             "not compared, the v1 code path still runs\n",
             v1[c].name);
    struct nfs_ebpf *skel = load_lookalikes(
        &(lookalikes_t){
            .bounds = bounds, .nr_bounds = 1, .controller = v1[c].controller},
        links);
    CHECK_NOT_NULL(skel);
    la_fsync(fake, 0, 0, 0);
    la_fsync(fake, 0, 0, 0);
    if (mounted) {
      printf("# %s: expecting cgroup id %llu\n", v1[c].name,
             (unsigned long long)cg);
      OK1(stats_of(skel, cg, NFS_OP_FSYNC, &s) == 0,
          "keyed by the v1 cgroup's id of the controller");
    } else {
      struct op_key next;
      OK(bpf_map__get_next_key(skel->maps.op_stats, NULL, &next,
                               sizeof(next)) == 0);
      EXPECT_EQ_INT(0, stats_of(skel, next.cgroup_id, NFS_OP_FSYNC, &s));
    }
    EXPECT_EQ_UINT64(2, s.count);
    OK1(s.buckets[0] == 0 && s.buckets[1] == 0,
        "latency above the last bound counts only in count (+Inf)");
    unload_lookalikes(skel, links);
  }
  return 0;
}

typedef struct {
  int fd;
  unsigned long ret;
} writer_t;

static void *writer_main(void *arg) {
  writer_t *w = arg;
  char fake[64];

  w->ret = la_write(fake, fake, w->fd);
  return NULL;
}

static void *unlinker_main(void *arg) {
  char fake[64];

  *(pid_t *)arg = (pid_t)syscall(SYS_gettid);
  la_unlink(fake, fake); /* entry only: its return is never seen */
  return NULL;
}

/* pthread_join returns when the kernel clears the thread's tid, before
 * the exit tracepoint runs; the thread leaves /proc after it. */
static void wait_thread_gone(pid_t tid) {
  char path[64];

  snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
  while (access(path, F_OK) == 0)
    usleep(1000);
}

/* Start n writers that sleep inside la_write until a byte per writer
 * arrives on pipefd[0]; returns when all of them are inside. */
static void start_writers(pthread_t *th, writer_t *w, int n, int pipefd[2]) {
  __atomic_store_n(&write_entered, 0, __ATOMIC_SEQ_CST);
  for (int i = 0; i < n; i++) {
    w[i].fd = pipefd[0];
    pthread_create(&th[i], NULL, writer_main, &w[i]);
  }
  while (__atomic_load_n(&write_entered, __ATOMIC_SEQ_CST) < n)
    usleep(1000);
}

static void finish_writers(pthread_t *th, int n, int pipefd[2]) {
  for (int i = 0; i < n; i++)
    if (write(pipefd[1], "x", 1) != 1)
      abort();
  for (int i = 0; i < n; i++)
    pthread_join(th[i], NULL);
}

/* Every call whose entry found op_starts full is lost exactly once: as
 * start_map_full at entry while there is room for its mark, otherwise as
 * missed_entry at its return, never both. */
DEF_TEST(full_start_map_counts_each_call_once) {
  const __u64 bounds[] = {60000000000ULL};
  struct bpf_link *links[NR_PROBES] = {0};
  pthread_t th[4];
  writer_t w[4];
  int pipefd[2];
  struct op_stats s;
  __u64 cg = expected_cgroup_v2();

  /* Two calls fit in op_starts, one more in start_refused. */
  struct nfs_ebpf *skel =
      load_lookalikes(&(lookalikes_t){.bounds = bounds,
                                      .nr_bounds = 1,
                                      .controller = NFS_CGROUP_V2,
                                      .starts_size = 2,
                                      .refused_size = 1},
                      links);
  CHECK_NOT_NULL(skel);
  EXPECT_EQ_INT(0, pipe(pipefd));
  start_writers(th, w, 4, pipefd);
  EXPECT_EQ_INT(2, starts_in_map(bpf_map__fd(skel->maps.op_starts)));
  EXPECT_EQ_UINT64(1, lost_of(skel, NFS_LOST_START_MAP_FULL));
  finish_writers(th, 4, pipefd);

  EXPECT_EQ_INT(0, stats_of(skel, cg, NFS_OP_WRITE, &s));
  EXPECT_EQ_UINT64(2, s.count);
  EXPECT_EQ_UINT64(20, s.bytes);
  EXPECT_EQ_UINT64(1, lost_of(skel, NFS_LOST_START_MAP_FULL));
  EXPECT_EQ_UINT64(1, lost_of(skel, NFS_LOST_MISSED_ENTRY));
  EXPECT_EQ_UINT64(0, lost_of(skel, NFS_LOST_MISSED_RETURN));
  OK1(s.count + lost_of(skel, NFS_LOST_START_MAP_FULL) +
              lost_of(skel, NFS_LOST_MISSED_ENTRY) ==
          4,
      "four calls, four outcomes");
  EXPECT_EQ_INT(0, starts_in_map(bpf_map__fd(skel->maps.op_starts)));
  EXPECT_EQ_INT(0, starts_in_map(bpf_map__fd(skel->maps.start_refused)));
  close(pipefd[0]);
  close(pipefd[1]);
  unload_lookalikes(skel, links);
  return 0;
}

/*
 * A call in flight stays in flight for as long as it takes (a hard mount
 * whose server is away): nothing removes its record, and when it returns
 * it is counted once, with its whole latency. A record whose return was
 * not seen is counted once, as missed_return, when its thread exits, and
 * leaves the map. Nothing here depends on the clock or the uptime.
 */
static int in_flight_kept_and_exited_threads_reaped(bool hash_only) {
  const __u64 bounds[] = {60000000000ULL};
  struct bpf_link *links[NR_PROBES] = {0};
  tracer_t *t = NULL;
  uint64_t lost[NFS_LOST_MAX];
  pthread_t th[1], un;
  writer_t w[1];
  int pipefd[2];
  struct op_stats s;
  struct timespec a, b;
  __u64 cg = expected_cgroup_v2();

  tracer_starts_in_hash_only = hash_only;
  int status = open_tracer(no_modules(), TRACER_ATTACH_AUTO, &t);
  tracer_starts_in_hash_only = false;
  if (status != 0)
    return -1;
  OK1(t->starts_in_task == (!hash_only && task_storage_usable()),
      hash_only ? "start records in op_starts, as asked"
                : "start records in task storage where the kernel has it");
  /* what op_starts holds while the writer is in flight */
  int in_flight = t->starts_in_task ? 0 : 1;
  OK1(t->reaper != NULL, "thread-exit reaper attached");
  OK1(mock_log_count(LOG_WARNING, "sched_process_exit") == 0,
      "no warning about the reaper");
  struct nfs_ebpf *skel =
      load_lookalikes(&(lookalikes_t){.t = t,
                                      .bounds = bounds,
                                      .nr_bounds = 1,
                                      .controller = NFS_CGROUP_V2},
                      links);
  CHECK_NOT_NULL(skel);
  int starts = bpf_map__fd(t->base->maps.op_starts);

  EXPECT_EQ_INT(0, pipe(pipefd));
  start_writers(th, w, 1, pipefd);
  clock_gettime(CLOCK_MONOTONIC, &a);
  EXPECT_EQ_INT(in_flight, starts_in_map(starts));

  /* Another thread leaves a record and exits: counted once, removed;
   * the sleeping writer's record stays. */
  pid_t un_tid = 0;
  pthread_create(&un, NULL, unlinker_main, &un_tid);
  pthread_join(un, NULL);
  wait_thread_gone(un_tid);
  printf("# after the exit: %d records\n", starts_in_map(starts));
  diag_prog(skel, "kprobe_nfs_unlink");
  diag_prog(t->base, "reap_exited_thread");
  EXPECT_EQ_INT(0, tracer_read_lost(t, lost));
  EXPECT_EQ_UINT64(1, lost[NFS_LOST_MISSED_RETURN]);
  EXPECT_EQ_INT(in_flight, starts_in_map(starts));
  /* Intervals go by: reading never touches calls in flight. */
  for (int i = 0; i < 3; i++)
    EXPECT_EQ_INT(0, tracer_read_lost(t, lost));
  EXPECT_EQ_INT(in_flight, starts_in_map(starts));

  clock_gettime(CLOCK_MONOTONIC, &b);
  finish_writers(th, 1, pipefd);
  EXPECT_EQ_UINT64(10, w[0].ret);
  EXPECT_EQ_INT(0, stats_of(skel, cg, NFS_OP_WRITE, &s));
  EXPECT_EQ_UINT64(1, s.count);
  /* The probes ran before a and after b. */
  uint64_t slept = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ULL +
                   (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
  OK1(s.latency_ns >= slept, "counted with its whole latency");
  EXPECT_EQ_INT(0, starts_in_map(starts));

  EXPECT_EQ_INT(0, tracer_read_lost(t, lost));
  EXPECT_EQ_UINT64(1, lost[NFS_LOST_MISSED_RETURN]);
  EXPECT_EQ_UINT64(0, lost[NFS_LOST_MISSED_ENTRY]);
  EXPECT_EQ_UINT64(0, lost[NFS_LOST_START_MAP_FULL]);
  close(pipefd[0]);
  close(pipefd[1]);
  unload_lookalikes(skel, links);
  tracer_close(t);
  return 0;
}

DEF_TEST(in_flight_op_starts) {
  return in_flight_kept_and_exited_threads_reaped(true);
}

DEF_TEST(in_flight_task_storage) {
  return in_flight_kept_and_exited_threads_reaped(false);
}

int main(void) {
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  /* Run counts for diagnostics; stays on while the fd is open. */
  int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  RUN_TEST(environment);
  RUN_TEST(bad_config);
  RUN_TEST(open_and_absent_module);
  RUN_TEST(fentry_forced_fails_cleanly);
  RUN_TEST(auto_falls_back_and_kprobes_verify);
  RUN_TEST(auto_falls_back_per_hook);
  RUN_TEST(mkdir_exit_program_follows_the_btf_return_type);
  RUN_TEST(reload_at_the_same_address_is_a_new_load);
  RUN_TEST(data_path_v2_op_starts);
  RUN_TEST(data_path_v2_task_storage);
  RUN_TEST(data_path_full_maps);
  RUN_TEST(data_path_above_last_bucket_and_v1);
  RUN_TEST(full_start_map_counts_each_call_once);
  RUN_TEST(in_flight_op_starts);
  RUN_TEST(in_flight_task_storage);
  if (stats_fd >= 0)
    close(stats_fd);
  END_TEST;
}
