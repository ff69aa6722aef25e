/*
 * Loader of the nfs_ebpf BPF object (see tracer.h).
 *
 * The module problem: fentry/fexit programs resolve their target in the
 * target module's BTF when they are LOADED, and nfsv4.ko is only loaded at
 * the first NFSv4 mount, possibly hours after nfs.ko. So the object is
 * opened several times:
 *   - a "base" instance with no programs, which only creates the maps and
 *     lives until tracer_close (so counters survive module reloads);
 *   - one instance per module set (nfs, nfsv4), loaded when that module
 *     appears, with only its own programs autoloaded and the base maps
 *     shared through bpf_map__reuse_fd().
 * Each set is tried with fentry/fexit first (AUTO), then kprobe/kretprobe;
 * which one works is decided by trying, never from the kernel version.
 */
#include "collectd_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kmodule.h"
#include "nfs_ebpf.skel.h"
#include "tracer.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define TRACER_BTF_VMLINUX "/sys/kernel/btf/vmlinux"

enum { SET_NFS, SET_NFSV4, SET_MAX };

static const char *const set_modules[SET_MAX] = {"nfs", "nfsv4"};

/* One traced function: its programs are <kind>_<func> in nfs_ebpf.bpf.c.
 * A function whose return type changed between kernels has a second fexit
 * program, fexit_<ptr_exit>, for kernels whose BTF says it returns a
 * pointer (see core_fixes.bpf.h). */
typedef struct {
  const char *func;
  int set;
  bool optional; /* absent on some kernels: no warning when missing */
  const char *ptr_exit;
} tracer_hook_t;

static const tracer_hook_t hooks[] = {
    {"nfs_file_read", SET_NFS, false, NULL},
    {"nfs_file_splice_read", SET_NFS, true, NULL}, /* 6.5+ */
    {"nfs_file_write", SET_NFS, false, NULL},
    {"nfs_file_open", SET_NFS, false, NULL},
    {"nfs_atomic_open", SET_NFS, false, NULL},
    {"nfs_atomic_open_v23", SET_NFS, true, NULL}, /* newer than 6.1 */
    {"nfs_file_flush", SET_NFS, false, NULL},
    {"nfs_file_fsync", SET_NFS, false, NULL},
    {"nfs_getattr", SET_NFS, false, NULL},
    {"nfs_setattr", SET_NFS, false, NULL},
    {"nfs_lookup", SET_NFS, false, NULL},
    {"nfs_readdir", SET_NFS, false, NULL},
    {"nfs_create", SET_NFS, false, NULL},
    {"nfs_unlink", SET_NFS, false, NULL},
    {"nfs_rename", SET_NFS, false, NULL},
    {"nfs_mkdir", SET_NFS, false, "nfs_mkdir_dentry"}, /* 6.15+ */
    {"nfs_rmdir", SET_NFS, false, NULL},
    {"nfs4_file_open", SET_NFSV4, false, NULL},
    {"nfs4_file_flush", SET_NFSV4, false, NULL},
};
#define NR_HOOKS (sizeof(hooks) / sizeof(hooks[0]))

typedef enum { MODE_NONE, MODE_FENTRY, MODE_KPROBE } tracer_mode_t;

static const char *mode_name(tracer_mode_t m) {
  return m == MODE_FENTRY ? "fentry" : "kprobe";
}

typedef struct {
  struct nfs_ebpf *skel;
  struct bpf_link *links[2 * NR_HOOKS];
  int nlinks;
  /* What was attached to: the module's .text address (changes when it
   * is reloaded) or "builtin". Empty while not attached. */
  char ident[64];
  /* Identity of a module instance we failed to attach to, so a
   * failure is logged once instead of every interval. */
  char failed_ident[64];
} tracer_set_t;

struct tracer_s {
  tracer_config_t cfg;
  char sys_module_dir[PATH_MAX];
  struct nfs_ebpf *base;
  tracer_set_t sets[SET_MAX];
  bool warned_nfs_absent;
  bool logged_fallback;
  bool warned_kallsyms;
  /* enum nfs_ebpf_ret_kind of nfs_mkdir in the BTF of the nfs module
   * last attached to. */
  uint32_t mkdir_ret_kind;
  /* reap_exited_thread on sched_process_exit (see nfs_ebpf.bpf.c). */
  struct bpf_link *reaper;
  /* Start records in task-local storage (task_starts), not op_starts. */
  bool starts_in_task;
};

/* Tests set this to exercise op_starts on a kernel that has task storage. */
static bool tracer_starts_in_hash_only;

/* Where function names are looked up; a variable so that tests, which
 * #include this file, can point it at a fixture. */
