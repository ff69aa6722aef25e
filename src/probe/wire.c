/*
 * Loader of the wire level (see wire.h). Like tracer.c, the object is
 * opened twice: a base instance that only creates the maps, and an attached
 * instance per load of the modules, which reuses the base's maps. The
 * object holds two sets of the same programs, one BTF-typed (tp_btf,
 * fentry) and one without trampolines (raw_tp, kprobe); an attached
 * instance loads one set.
 */
#include "collectd_compat.h"

#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kmodule.h"
#include "nfs_wire.skel.h"
#include "tracer.h"
#include "wire.h"

/* Both must be loaded: sunrpc counts the RPCs, nfs tells who wrote. */
static const char *const wire_modules[] = {"sunrpc", "nfs"};
#define NR_WIRE_MODULES (sizeof(wire_modules) / sizeof(wire_modules[0]))

/* Functions a kernel may lack (or have inlined): their programs are
 * loaded where /proc/kallsyms has them, else left out with what that
 * costs. */
static const struct {
  const char *func, *without;
} optional_progs[] = {
    {"nfs_vm_page_mkwrite",
     "pages written through mmap are charged to whoever writes them back"},
    {"__nfs_revalidate_inode",
     "a mount is learnt at the first path walk into it only"},
};
#define NR_OPTIONAL (sizeof(optional_progs) / sizeof(optional_progs[0]))

/* Where function names are looked up. */
static const char *wire_kallsyms_path = "/proc/kallsyms";

struct wire_s {
  wire_config_t cfg;
  char sys_module_dir[PATH_MAX];
  struct nfs_wire *base;     /* maps only */
  struct nfs_wire *attached; /* programs; NULL while detached */
  bool kprobes;              /* attached: the raw_tp / kprobe set */
  struct bpf_link *links[8];
  int nlinks;
  char ident[2 * 80];        /* the modules' idents when attached */
  char failed_ident[2 * 80]; /* idents we failed on: logged once */
  bool logged_no_btf;
  /* recursion_misses of the counting programs of earlier attaches */
  uint64_t skipped_before;
};

/* present[i]: optional_progs[i].func is in kallsyms. Unreadable: none. */
static void find_optional(bool present[NR_OPTIONAL]) {
  char line[512];
  memset(present, 0, sizeof(bool) * NR_OPTIONAL);
  FILE *fh = fopen(wire_kallsyms_path, "r");
  while (fh != NULL && fgets(line, sizeof(line), fh) != NULL) {
    char *save = NULL, *name;
    /* "<addr> <type> <name>[\t[<module>]]" */
    if (strtok_r(line, " \t\n", &save) == NULL ||
        strtok_r(NULL, " \t\n", &save) == NULL ||
        (name = strtok_r(NULL, " \t\n", &save)) == NULL)
      continue;
    for (size_t i = 0; i < NR_OPTIONAL; i++)
      present[i] |= strcmp(name, optional_progs[i].func) == 0;
  }
  if (fh != NULL)
    fclose(fh);
}

static void configure(const wire_t *w, struct nfs_wire *skel) {
  for (uint32_t i = 0; i < w->cfg.nr_buckets; i++)
    skel->rodata->bucket_bounds_ns[i] = w->cfg.bucket_bounds_ns[i];
  skel->rodata->nr_buckets = w->cfg.nr_buckets;
  skel->rodata->cgroup_controller = w->cfg.cgroup_controller;
}

/* recursion_misses of the attached counting program (5.12+). */
static uint64_t skipped_now(const wire_t *w) {
  struct bpf_prog_info info;
  uint32_t len = sizeof(info);
  if (w->attached == NULL)
    return 0;
  memset(&info, 0, sizeof(info));
  int fd =
      bpf_program__fd(w->kprobes ? w->attached->progs.raw_tp_rpc_stats_latency
                                 : w->attached->progs.tp_btf_rpc_stats_latency);
  if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    return 0;
  return info.recursion_misses;
}

uint64_t wire_skipped(wire_t *w) {
  return w != NULL ? w->skipped_before + skipped_now(w) : 0;
}

static void detach(wire_t *w) {
  w->skipped_before += skipped_now(w);
  for (int i = w->nlinks - 1; i >= 0; i--)
    bpf_link__destroy(w->links[i]);
  w->nlinks = 0;
  nfs_wire__destroy(w->attached);
  w->attached = NULL;
  w->ident[0] = '\0';
}

/* The modules' joint identity; false while one of them is not loaded.
 * *btf_missing: a loaded module has no BTF (built-in ones are in vmlinux's). */
