/*
 * Loader of the overhead benchmark's floor: the EMPTY programs of
 * floor.bpf.c, as an entry/exit pair on each function named on the
 * command line, in both attach modes (fentry/fexit and kprobe/kretprobe).
 *
 *   floor OBJECT FUNC...
 *
 * Everything is loaded at start; attaching and detaching are commands on
 * stdin, so that the benchmark can switch the floor on and off between its
 * timed runs without loading (and verifying, under TCG slowly) again:
 *
 *   attach fentry|kprobe   attach that mode's pairs (exit before entry, as
 *                          the plugin does)
 *   detach                 detach everything
 *   stats fentry|kprobe    run_cnt and run_time_ns of each program
 *   quit                   (or end of input)
 *
 * Every answer is a few lines ending with "end". Lines:
 *   absent FUNC                      not in /proc/kallsyms: not hooked
 *   load MODE FUNC ok | failed: WHY  at start
 *   attach-failed MODE FUNC entry|exit: WHY
 *   attached MODE N                  N programs attached
 *   stat MODE FUNC ENTRY_CNT ENTRY_NS EXIT_CNT EXIT_NS
 *
 * One program per function and direction (not one program attached many
 * times): the kernel keeps run_cnt and run_time_ns per program, and the
 * benchmark wants them per function, as it gets them for nfs_ebpf.
 * The instructions come from the object; the programs are loaded with
 * bpf_prog_load() so that vmlinux BTF is parsed once, not once per
 * function as one libbpf object per function would.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/perf_event.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

enum { MODE_FENTRY, MODE_KPROBE, NR_MODES };
enum { DIR_ENTRY, DIR_EXIT, NR_DIRS };

static const char *const mode_names[NR_MODES] = {"fentry", "kprobe"};
static const char *const dir_names[NR_DIRS] = {"entry", "exit"};
/* Programs of floor.bpf.c, [mode][dir]. */
static const char *const prog_names[NR_MODES][NR_DIRS] = {
    {"floor_fentry", "floor_fexit"}, {"floor_kprobe", "floor_kretprobe"}};
static const enum bpf_attach_type tracing_types[NR_DIRS] = {BPF_TRACE_FENTRY,
                                                            BPF_TRACE_FEXIT};

typedef struct {
  const char *func;
  char module[64]; /* "" when built in */
  bool present;
  bool loaded[NR_MODES];
  int prog[NR_MODES][NR_DIRS];
  int link[NR_MODES][NR_DIRS]; /* bpf_link, or -1 */
  int perf[NR_MODES][NR_DIRS]; /* kprobe perf event, or -1 */
} hook_t;

typedef struct {
  const struct bpf_insn *insns;
  size_t cnt;
} code_t;

static hook_t *hooks;
static int nr_hooks;
static code_t code[NR_MODES][NR_DIRS];

/* The last thing libbpf warned about, to explain a failure. */
static char libbpf_warning[256];

static int on_libbpf_print(enum libbpf_print_level level, const char *fmt,
                           va_list args) {
  if (level != LIBBPF_WARN)
    return 0;
  vsnprintf(libbpf_warning, sizeof(libbpf_warning), fmt, args);
  libbpf_warning[strcspn(libbpf_warning, "\n")] = '\0';
  return 0;
}

/* Which hooks exist, and in which module: "<addr> <type> <name>[\t[mod]]". */
static void find_functions(void) {
  char line[512];
  FILE *fh = fopen("/proc/kallsyms", "r");

  if (fh == NULL) {
    fprintf(stderr, "floor: cannot read /proc/kallsyms: %s\n", strerror(errno));
    exit(1);
  }
  while (fgets(line, sizeof(line), fh) != NULL) {
    char *save = NULL, *name, *mod;

    if (strtok_r(line, " \t\n", &save) == NULL ||
        strtok_r(NULL, " \t\n", &save) == NULL ||
        (name = strtok_r(NULL, " \t\n", &save)) == NULL)
      continue;
    mod = strtok_r(NULL, " \t\n", &save);
    for (int i = 0; i < nr_hooks; i++) {
      if (hooks[i].present || strcmp(hooks[i].func, name) != 0)
        continue;
      hooks[i].present = true;
      if (mod != NULL && mod[0] == '[') {
        snprintf(hooks[i].module, sizeof(hooks[i].module), "%s", mod + 1);
        hooks[i].module[strcspn(hooks[i].module, "]")] = '\0';
      }
    }
  }
  fclose(fh);
}