static const char *tracer_kallsyms_path = "/proc/kallsyms";

/* First warning libbpf printed since the last reset: the specific cause
 * ("failed to find kernel BTF type ID of 'nfs_file_read'"), not the
 * generic "failed to load object" that follows it. */
static char libbpf_last_warning[256];
/* The program that warning is about ("prog 'NAME': ..."), and the
 * verifier's own words when it refused one (the last line of its log that
 * says something), so the user sees why. */
static char libbpf_failed_prog[128];
static char libbpf_verifier_reason[256];

static void libbpf_reset_warnings(void) {
  libbpf_last_warning[0] = '\0';
  libbpf_failed_prog[0] = '\0';
  libbpf_verifier_reason[0] = '\0';
}

void tracer_libbpf_reset(void) { libbpf_reset_warnings(); }

const char *tracer_libbpf_warning(void) {
  return libbpf_verifier_reason[0] ? libbpf_verifier_reason
                                   : libbpf_last_warning;
}

/* The verifier log ends with the refusal, then statistics lines. */
static void verifier_reason(const char *log, char *out, size_t size) {
  const char *end = log + strlen(log);

  while (end > log) {
    const char *line = end;
    while (line > log && line[-1] != '\n')
      line--;
    size_t len = (size_t)(end - line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
      len--;
    if (len > 0 && strncmp(line, "processed ", 10) != 0 &&
        strncmp(line, "verification time", 17) != 0 &&
        strncmp(line, "stack depth", 11) != 0 &&
        strncmp(line, "-- END PROG LOAD LOG --", 23) != 0) {
      if (len >= size)
        len = size - 1;
      memcpy(out, line, len);
      out[len] = '\0';
      return;
    }
    end = line > log ? line - 1 : log;
  }
}

static void libbpf_note_warning(const char *msg) {
  const char *log = strstr(msg, "-- BEGIN PROG LOAD LOG --");

  if (libbpf_last_warning[0] == '\0') {
    sstrncpy(libbpf_last_warning, msg, sizeof(libbpf_last_warning));
    libbpf_last_warning[strcspn(libbpf_last_warning, "\n")] = '\0';
  }
  if (libbpf_failed_prog[0] == '\0' &&
      strncmp(msg, "libbpf: prog '", 14) == 0) {
    size_t len = strcspn(msg + 14, "'");
    if (len < sizeof(libbpf_failed_prog)) {
      memcpy(libbpf_failed_prog, msg + 14, len);
      libbpf_failed_prog[len] = '\0';
    }
  }
  if (log != NULL && libbpf_verifier_reason[0] == '\0')
    verifier_reason(log + strlen("-- BEGIN PROG LOAD LOG --"),
                    libbpf_verifier_reason, sizeof(libbpf_verifier_reason));
}

static int tracer_libbpf_print(enum libbpf_print_level level, const char *fmt,
                               va_list args) {
  char small[1024];
  char *buf = small;
  va_list copy;
  size_t len;

#if !defined(COLLECT_DEBUG) || !COLLECT_DEBUG
  /* libbpf's DEBUG level is a running commentary of every relocation;
   * only a collectd built for debugging wants it. */
  if (level == LIBBPF_DEBUG)
    return 0;
#endif
  /* A verifier log can be long and its reason is at the end. */
  va_copy(copy, args);
  int need = vsnprintf(small, sizeof(small), fmt, copy);
  va_end(copy);
  if (need >= (int)sizeof(small)) {
    char *big = malloc((size_t)need + 1);
    if (big != NULL) {
      vsnprintf(big, (size_t)need + 1, fmt, args);
      buf = big;
    }
  }
  len = strlen(buf);
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
    buf[--len] = '\0';
  if (level == LIBBPF_WARN)
    libbpf_note_warning(buf);
  /* libbpf's own messages (verifier logs included) are for debugging;
   * everything the user must see is logged by us with context. */
  plugin_log(LOG_DEBUG, "nfs_ebpf plugin: %s", buf);
  if (buf != small)
    free(buf);
  return 0;
}

static int check_btf(void) {
  if (access(TRACER_BTF_VMLINUX, R_OK) == 0)
    return 0;
  int err = errno;
  ERROR("nfs_ebpf plugin: cannot read %s (%s): this kernel does not "
        "expose its BTF type information, which nfs_ebpf needs to "
        "relocate its BPF programs (CO-RE). Use a kernel built with "
        "CONFIG_DEBUG_INFO_BTF=y (most distribution kernels since 2020) "
        "and make sure /sys is mounted.",
        TRACER_BTF_VMLINUX, STRERROR(err));
  return -err;
}

static int check_privileges(void) {
  struct __user_cap_header_struct hdr = {
      .version = _LINUX_CAPABILITY_VERSION_3,
      .pid = 0,
  };
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

  memset(data, 0, sizeof(data));
  if (syscall(SYS_capget, &hdr, data) != 0) {
    int err = errno;
    ERROR("nfs_ebpf plugin: capget failed (%s): cannot tell whether "
          "collectd may load BPF programs.",
          STRERROR(err));
    return -err;
  }
#define HAS_CAP(c) ((data[(c) / 32].effective & (1u << ((c) % 32))) != 0)
  if (HAS_CAP(CAP_SYS_ADMIN) || (HAS_CAP(CAP_BPF) && HAS_CAP(CAP_PERFMON)))
    return 0;
#undef HAS_CAP
  ERROR("nfs_ebpf plugin: insufficient privileges to trace the kernel: "
        "collectd needs CAP_SYS_ADMIN, or CAP_BPF plus CAP_PERFMON on "
        "kernel 5.8+. Run collectd as root, or grant them (systemd: "
        "AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_SYS_RESOURCE; "
        "Kubernetes: securityContext.capabilities.add or privileged: true).");
  return -EPERM;
}

static int check_config(const tracer_config_t *cfg) {
  if (cfg->nr_buckets > NFS_EBPF_MAX_BUCKETS) {
    ERROR("nfs_ebpf plugin: %" PRIu32 " latency buckets configured, "
          "at most %d are supported.",
          cfg->nr_buckets, NFS_EBPF_MAX_BUCKETS);
    return -EINVAL;
  }
  for (uint32_t i = 1; i < cfg->nr_buckets; i++) {
    if (cfg->bucket_bounds_ns[i] <= cfg->bucket_bounds_ns[i - 1]) {
      ERROR("nfs_ebpf plugin: latency bucket bounds must be "
            "strictly increasing (bound %" PRIu32 " is %" PRIu64
            " ns, the previous one %" PRIu64 " ns).",
            i + 1, cfg->bucket_bounds_ns[i], cfg->bucket_bounds_ns[i - 1]);
      return -EINVAL;
    }
  }
  if (cfg->cgroup_controller >= NFS_CGROUP_CONTROLLER_MAX) {
    ERROR("nfs_ebpf plugin: unknown cgroup controller %" PRIu32 ".",
          cfg->cgroup_controller);
    return -EINVAL;
  }
  if (cfg->mode != TRACER_ATTACH_AUTO && cfg->mode != TRACER_ATTACH_FENTRY &&
      cfg->mode != TRACER_ATTACH_KPROBE) {
    ERROR("nfs_ebpf plugin: unknown attach mode %d.", (int)cfg->mode);
    return -EINVAL;
  }
  return 0;
}

/*
 * Start records of calls whose return was never seen are counted and
 * removed by the BPF side when their thread exits. Without that program
 * they stay until their thread enters the same hook again, so say what
 * it costs; tracing still works.
 */
static void attach_reaper(tracer_t *t) {
  libbpf_last_warning[0] = '\0';
  t->reaper = bpf_program__attach(t->base->progs.reap_exited_thread);
  if (t->reaper != NULL)
    return;
  WARNING("nfs_ebpf plugin: attaching to the sched_process_exit "
          "tracepoint failed (%s%s%s): calls whose return was not seen are "
          "counted as missed_return only when their thread enters the same "
          "NFS function again, and those of exited threads stay in the start "
          "map (MaxEntries) for good.",
          STRERRNO, libbpf_last_warning[0] ? "; " : "", libbpf_last_warning);
}

/*
 * Where the BPF side keeps calls in flight: task-local storage where
 * tracing programs may use it (bpf_task_storage_get in a kprobe program;
 * not on Debian's 5.10), else op_starts, a hash of MaxEntries records.
 */
static bool task_storage_usable(void) {
  return !tracer_starts_in_hash_only &&
         libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) == 1 &&
         libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE,
                                 BPF_FUNC_task_storage_get, NULL) == 1 &&
         libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE,
                                 BPF_FUNC_get_current_task_btf, NULL) == 1;
}