static bool modules_ident(const wire_t *w, char *ident, size_t size,
                          bool *btf_missing) {
  size_t off = 0;
  *btf_missing = false;
  for (size_t i = 0; i < NR_WIRE_MODULES; i++) {
    char one[80], btf[64];
    bool builtin;
    if (!kmodule_state(w->sys_module_dir, wire_modules[i], one, sizeof(one),
                       &builtin))
      return false;
    snprintf(btf, sizeof(btf), "/sys/kernel/btf/%s", wire_modules[i]);
    *btf_missing |= !builtin && access(btf, R_OK) != 0;
    off += (size_t)snprintf(ident + off, size > off ? size - off : 0, "%s%s",
                            i ? "|" : "", one);
  }
  return true;
}

/* The attach set a program belongs to: true for raw_tp and kprobe. */
static bool in_kprobe_set(const struct bpf_program *prog) {
  return bpf_program__type(prog) != BPF_PROG_TYPE_TRACING;
}

/* Loads the programs of one set (kprobes: raw_tp / kprobe, else tp_btf /
 * fentry) but those of functions kallsyms lacks. */
static void choose_programs(wire_t *w, bool kprobes) {
  bool present[NR_OPTIONAL];
  struct bpf_program *prog;

  find_optional(present);
  bpf_object__for_each_program(prog, w->attached->obj) {
    /* "fentry/<function>", "kprobe/<function>", "raw_tp/<tracepoint>" */
    const char *target = strchr(bpf_program__section_name(prog), '/');
    bool load = in_kprobe_set(prog) == kprobes;
    for (size_t i = 0; load && target != NULL && i < NR_OPTIONAL; i++)
      load = present[i] || strcmp(target + 1, optional_progs[i].func) != 0;
    bpf_program__set_autoload(prog, load);
  }
  for (size_t i = 0; i < NR_OPTIONAL; i++)
    if (!present[i])
      INFO("nfs_ebpf plugin: wire level: %s not found in this kernel; %s.",
           optional_progs[i].func, optional_progs[i].without);
}

static int load_attach(wire_t *w, bool kprobes, char *why, size_t why_size) {
  struct bpf_program *prog;
  int err;

  w->kprobes = kprobes;
  w->attached = nfs_wire__open();
  if (w->attached == NULL) {
    snprintf(why, why_size, "opening the BPF object: %s", STRERRNO);
    return -errno;
  }
  configure(w, w->attached);
  struct {
    struct bpf_map *dst;
    int fd;
  } shared[] = {
      {w->attached->maps.rpc_stats, bpf_map__fd(w->base->maps.rpc_stats)},
      {w->attached->maps.rpc_creators, bpf_map__fd(w->base->maps.rpc_creators)},
      {w->attached->maps.context_writers,
       bpf_map__fd(w->base->maps.context_writers)},
      {w->attached->maps.client_mounts,
       bpf_map__fd(w->base->maps.client_mounts)},
      {w->attached->maps.lost_events, w->cfg.lost_events_fd},
  };
  for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
    err = bpf_map__reuse_fd(shared[i].dst, shared[i].fd);
    if (err) {
      snprintf(why, why_size, "sharing map %s: %s",
               bpf_map__name(shared[i].dst), STRERROR(-err));
      return err;
    }
  }

  choose_programs(w, kprobes);

  tracer_libbpf_reset();
  err = nfs_wire__load(w->attached);
  if (err) {
    snprintf(why, why_size, "loading: %s; %s", STRERROR(-err),
             tracer_libbpf_warning());
    return err;
  }
  bpf_object__for_each_program(prog, w->attached->obj) {
    if (!bpf_program__autoload(prog))
      continue;
    if ((size_t)w->nlinks >= sizeof(w->links) / sizeof(w->links[0]))
      break;
    tracer_libbpf_reset();
    struct bpf_link *link = bpf_program__attach(prog);
    if (link == NULL) {
      err = -errno;
      snprintf(why, why_size, "attaching %s: %s; %s", bpf_program__name(prog),
               STRERROR(-err), tracer_libbpf_warning());
      return err;
    }
    w->links[w->nlinks++] = link;
  }
  return w->nlinks;
}