/* The kernel's BTF object of a module: its fd (for attach_btf_obj_fd) and
 * its types split on vmlinux's. -1 when the kernel has none. */
static int module_btf(const char *module, struct btf *vmlinux,
                      struct btf **out) {
  __u32 id = 0;

  *out = NULL;
  while (bpf_btf_get_next_id(id, &id) == 0) {
    char name[64] = "";
    struct bpf_btf_info info;
    __u32 len = sizeof(info);
    int fd = bpf_btf_get_fd_by_id(id);

    if (fd < 0)
      continue;
    memset(&info, 0, sizeof(info));
    info.name = (__u64)(uintptr_t)name;
    info.name_len = sizeof(name);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
        strcmp(name, module) == 0) {
      *out = btf__load_from_kernel_by_id_split(id, vmlinux);
      if (*out != NULL)
        return fd;
    }
    close(fd);
  }
  return -1;
}

/* The verifier's last words, or errno's. */
static void load_error(char *why, size_t size, int err, const char *log) {
  const char *end = log + strlen(log), *line;

  while (end > log && (end[-1] == '\n' || end[-1] == ' '))
    end--;
  line = end;
  while (line > log && line[-1] != '\n')
    line--;
  if (line < end)
    snprintf(why, size, "%s; verifier: %.*s", strerror(err), (int)(end - line),
             line);
  else
    snprintf(why, size, "%s", strerror(err));
}

static int load_prog(int mode, int dir, const char *name, __u32 btf_id,
                     int btf_obj_fd, char *why, size_t why_size) {
  static char log[16384];
  LIBBPF_OPTS(bpf_prog_load_opts, opts);
  enum bpf_prog_type type = BPF_PROG_TYPE_KPROBE;
  int fd;

  if (mode == MODE_FENTRY) {
    type = BPF_PROG_TYPE_TRACING;
    opts.expected_attach_type = tracing_types[dir];
    opts.attach_btf_id = btf_id;
    opts.attach_btf_obj_fd = btf_obj_fd > 0 ? btf_obj_fd : 0;
  }
  fd = bpf_prog_load(type, name, "GPL", code[mode][dir].insns,
                     code[mode][dir].cnt, &opts);
  if (fd >= 0)
    return fd;
  /* Again with the verifier's log, to say why. */
  log[0] = '\0';
  opts.log_buf = log;
  opts.log_size = sizeof(log);
  opts.log_level = 1;
  fd = bpf_prog_load(type, name, "GPL", code[mode][dir].insns,
                     code[mode][dir].cnt, &opts);
  if (fd >= 0)
    return fd;
  load_error(why, why_size, errno, log);
  return -1;
}

static void load_all(const char *object) {
  struct bpf_object *obj = bpf_object__open_file(object, NULL);
  struct btf *vmlinux;
  struct {
    char name[64];
    int fd;
    struct btf *btf;
  } mods[8];
  int nr_mods = 0;

  if (obj == NULL) {
    fprintf(stderr, "floor: cannot open %s: %s\n", object, strerror(errno));
    exit(1);
  }
  for (int m = 0; m < NR_MODES; m++)
    for (int d = 0; d < NR_DIRS; d++) {
      struct bpf_program *p =
          bpf_object__find_program_by_name(obj, prog_names[m][d]);
      if (p == NULL) {
        fprintf(stderr, "floor: no program %s in %s\n", prog_names[m][d],
                object);
        exit(1);
      }
      code[m][d].insns = bpf_program__insns(p);
      code[m][d].cnt = bpf_program__insn_cnt(p);
    }
  vmlinux = btf__load_vmlinux_btf();
  if (vmlinux == NULL)
    fprintf(stderr, "floor: no vmlinux BTF (%s): fentry impossible\n",
            strerror(errno));

  for (int i = 0; i < nr_hooks; i++) {
    hook_t *h = &hooks[i];
    struct btf *btf = vmlinux;
    int btf_fd = 0;
    char why[512];

    if (!h->present) {
      printf("absent %s\n", h->func);
      continue;
    }
    if (h->module[0] != '\0') {
      int k;
      for (k = 0; k < nr_mods; k++)
        if (strcmp(mods[k].name, h->module) == 0)
          break;
      if (k == nr_mods && nr_mods < (int)(sizeof(mods) / sizeof(mods[0]))) {
        snprintf(mods[k].name, sizeof(mods[k].name), "%s", h->module);
        mods[k].fd =
            vmlinux ? module_btf(h->module, vmlinux, &mods[k].btf) : -1;
        nr_mods++;
      }
      btf = k < nr_mods ? mods[k].btf : NULL;
      btf_fd = k < nr_mods ? mods[k].fd : -1;
    }
    for (int m = 0; m < NR_MODES; m++) {
      __u32 btf_id = 0;

      if (m == MODE_FENTRY) {
        int id = btf ? btf__find_by_name_kind(btf, h->func, BTF_KIND_FUNC) : -1;
        if (id <= 0) {
          printf("load %s %s failed: no BTF for it (module %s)\n",
                 mode_names[m], h->func, h->module[0] ? h->module : "vmlinux");
          continue;
        }
        btf_id = (__u32)id;
      }
      h->loaded[m] = true;
      for (int d = 0; d < NR_DIRS && h->loaded[m]; d++) {
        h->prog[m][d] =
            load_prog(m, d, prog_names[m][d], btf_id, btf_fd, why, sizeof(why));
        if (h->prog[m][d] < 0) {
          printf("load %s %s failed: %s %s\n", mode_names[m], h->func,
                 dir_names[d], why);
          h->loaded[m] = false;
        }
      }
      if (h->loaded[m])
        printf("load %s %s ok\n", mode_names[m], h->func);
    }
  }
  /* The module BTF fds stay open: loaded programs hold their own
   * references, and the process ends with the benchmark anyway. */
  for (int k = 0; k < nr_mods; k++)
    btf__free(mods[k].btf);
  btf__free(vmlinux);
  /* The instructions live in the object. */
}