/* Which store an opened instance's programs keep calls in flight in. */
static void set_start_store(struct nfs_ebpf *skel, bool in_task) {
  skel->rodata->starts_in_task = in_task;
  if (!in_task) {
    /* The kernel may not be able to create the map: a one-entry hash
     * stands in, which the programs never reach (starts_in_task is a
     * read-only 0). */
    bpf_map__set_type(skel->maps.task_starts, BPF_MAP_TYPE_HASH);
    bpf_map__set_max_entries(skel->maps.task_starts, 1);
  }
}

/* Settings that must be identical in every instance of the object. */
static void configure_instance(const tracer_t *t, struct nfs_ebpf *skel) {
  for (uint32_t i = 0; i < t->cfg.nr_buckets; i++)
    skel->rodata->bucket_bounds_ns[i] = t->cfg.bucket_bounds_ns[i];
  skel->rodata->nr_buckets = t->cfg.nr_buckets;
  skel->rodata->cgroup_controller = t->cfg.cgroup_controller;
  skel->rodata->mkdir_ret_kind = t->mkdir_ret_kind;
  set_start_store(skel, t->starts_in_task);

  struct bpf_program *prog;
  bpf_object__for_each_program(prog, skel->obj) {
    bpf_program__set_autoload(prog, false);
  }
}