int wire_sync_modules(wire_t *w) {
  char ident[sizeof(w->ident)];
  bool btf_missing;

  if (w == NULL)
    return 0;
  if (!modules_ident(w, ident, sizeof(ident), &btf_missing)) {
    if (w->attached != NULL) {
      INFO("nfs_ebpf plugin: wire level: sunrpc or nfs was unloaded; "
           "detaching.");
      detach(w);
    }
    w->failed_ident[0] = '\0';
    return 0;
  }
  if (w->attached != NULL && strcmp(ident, w->ident) == 0)
    return w->nlinks;
  if (w->attached != NULL) {
    INFO("nfs_ebpf plugin: wire level: sunrpc or nfs was reloaded; "
         "attaching again.");
    detach(w);
  }
  if (strcmp(ident, w->failed_ident) == 0)
    return 0;

  if (btf_missing) {
    if (!w->logged_no_btf)
      WARNING("nfs_ebpf plugin: the wire level (nfs_ebpf_rpc_*) is off: "
              "this kernel has no BTF for its modules "
              "(CONFIG_DEBUG_INFO_BTF_MODULES, Linux 5.11+), which it needs "
              "to read sunrpc's and nfs' structures. Operations are "
              "reported as usual.");
    w->logged_no_btf = true;
    sstrncpy(w->failed_ident, ident, sizeof(w->failed_ident));
    return 0;
  }

  char why[768] = "";
  int rc =
      load_attach(w, w->cfg.mode == TRACER_ATTACH_KPROBE, why, sizeof(why));
  if (rc <= 0 && w->cfg.mode == TRACER_ATTACH_AUTO) {
    INFO("nfs_ebpf plugin: wire level: tp_btf/fentry did not attach (%s); "
         "trying raw_tp/kprobe.",
         why);
    detach(w);
    why[0] = '\0';
    rc = load_attach(w, true, why, sizeof(why));
  }
  if (rc <= 0) {
    ERROR("nfs_ebpf plugin: the wire level (nfs_ebpf_rpc_*) is off until "
          "sunrpc or nfs is loaded again: %s",
          why[0] ? why : "no program attached");
    detach(w);
    sstrncpy(w->failed_ident, ident, sizeof(w->failed_ident));
    return 0;
  }
  sstrncpy(w->ident, ident, sizeof(w->ident));
  INFO("nfs_ebpf plugin: wire level: attached %d programs to sunrpc and nfs "
       "(%s).",
       rc, w->kprobes ? "raw_tp/kprobe" : "tp_btf/fentry");
  return rc;
}

int wire_open(const wire_config_t *cfg, wire_t **out) {
  int err;

  *out = NULL;
  wire_t *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return -ENOMEM;
  w->cfg = *cfg;
  sstrncpy(w->sys_module_dir,
           cfg->sys_module_dir != NULL ? cfg->sys_module_dir : "/sys/module",
           sizeof(w->sys_module_dir));
  w->cfg.sys_module_dir = w->sys_module_dir;
  if (w->cfg.max_entries == 0)
    w->cfg.max_entries = NFS_EBPF_DEFAULT_MAX_ENTRIES;

  w->base = nfs_wire__open();
  if (w->base == NULL) {
    err = -errno;
    ERROR("nfs_ebpf plugin: wire level: opening its BPF object failed: %s",
          STRERROR(-err));
    goto fail;
  }
  configure(w, w->base);
  struct bpf_map *sized[] = {
      w->base->maps.rpc_stats, w->base->maps.rpc_creators,
      w->base->maps.context_writers, w->base->maps.client_mounts};
  for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++) {
    err = bpf_map__set_max_entries(sized[i], w->cfg.max_entries);
    if (err)
      goto fail_maps;
  }
  err = bpf_map__reuse_fd(w->base->maps.lost_events, cfg->lost_events_fd);
  if (err)
    goto fail_maps;
  struct bpf_program *prog;
  bpf_object__for_each_program(prog, w->base->obj) {
    bpf_program__set_autoload(prog, false);
  }
  tracer_libbpf_reset();
  err = nfs_wire__load(w->base);
  if (err)
    goto fail_maps;
  *out = w;
  return 0;

fail_maps:
  ERROR("nfs_ebpf plugin: wire level: creating its BPF maps failed: %s%s%s "
        "(MaxEntries %" PRIu32 "); it is off.",
        STRERROR(-err), tracer_libbpf_warning()[0] ? "; " : "",
        tracer_libbpf_warning(), w->cfg.max_entries);
fail:
  wire_close(w);
  return err;
}

int wire_stats_fd(const wire_t *w) {
  return w != NULL ? bpf_map__fd(w->base->maps.rpc_stats) : -EINVAL;
}

void wire_close(wire_t *w) {
  if (w == NULL)
    return;
  detach(w);
  nfs_wire__destroy(w->base);
  free(w);
}