static int read_int_file(const char *path, const char *fmt, int *out) {
  FILE *fh = fopen(path, "r");
  int ok;

  if (fh == NULL)
    return -1;
  ok = fscanf(fh, fmt, out) == 1;
  fclose(fh);
  return ok ? 0 : -1;
}

/* A kprobe or kretprobe perf event on FUNC, as libbpf opens one. */
static int kprobe_event(const char *func, bool ret, char *why, size_t size) {
  struct perf_event_attr attr;
  int type, bit = 0, fd;

  if (read_int_file("/sys/bus/event_source/devices/kprobe/type", "%d", &type) !=
      0) {
    snprintf(why, size, "no kprobe PMU (/sys/bus/event_source/devices/kprobe)");
    return -1;
  }
  if (ret &&
      read_int_file("/sys/bus/event_source/devices/kprobe/format/retprobe",
                    "config:%d", &bit) != 0) {
    snprintf(why, size, "kprobe PMU without retprobe format");
    return -1;
  }
  memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.type = (__u32)type;
  attr.config = ret ? 1ULL << bit : 0;
  attr.config1 = (__u64)(uintptr_t)func;
  attr.config2 = 0;
  fd = (int)syscall(__NR_perf_event_open, &attr, -1, 0, -1,
                    PERF_FLAG_FD_CLOEXEC);
  if (fd < 0)
    snprintf(why, size, "perf_event_open: %s", strerror(errno));
  return fd;
}

static int attach_one(hook_t *h, int m, int d, char *why, size_t size) {
  int prog = h->prog[m][d];

  libbpf_warning[0] = '\0';
  if (m == MODE_FENTRY) {
    /* libbpf falls back to BPF_RAW_TRACEPOINT_OPEN on old kernels. */
    h->link[m][d] = bpf_link_create(prog, 0, tracing_types[d], NULL);
    if (h->link[m][d] < 0) {
      snprintf(why, size, "%s%s%s", strerror(errno),
               libbpf_warning[0] ? "; " : "", libbpf_warning);
      return -1;
    }
    return 0;
  }
  h->perf[m][d] = kprobe_event(h->func, d == DIR_EXIT, why, size);
  if (h->perf[m][d] < 0)
    return -1;
  h->link[m][d] = bpf_link_create(prog, h->perf[m][d], BPF_PERF_EVENT, NULL);
  if (h->link[m][d] < 0 &&
      ioctl(h->perf[m][d], PERF_EVENT_IOC_SET_BPF, prog) < 0) {
    snprintf(why, size, "attaching to the perf event: %s", strerror(errno));
    return -1;
  }
  if (ioctl(h->perf[m][d], PERF_EVENT_IOC_ENABLE, 0) < 0) {
    snprintf(why, size, "enabling the perf event: %s", strerror(errno));
    return -1;
  }
  return 0;
}