/* Make a module instance use the base instance's maps. */
static int share_maps(const tracer_t *t, struct nfs_ebpf *skel) {
  struct {
    struct bpf_map *dst;
    const struct bpf_map *src;
  } maps[] = {
      {skel->maps.op_stats, t->base->maps.op_stats},
      {skel->maps.op_errors, t->base->maps.op_errors},
      {skel->maps.lost_events, t->base->maps.lost_events},
      {skel->maps.op_starts, t->base->maps.op_starts},
      {skel->maps.start_refused, t->base->maps.start_refused},
      {skel->maps.task_starts, t->base->maps.task_starts},
  };

  for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
    int err = bpf_map__reuse_fd(maps[i].dst, bpf_map__fd(maps[i].src));
    if (err) {
      ERROR("nfs_ebpf plugin: sharing map %s failed: %s",
            bpf_map__name(maps[i].dst), STRERROR(-err));
      return err;
    }
  }
  return 0;
}

/*
 * Which hooks of a set have their function in the running kernel. A
 * module's functions are tagged "[module]" in kallsyms, built-in ones are
 * untagged.
 */
static int find_targets(tracer_t *t, int set, bool builtin,
                        bool present[NR_HOOKS]) {
  char line[512];
  char tag[64];
  int found = 0;

  memset(present, 0, sizeof(bool) * NR_HOOKS);
  snprintf(tag, sizeof(tag), "[%s]", set_modules[set]);

  FILE *fh = fopen(tracer_kallsyms_path, "r");
  if (fh == NULL) {
    if (!t->warned_kallsyms) {
      WARNING("nfs_ebpf plugin: cannot read %s (%s); assuming every "
              "required NFS function exists and no optional one does.",
              tracer_kallsyms_path, STRERRNO);
      t->warned_kallsyms = true;
    }
    for (size_t i = 0; i < NR_HOOKS; i++) {
      present[i] = hooks[i].set == set && !hooks[i].optional;
      found += present[i];
    }
    return found;
  }

  while (fgets(line, sizeof(line), fh) != NULL) {
    char *name, *mod, *save = NULL;

    /* "<addr> <type> <name>[\t[<module>]]" */
    if (strtok_r(line, " \t\n", &save) == NULL ||
        strtok_r(NULL, " \t\n", &save) == NULL)
      continue;
    name = strtok_r(NULL, " \t\n", &save);
    if (name == NULL)
      continue;
    mod = strtok_r(NULL, " \t\n", &save);
    if (builtin ? mod != NULL : (mod == NULL || strcmp(mod, tag) != 0))
      continue;
    for (size_t i = 0; i < NR_HOOKS; i++) {
      if (hooks[i].set == set && !present[i] &&
          strcmp(name, hooks[i].func) == 0) {
        present[i] = true;
        found++;
      }
    }
  }
  fclose(fh);

  for (size_t i = 0; i < NR_HOOKS; i++) {
    if (hooks[i].set == set && !present[i] && !hooks[i].optional)
      WARNING("nfs_ebpf plugin: %s not found in %s: its operation "
              "is not traced on this kernel.",
              hooks[i].func, set_modules[set]);
  }
  return found;
}

static struct bpf_program *find_prog(struct nfs_ebpf *skel, const char *kind,
                                     const char *func) {
  char name[128];

  snprintf(name, sizeof(name), "%s_%s", kind, func);
  return bpf_object__find_program_by_name(skel->obj, name);
}

static void set_detach(tracer_set_t *s) {
  /* Entries first, so no new start record appears without its exit. */
  for (int i = s->nlinks - 1; i >= 0; i--)
    bpf_link__destroy(s->links[i]);
  s->nlinks = 0;
  nfs_ebpf__destroy(s->skel);
  s->skel = NULL;
  s->ident[0] = '\0';
}

/* How a function returns, after its BTF (enum nfs_ebpf_ret_kind). */
static uint32_t btf_ret_kind(const struct btf *btf, const char *func) {
  int id = btf__find_by_name_kind(btf, func, BTF_KIND_FUNC);
  const struct btf_type *type;

  if (id <= 0)
    return NFS_RET_UNKNOWN;
  type = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
  if (type == NULL || !btf_is_func_proto(type) || type->type == 0)
    return NFS_RET_UNKNOWN;
  type = btf__type_by_id(btf, type->type);
  while (type != NULL && (btf_is_mod(type) || btf_is_typedef(type)))
    type = btf__type_by_id(btf, type->type);
  if (type == NULL)
    return NFS_RET_UNKNOWN;
  if (btf_is_ptr(type))
    return NFS_RET_PTR;
  if (btf_is_int(type) || btf_is_any_enum(type))
    return NFS_RET_INT;
  return NFS_RET_UNKNOWN;
}

/* Return kind of a hook's function in the running kernel: from the BTF of
 * its module (vmlinux when built in). UNKNOWN without module BTF, where
 * only kprobes are possible and the program recognises either kind. */
static uint32_t hook_ret_kind(const tracer_hook_t *h, bool builtin) {
  struct btf *vmlinux = btf__load_vmlinux_btf();
  struct btf *mod = NULL;
  uint32_t kind = NFS_RET_UNKNOWN;

  if (vmlinux == NULL)
    return kind;
  if (!builtin)
    mod = btf__load_module_btf(set_modules[h->set], vmlinux);
  if (builtin || mod != NULL)
    kind = btf_ret_kind(builtin ? vmlinux : mod, h->func);
  btf__free(mod);
  btf__free(vmlinux);
  return kind;
}

/* Whether fentry/fexit can resolve targets in this set: module BTF. */
static bool set_has_btf(int set, bool builtin) {
  char path[64];

  if (builtin)
    return true;
  snprintf(path, sizeof(path), "/sys/kernel/btf/%s", set_modules[set]);
  return access(path, R_OK) == 0;
}

static void hook_progs(const tracer_t *t, struct nfs_ebpf *skel, size_t i,
                       tracer_mode_t mode, struct bpf_program **en,
                       struct bpf_program **ex) {
  bool fentry = mode == MODE_FENTRY;
  const char *exit_func = hooks[i].func;

  if (fentry && hooks[i].ptr_exit != NULL && t->mkdir_ret_kind == NFS_RET_PTR)
    exit_func = hooks[i].ptr_exit;
  *en = find_prog(skel, fentry ? "fentry" : "kprobe", hooks[i].func);
  *ex = find_prog(skel, fentry ? "fexit" : "kretprobe", exit_func);
}

/* The hook a libbpf program name belongs to, or -1. */
static int hook_of_prog(const char *prog) {
  for (size_t i = 0; i < NR_HOOKS; i++) {
    const char *names[] = {hooks[i].func, hooks[i].ptr_exit};
    for (size_t n = 0; n < 2; n++) {
      if (names[n] == NULL)
        continue;
      const char *us = strchr(prog, '_');
      if (us != NULL && strcmp(us + 1, names[n]) == 0)
        return (int)i;
    }
  }
  return -1;
}

static void why_libbpf(char *why, size_t why_size, const char *what, int err) {
  snprintf(why, why_size, "%s: %s%s%s%s%s", what, STRERROR(-err),
           libbpf_last_warning[0] ? "; " : "", libbpf_last_warning,
           libbpf_verifier_reason[0] ? "; verifier: " : "",
           libbpf_verifier_reason);
}

/*
 * Load and attach one set's programs, each hook in its own mode (MODE_NONE:
 * not present). Returns the number of programs attached (> 0) or -errno,
 * with *why describing the failure and *bad the hook it is about (-1 when
 * libbpf did not say).
 */