static void detach_one(hook_t *h, int m, int d) {
  if (h->link[m][d] >= 0)
    close(h->link[m][d]);
  if (h->perf[m][d] >= 0)
    close(h->perf[m][d]);
  h->link[m][d] = -1;
  h->perf[m][d] = -1;
}

static int detach_all(void) {
  int n = 0;

  for (int i = 0; i < nr_hooks; i++)
    for (int m = 0; m < NR_MODES; m++)
      for (int d = 0; d < NR_DIRS; d++) {
        n += hooks[i].link[m][d] >= 0 || hooks[i].perf[m][d] >= 0;
        detach_one(&hooks[i], m, d);
      }
  return n;
}

static void attach_mode(int m) {
  int n = 0;
  char why[512];

  for (int i = 0; i < nr_hooks; i++) {
    hook_t *h = &hooks[i];

    if (!h->loaded[m])
      continue;
    /* Exit before entry, as the plugin does. */
    if (attach_one(h, m, DIR_EXIT, why, sizeof(why)) != 0) {
      printf("attach-failed %s %s exit: %s\n", mode_names[m], h->func, why);
      detach_one(h, m, DIR_EXIT);
      continue;
    }
    if (attach_one(h, m, DIR_ENTRY, why, sizeof(why)) != 0) {
      printf("attach-failed %s %s entry: %s\n", mode_names[m], h->func, why);
      detach_one(h, m, DIR_ENTRY);
      detach_one(h, m, DIR_EXIT);
      continue;
    }
    n += 2;
  }
  printf("attached %s %d\n", mode_names[m], n);
}

static void prog_stats(int fd, __u64 *cnt, __u64 *ns) {
  struct bpf_prog_info info;
  __u32 len = sizeof(info);

  memset(&info, 0, sizeof(info));
  *cnt = *ns = 0;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
    *cnt = info.run_cnt;
    *ns = info.run_time_ns;
  }
}

static void stats_mode(int m) {
  for (int i = 0; i < nr_hooks; i++) {
    __u64 c[NR_DIRS], ns[NR_DIRS];

    if (!hooks[i].loaded[m])
      continue;
    for (int d = 0; d < NR_DIRS; d++)
      prog_stats(hooks[i].prog[m][d], &c[d], &ns[d]);
    printf("stat %s %s %llu %llu %llu %llu\n", mode_names[m], hooks[i].func,
           (unsigned long long)c[DIR_ENTRY], (unsigned long long)ns[DIR_ENTRY],
           (unsigned long long)c[DIR_EXIT], (unsigned long long)ns[DIR_EXIT]);
  }
}

static int mode_of(const char *word) {
  for (int m = 0; m < NR_MODES; m++)
    if (word != NULL && strcmp(word, mode_names[m]) == 0)
      return m;
  return -1;
}

int main(int argc, char **argv) {
  char line[256];

  if (argc < 3) {
    fprintf(stderr, "usage: %s OBJECT FUNC...\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  libbpf_set_print(on_libbpf_print);
  nr_hooks = argc - 2;
  hooks = calloc((size_t)nr_hooks, sizeof(*hooks));
  if (hooks == NULL)
    return 1;
  for (int i = 0; i < nr_hooks; i++) {
    hooks[i].func = argv[i + 2];
    for (int m = 0; m < NR_MODES; m++)
      for (int d = 0; d < NR_DIRS; d++)
        hooks[i].prog[m][d] = hooks[i].link[m][d] = hooks[i].perf[m][d] = -1;
  }
  find_functions();
  load_all(argv[1]);
  printf("end\n");

  while (fgets(line, sizeof(line), stdin) != NULL) {
    char *save = NULL;
    char *cmd = strtok_r(line, " \t\n", &save);
    char *arg = strtok_r(NULL, " \t\n", &save);
    int m = mode_of(arg);

    if (cmd == NULL)
      continue;
    if (strcmp(cmd, "attach") == 0 && m >= 0)
      attach_mode(m);
    else if (strcmp(cmd, "detach") == 0)
      printf("detached %d\n", detach_all());
    else if (strcmp(cmd, "stats") == 0 && m >= 0)
      stats_mode(m);
    else if (strcmp(cmd, "quit") == 0)
      break;
    else
      printf("error unknown command\n");
    printf("end\n");
  }
  detach_all();
  return 0;
}