static int set_load_attach(tracer_t *t, tracer_set_t *s,
                           const tracer_mode_t kinds[NR_HOOKS], int *bad,
                           char *why, size_t why_size) {
  struct bpf_program *en, *ex;
  int err;

  *bad = -1;
  s->nlinks = 0;
  s->skel = nfs_ebpf__open();
  if (s->skel == NULL) {
    err = -errno;
    snprintf(why, why_size, "opening the BPF object: %s", STRERROR(-err));
    return err;
  }
  configure_instance(t, s->skel);
  err = share_maps(t, s->skel);
  if (err) {
    snprintf(why, why_size, "sharing maps: %s", STRERROR(-err));
    goto fail;
  }
  for (size_t i = 0; i < NR_HOOKS; i++) {
    if (kinds[i] == MODE_NONE)
      continue;
    hook_progs(t, s->skel, i, kinds[i], &en, &ex);
    if (en == NULL || ex == NULL) {
      err = -ENOENT;
      snprintf(why, why_size, "no %s program for %s in the object",
               mode_name(kinds[i]), hooks[i].func);
      goto fail;
    }
    bpf_program__set_autoload(en, true);
    bpf_program__set_autoload(ex, true);
  }

  libbpf_reset_warnings();
  err = nfs_ebpf__load(s->skel);
  if (err) {
    why_libbpf(why, why_size, "loading", err);
    *bad = hook_of_prog(libbpf_failed_prog);
    goto fail;
  }

  for (size_t i = 0; i < NR_HOOKS; i++) {
    if (kinds[i] == MODE_NONE)
      continue;
    struct bpf_link *lex, *len = NULL;

    hook_progs(t, s->skel, i, kinds[i], &en, &ex);
    /* Exit before entry: a start record is only ever written when
     * its return will be seen. */
    libbpf_reset_warnings();
    lex = bpf_program__attach(ex);
    if (lex == NULL) {
      err = -errno;
    } else {
      len = bpf_program__attach(en);
      if (len == NULL) {
        err = -errno;
        bpf_link__destroy(lex);
      }
    }
    if (len == NULL) {
      if (kinds[i] == MODE_FENTRY) {
        /* Its kprobe twin may still work: the caller retries with that. */
        char what[128];
        snprintf(what, sizeof(what), "attaching to %s", hooks[i].func);
        why_libbpf(why, why_size, what, err);
        *bad = (int)i;
        goto fail;
      }
      WARNING("nfs_ebpf plugin: attaching kprobe/kretprobe to %s "
              "failed (%s); its operation is not traced.",
              hooks[i].func, STRERROR(-err));
      continue;
    }
    s->links[s->nlinks++] = lex;
    s->links[s->nlinks++] = len;
  }
  if (s->nlinks == 0) {
    err = -ENOENT;
    snprintf(why, why_size, "no program could be attached");
    goto fail;
  }
  return s->nlinks;

fail:
  set_detach(s);
  return err;
}

/* "fentry", "kprobe", or "fentry; kprobe: f1 f2" when mixed. */
static void describe_modes(const tracer_mode_t kinds[NR_HOOKS], char *buf,
                           size_t size) {
  size_t nf = 0, nk = 0, off;

  for (size_t i = 0; i < NR_HOOKS; i++) {
    nf += kinds[i] == MODE_FENTRY;
    nk += kinds[i] == MODE_KPROBE;
  }
  if (nf == 0 || nk == 0) {
    sstrncpy(buf, mode_name(nf ? MODE_FENTRY : MODE_KPROBE), size);
    return;
  }
  off = (size_t)snprintf(buf, size, "fentry; kprobe:");
  for (size_t i = 0; i < NR_HOOKS && off < size; i++)
    if (kinds[i] == MODE_KPROBE)
      off += (size_t)snprintf(buf + off, size - off, " %s", hooks[i].func);
}

/*
 * Attach one set in the configured mode(s). AUTO tries fentry/fexit for
 * every hook and moves to kprobe/kretprobe only the hooks the kernel
 * refuses, one at a time (libbpf names the program it failed on), so one
 * program the verifier rejects does not cost the set its fentry hooks.
 * Returns programs or -errno.
 */
static int set_attach(tracer_t *t, int set, bool builtin, const char *ident) {
  tracer_set_t *s = &t->sets[set];
  bool present[NR_HOOKS];
  tracer_mode_t kinds[NR_HOOKS];
  char why[768] = "", modes[512];
  bool fentry = t->cfg.mode != TRACER_ATTACH_KPROBE;
  int rc = -ENOENT, bad;

  if (find_targets(t, set, builtin, present) == 0) {
    WARNING("nfs_ebpf plugin: module %s is loaded but none of the "
            "functions nfs_ebpf traces was found in it.",
            set_modules[set]);
    return -ENOENT;
  }
  for (size_t i = 0; i < NR_HOOKS; i++)
    if (present[i] && hooks[i].ptr_exit != NULL)
      t->mkdir_ret_kind = hook_ret_kind(&hooks[i], builtin);

  /* Without the module's BTF no fentry program can load: say so once
   * instead of trying each hook. FENTRY mode still tries, so that its
   * ERROR names what is missing. */
  if (fentry && t->cfg.mode == TRACER_ATTACH_AUTO &&
      !set_has_btf(set, builtin)) {
    if (!t->logged_fallback) {
      NOTICE("nfs_ebpf plugin: fentry/fexit not usable for %s (the "
             "kernel has no BTF for module %s, "
             "CONFIG_DEBUG_INFO_BTF_MODULES); using kprobe/kretprobe "
             "instead.",
             set_modules[set], set_modules[set]);
      t->logged_fallback = true;
    }
    fentry = false;
  }
  for (size_t i = 0; i < NR_HOOKS; i++)
    kinds[i] = !present[i] ? MODE_NONE : fentry ? MODE_FENTRY : MODE_KPROBE;

  for (size_t attempt = 0; attempt <= NR_HOOKS + 1; attempt++) {
    rc = set_load_attach(t, s, kinds, &bad, why, sizeof(why));
    if (rc > 0)
      break;
    if (t->cfg.mode == TRACER_ATTACH_FENTRY) {
      ERROR("nfs_ebpf plugin: AttachMode \"fentry\" is not possible "
            "for module %s (%s). fentry/fexit on modules needs "
            "kernel BTF for modules (CONFIG_DEBUG_INFO_BTF_MODULES) "
            "and trampolines (5.11+ on x86_64); use AttachMode "
            "\"auto\" or \"kprobe\".",
            set_modules[set], why);
      return rc;
    }
    bool any_fentry = false;
    for (size_t i = 0; i < NR_HOOKS; i++)
      any_fentry |= kinds[i] == MODE_FENTRY;
    if (bad >= 0 && kinds[bad] == MODE_FENTRY) {
      NOTICE("nfs_ebpf plugin: fentry/fexit not usable for %s in %s "
             "(%s); tracing it with kprobe/kretprobe instead.",
             hooks[bad].func, set_modules[set], why);
      kinds[bad] = MODE_KPROBE;
    } else if (any_fentry) {
      /* The kernel refused without naming a program: the old way,
       * everything with kprobes. */
      NOTICE("nfs_ebpf plugin: fentry/fexit not usable for %s (%s); "
             "using kprobe/kretprobe instead.",
             set_modules[set], why);
      for (size_t i = 0; i < NR_HOOKS; i++)
        if (kinds[i] == MODE_FENTRY)
          kinds[i] = MODE_KPROBE;
    } else {
      break;
    }
  }
  if (rc <= 0) {
    ERROR("nfs_ebpf plugin: cannot trace module %s with kprobes either: %s",
          set_modules[set], why);
    return rc;
  }
  sstrncpy(s->ident, ident, sizeof(s->ident));
  describe_modes(kinds, modes, sizeof(modes));
  INFO("nfs_ebpf plugin: attached %d programs to %s (%s)", rc, set_modules[set],
       modes);
  /* A trampoline into a module holds a reference on it (5.12, commit
   * 861de02e5f3f "bpf: Take module reference for trampoline in
   * module"): say so, since rmmod then fails for a reason that is
   * nowhere else to be seen. kprobes let the module go; the hooks are
   * attached again when it is loaded again. */
  if (!builtin && strncmp(modes, "kprobe", 6) != 0)
    NOTICE("nfs_ebpf plugin: module %s cannot be unloaded while its "
           "fentry/fexit programs are attached (the kernel holds a "
           "reference; rmmod says \"in use\"). Stop collectd first, or "
           "use AttachMode \"kprobe\", which lets it go and attaches "
           "again when it is loaded again.",
           set_modules[set]);
  return rc;
}

int tracer_sync_modules(tracer_t *t) {
  int total = 0;
  int ret = 0;
  bool nfs_builtin = false;

  if (t == NULL)
    return -EINVAL;

  for (int set = 0; set < SET_MAX; set++) {
    tracer_set_t *s = &t->sets[set];
    char ident[64] = "";
    bool builtin = false;
    bool present = kmodule_state(t->sys_module_dir, set_modules[set], ident,
                                 sizeof(ident), &builtin);

    /* A built-in NFS client may have NFSv4 built in too, without a
     * /sys/module/nfsv4 directory: look for its functions anyway. */
    if (!present && set == SET_NFSV4 && nfs_builtin) {
      present = true;
      builtin = true;
      sstrncpy(ident, "builtin", sizeof(ident));
    }
    if (set == SET_NFS)
      nfs_builtin = present && builtin;

    if (s->skel != NULL && (!present || strcmp(ident, s->ident) != 0)) {
      INFO("nfs_ebpf plugin: module %s %s; detaching its %d programs.",
           set_modules[set], present ? "was reloaded" : "was unloaded",
           s->nlinks);
      set_detach(s);
    }

    if (!present) {
      if (set == SET_NFS && !t->warned_nfs_absent) {
        WARNING("nfs_ebpf plugin: the nfs kernel module is not "
                "loaded (no NFS mount yet?); nothing is traced until "
                "it appears. Looking again every interval.");
        t->warned_nfs_absent = true;
      }
      s->failed_ident[0] = '\0';
      continue;
    }

    if (s->skel == NULL && strcmp(ident, s->failed_ident) != 0) {
      int rc = set_attach(t, set, builtin, ident);
      if (rc < 0) {
        sstrncpy(s->failed_ident, ident, sizeof(s->failed_ident));
        if (t->cfg.mode == TRACER_ATTACH_FENTRY)
          ret = rc;
      }
    }
    total += s->nlinks;
  }
  return ret < 0 ? ret : total;
}

int tracer_open(const tracer_config_t *cfg, tracer_t **out) {
  tracer_t *t;
  int err;

  if (cfg == NULL || out == NULL)
    return -EINVAL;
  *out = NULL;

  libbpf_set_print(tracer_libbpf_print);

  err = check_config(cfg);
  if (err)
    return err;
  err = check_btf();
  if (err)
    return err;
  err = check_privileges();
  if (err)
    return err;

  t = calloc(1, sizeof(*t));
  if (t == NULL)
    return -ENOMEM;
  t->cfg = *cfg;
  sstrncpy(t->sys_module_dir,
           cfg->sys_module_dir != NULL ? cfg->sys_module_dir : "/sys/module",
           sizeof(t->sys_module_dir));
  t->cfg.sys_module_dir = t->sys_module_dir;
  if (t->cfg.max_entries == 0)
    t->cfg.max_entries = NFS_EBPF_DEFAULT_MAX_ENTRIES;

  t->starts_in_task = task_storage_usable();
  /* The base instance: maps only, no programs. */
  t->base = nfs_ebpf__open();
  if (t->base == NULL) {
    err = -errno;
    ERROR("nfs_ebpf plugin: opening the BPF object failed: %s", STRERROR(-err));
    goto fail;
  }
  configure_instance(t, t->base);
  struct bpf_map *sized[] = {
      t->base->maps.op_stats,
      t->base->maps.op_errors,
      t->base->maps.op_starts,
      t->base->maps.start_refused,
  };
  for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++) {
    /* op_starts goes unused with task storage: no memory for it. */
    uint32_t size = sized[i] == t->base->maps.op_starts && t->starts_in_task
                        ? 1
                        : t->cfg.max_entries;
    err = bpf_map__set_max_entries(sized[i], size);
    if (err) {
      ERROR("nfs_ebpf plugin: setting the size of map %s failed: %s",
            bpf_map__name(sized[i]), STRERROR(-err));
      goto fail;
    }
  }
  bpf_program__set_autoload(t->base->progs.reap_exited_thread, true);
  libbpf_reset_warnings();
  err = nfs_ebpf__load(t->base);
  if (err) {
    ERROR("nfs_ebpf plugin: creating the BPF maps failed: %s%s%s "
          "(MaxEntries %" PRIu32 "; a smaller value needs less locked "
          "memory).",
          STRERROR(-err), libbpf_last_warning[0] ? "; " : "",
          libbpf_last_warning, t->cfg.max_entries);
    goto fail;
  }
  attach_reaper(t);
  INFO("nfs_ebpf plugin: calls in flight are kept in %s.",
       t->starts_in_task ? "task-local storage"
                         : "a hash map of MaxEntries records (this kernel "
                           "has no task-local storage for tracing programs)");

  *out = t;
  return 0;

fail:
  tracer_close(t);
  return err;
}

int tracer_stats_fd(const tracer_t *t) {
  return t != NULL ? bpf_map__fd(t->base->maps.op_stats) : -EINVAL;
}

int tracer_errors_fd(const tracer_t *t) {
  return t != NULL ? bpf_map__fd(t->base->maps.op_errors) : -EINVAL;
}

int tracer_lost_fd(const tracer_t *t) {
  return t != NULL ? bpf_map__fd(t->base->maps.lost_events) : -EINVAL;
}

int tracer_read_lost(tracer_t *t, uint64_t lost[NFS_LOST_MAX]) {
  if (t == NULL || lost == NULL)
    return -EINVAL;
  int fd = bpf_map__fd(t->base->maps.lost_events);
  for (uint32_t i = 0; i < NFS_LOST_MAX; i++) {
    __u64 v = 0;
    if (bpf_map_lookup_elem(fd, &i, &v) != 0) {
      int err = -errno;
      ERROR("nfs_ebpf plugin: reading lost-event counter %" PRIu32
            " failed: %s",
            i, STRERROR(-err));
      return err;
    }
    lost[i] = v;
  }
  return 0;
}

void tracer_close(tracer_t *t) {
  if (t == NULL)
    return;
  for (int set = 0; set < SET_MAX; set++)
    if (t->sets[set].skel != NULL)
      set_detach(&t->sets[set]);
  bpf_link__destroy(t->reaper);
  nfs_ebpf__destroy(t->base);
  free(t);
}
