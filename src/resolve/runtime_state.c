/*
 * Container runtime state: see runtime_state.h.
 */
#include "collectd_compat.h"

#include "log_once.h"
#include "runtime_state.h"
#include "host_path.h"
#include "safe_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>

const char *const runtime_state_default_dirs[] = {
    "/run/containerd",                          /* containerd */
    "/run/k3s/containerd",                      /* k3s, RKE2 */
    "/var/snap/microk8s/common/run/containerd", /* microk8s */
    "/run/k0s/containerd",                      /* k0s */
    "/run/containers/storage",                  /* CRI-O (runroot) */
    "/var/lib/docker",                          /* Docker + cri-dockerd */
    NULL,
};

/* ---------------------------------------------------------------------- */
/* Name validation                                                        */

/* One dot-free part of a DNS-1123 name: [a-z0-9]([-a-z0-9]*[a-z0-9])?,
 * of any length (the callers bound the whole name). */
static bool dns1123_part(const char *s, size_t len) {
  if (len == 0)
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && i > 0 && i + 1 < len))
      return false;
  }
  return true;
}

bool runtime_dns1123_label(const char *s, size_t max_len) {
  size_t len = strlen(s);
  return len <= max_len && dns1123_part(s, len);
}

/* Kubernetes' IsDNS1123Subdomain: at most 253 characters of dot-separated
 * parts, each matching the label pattern. Unlike DNS itself it puts no
 * 63-character limit on a part, and pods of long generated names (a long
 * Job or Deployment name plus its suffixes) depend on that. */
bool runtime_dns1123_subdomain(const char *s, size_t max_len) {
  size_t len = strlen(s);
  if (len == 0 || len > max_len)
    return false;
  for (const char *p = s;;) {
    const char *dot = strchr(p, '.');
    size_t l = dot ? (size_t)(dot - p) : strlen(p);
    if (!dns1123_part(p, l))
      return false;
    if (dot == NULL)
      return true;
    p = dot + 1;
  }
}

static bool runtime_uid_ok(const char *s) {
  size_t len = strlen(s);
  if (len == 0 || len > RUNTIME_UID_MAX)
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'))
      return false;
  }
  return true;
}

/* ---------------------------------------------------------------------- */
/* Streaming extraction of the few fields we need                         */

typedef enum {
  FIELD_NS,
  FIELD_POD,
  FIELD_CONTAINER,
  FIELD_UID,
  FIELD_TYPE,
  FIELD_CGROUPS_PATH,
  FIELD_MAX,
} runtime_field_t;

/* Where each field lives: OCI annotations (containerd, CRI-O) or Docker's
 * Config.Labels. */
typedef struct {
  runtime_kind_t kind;
  const char *key;
  runtime_field_t field;
} runtime_key_map_t;

static const runtime_key_map_t runtime_keys[] = {
    {RUNTIME_KIND_CONTAINERD, "io.kubernetes.cri.sandbox-namespace", FIELD_NS},
    {RUNTIME_KIND_CONTAINERD, "io.kubernetes.cri.sandbox-name", FIELD_POD},
    {RUNTIME_KIND_CONTAINERD, "io.kubernetes.cri.container-name", FIELD_CONTAINER},
    {RUNTIME_KIND_CONTAINERD, "io.kubernetes.cri.sandbox-uid", FIELD_UID},
    {RUNTIME_KIND_CONTAINERD, "io.kubernetes.cri.container-type", FIELD_TYPE},
    {RUNTIME_KIND_CRIO, "io.kubernetes.pod.namespace", FIELD_NS},
    {RUNTIME_KIND_CRIO, "io.kubernetes.pod.name", FIELD_POD},
    {RUNTIME_KIND_CRIO, "io.kubernetes.container.name", FIELD_CONTAINER},
    {RUNTIME_KIND_CRIO, "io.kubernetes.pod.uid", FIELD_UID},
    {RUNTIME_KIND_CRIO, "io.kubernetes.cri-o.ContainerType", FIELD_TYPE},
    {RUNTIME_KIND_DOCKER, "io.kubernetes.pod.namespace", FIELD_NS},
    {RUNTIME_KIND_DOCKER, "io.kubernetes.pod.name", FIELD_POD},
    {RUNTIME_KIND_DOCKER, "io.kubernetes.container.name", FIELD_CONTAINER},
    {RUNTIME_KIND_DOCKER, "io.kubernetes.pod.uid", FIELD_UID},
    {RUNTIME_KIND_DOCKER, "io.kubernetes.docker.type", FIELD_TYPE},
};

/* Longest value kept per field; longer values are invalid, not cut. */
static const size_t runtime_field_max[FIELD_MAX] = {
    [FIELD_NS] = RUNTIME_NS_MAX,
    [FIELD_POD] = RUNTIME_POD_MAX,
    [FIELD_CONTAINER] = RUNTIME_CONTAINER_MAX,
    [FIELD_UID] = RUNTIME_UID_MAX,
    [FIELD_TYPE] = 32,
    [FIELD_CGROUPS_PATH] = RUNTIME_CGROUPS_PATH_MAX,
};

#define RUNTIME_KEY_KEEP 64 /* keys longer than this are never interesting */

typedef struct {
  runtime_kind_t kind;
  int depth;                                   /* open maps and arrays */
  bool is_map[RUNTIME_JSON_MAX_DEPTH + 1];     /* per level (1-based) */
  char key[4][RUNTIME_KEY_KEEP];               /* current key, levels 1..4 */
  char value[FIELD_MAX][RUNTIME_CGROUPS_PATH_MAX + 1];
  bool have[FIELD_MAX];
  const char *problem; /* why parsing was stopped */
} runtime_parse_t;

static int runtime_cb_start(runtime_parse_t *p, bool is_map) {
  if (p->depth >= RUNTIME_JSON_MAX_DEPTH) {
    p->problem = "JSON nested too deeply";
    return 0;
  }
  p->depth++;
  p->is_map[p->depth] = is_map;
  if (p->depth <= 4)
    p->key[p->depth - 1][0] = '\0';
  return 1;
}

static int runtime_cb_start_map(void *ctx) {
  return runtime_cb_start(ctx, true);
}
static int runtime_cb_start_array(void *ctx) {
  return runtime_cb_start(ctx, false);
}
static int runtime_cb_end(void *ctx) {
  runtime_parse_t *p = ctx;
  p->depth--;
  return 1;
}

static int runtime_cb_map_key(void *ctx, const unsigned char *key, size_t len) {
  runtime_parse_t *p = ctx;
  if (len > RUNTIME_JSON_MAX_STRING) {
    p->problem = "JSON key too long";
    return 0;
  }
  if (p->depth >= 1 && p->depth <= 4) {
    char *slot = p->key[p->depth - 1];
    if (len < RUNTIME_KEY_KEEP && memchr(key, '\0', len) == NULL) {
      memcpy(slot, key, len);
      slot[len] = '\0';
    } else {
      slot[0] = '\0'; /* matches nothing we look for */
    }
  }
  return 1;
}

/* Which field, if any, the string at the current position is. */
static int runtime_field_here(const runtime_parse_t *p) {
  if (p->kind == RUNTIME_KIND_DOCKER) {
    /* {"Config":{"Labels":{"<label>":"<value>"}}} */
    if (p->depth != 3 || !p->is_map[1] || !p->is_map[2] || !p->is_map[3] ||
        strcmp(p->key[0], "Config") != 0 || strcmp(p->key[1], "Labels") != 0)
      return -1;
  } else {
    if (p->depth != 2 || !p->is_map[1] || !p->is_map[2])
      return -1;
    if (strcmp(p->key[0], "linux") == 0 &&
        strcmp(p->key[1], "cgroupsPath") == 0)
      return FIELD_CGROUPS_PATH;
    if (strcmp(p->key[0], "annotations") != 0)
      return -1;
  }
  const char *k = p->key[p->depth - 1];
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(runtime_keys); i++)
    if (runtime_keys[i].kind == p->kind && strcmp(runtime_keys[i].key, k) == 0)
      return (int)runtime_keys[i].field;
  return -1;
}

static int runtime_cb_string(void *ctx, const unsigned char *s, size_t len) {
  runtime_parse_t *p = ctx;
  if (len > RUNTIME_JSON_MAX_STRING) {
    p->problem = "JSON string too long";
    return 0;
  }
  int field = runtime_field_here(p);
  if (field < 0)
    return 1;
  if (len > runtime_field_max[field]) {
    p->problem = "Kubernetes name too long";
    return 0;
  }
  for (size_t i = 0; i < len; i++) {
    if (s[i] < 0x20 || s[i] == 0x7f) {
      p->problem = "control character in a Kubernetes name";
      return 0;
    }
  }
  char *dst = p->value[field];
  if (p->have[field]) {
    /* A duplicated key could let a user annotation shadow the runtime's
     * own: refuse to pick one. */
    if (strlen(dst) != len || memcmp(dst, s, len) != 0) {
      p->problem = "duplicate Kubernetes annotation with different values";
      return 0;
    }
    return 1;
  }
  memcpy(dst, s, len);
  dst[len] = '\0';
  p->have[field] = true;
  return 1;
}

/* Numbers are kept as text and ignored, so no value can overflow. */
static int runtime_cb_number(void *ctx, const char *s, size_t len) {
  (void)ctx, (void)s, (void)len;
  return 1;
}
static int runtime_cb_null(void *ctx) {
  (void)ctx;
  return 1;
}
static int runtime_cb_bool(void *ctx, int b) {
  (void)ctx, (void)b;
  return 1;
}

static const yajl_callbacks runtime_callbacks = {
    .yajl_null = runtime_cb_null,
    .yajl_boolean = runtime_cb_bool,
    .yajl_number = runtime_cb_number,
    .yajl_string = runtime_cb_string,
    .yajl_start_map = runtime_cb_start_map,
    .yajl_map_key = runtime_cb_map_key,
    .yajl_end_map = runtime_cb_end,
    .yajl_start_array = runtime_cb_start_array,
    .yajl_end_array = runtime_cb_end,
};

/* Turns the extracted fields into a validated identity. Returns NULL if the
 * container is a Kubernetes one, or why it cannot be used. */
static const char *runtime_fill(const runtime_parse_t *p, runtime_container_t *out) {
  if (p->have[FIELD_CGROUPS_PATH])
    sstrncpy(out->cgroups_path, p->value[FIELD_CGROUPS_PATH],
             sizeof(out->cgroups_path));
  if (!p->have[FIELD_NS] && !p->have[FIELD_POD])
    return NULL; /* not a Kubernetes container: no pod identity, no error */

  const char *type = p->have[FIELD_TYPE] ? p->value[FIELD_TYPE] : "";
  out->sandbox = strcmp(type, "sandbox") == 0 || strcmp(type, "podsandbox") == 0;

  if (!p->have[FIELD_NS] || !runtime_dns1123_label(p->value[FIELD_NS], RUNTIME_NS_MAX))
    return "invalid or missing pod namespace";
  if (!p->have[FIELD_POD] ||
      !runtime_dns1123_subdomain(p->value[FIELD_POD], RUNTIME_POD_MAX))
    return "invalid or missing pod name";
  if (out->sandbox) {
    /* containerd gives sandboxes no container name; CRI-O and Docker call
     * them "POD". Either way it is the pod's infrastructure. */
    sstrncpy(out->container, RUNTIME_SANDBOX_NAME, sizeof(out->container));
  } else {
    if (!p->have[FIELD_CONTAINER] ||
        !runtime_dns1123_label(p->value[FIELD_CONTAINER], RUNTIME_CONTAINER_MAX))
      return "invalid or missing container name";
    sstrncpy(out->container, p->value[FIELD_CONTAINER], sizeof(out->container));
  }
  if (p->have[FIELD_UID]) {
    if (!runtime_uid_ok(p->value[FIELD_UID]))
      return "invalid pod uid";
    sstrncpy(out->pod_uid, p->value[FIELD_UID], sizeof(out->pod_uid));
  }
  sstrncpy(out->ns, p->value[FIELD_NS], sizeof(out->ns));
  sstrncpy(out->pod, p->value[FIELD_POD], sizeof(out->pod));
  out->is_pod = true;
  return NULL;
}

static const char *runtime_errno_problem(int err) {
  switch (err) {
  case ELOOP:
    return "is a symbolic link";
  case EINVAL:
    return "is not a regular file";
  case EPERM:
    return "is not owned by root";
  case EFBIG:
    return "is larger than the size cap";
  default:
    return NULL;
  }
}

/* One warning per problem and state file (rate-limited by log_once): the
 * file is ignored and its container falls back to its cgroup name. `what`
 * is the problem as the key names it, `text` as the line says it. */
static void runtime_warn_ignored(const char *where, const char *name,
                                 const char *what, const char *text) {
  char key[PATH_MAX + 64];
  snprintf(key, sizeof(key), "runtime_state:%s:%s", what, where);
  log_once(LOG_WARNING, key,
           "nfs_ebpf plugin: ignoring %s/%s: %s; its processes are reported "
           "under their cgroup",
           where, name, text);
}

int runtime_state_parse_file(int bundle_fd, const char *name,
                             runtime_kind_t kind,
                             const safe_file_policy_t *policy,
                             const char *where, runtime_container_t *out) {
  char text[64];
  memset(out, 0, sizeof(*out));
  out->kind = kind;

  int fd = safe_file_open(bundle_fd, name, policy, NULL);
  if (fd < 0) {
    const char *why = runtime_errno_problem(-fd);
    if (why != NULL) {
      snprintf(text, sizeof(text), "it %s", why);
      runtime_warn_ignored(where, name, why, text);
    }
    return fd;
  }

  runtime_parse_t *p = calloc(1, sizeof(*p));
  yajl_handle h = p ? yajl_alloc(&runtime_callbacks, NULL, p) : NULL;
  if (h == NULL) {
    free(p);
    close(fd);
    return -ENOMEM;
  }
  p->kind = kind;
  size_t max = (policy && policy->max_size) ? policy->max_size
                                            : SAFE_FILE_DEFAULT_MAX_SIZE;
  size_t total = 0;
  int status = 0;
  const char *problem = NULL;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      status = -errno;
      problem = "could not be read";
      break;
    }
    if (n == 0) {
      if (yajl_complete_parse(h) != yajl_status_ok) {
        status = -EBADMSG;
        problem = p->problem ? p->problem : "is not valid JSON";
      }
      break;
    }
    total += (size_t)n;
    if (total > max) { /* grew after fstat */
      status = -EFBIG;
      problem = "is larger than the size cap";
      break;
    }
    if (yajl_parse(h, (const unsigned char *)buf, (size_t)n) != yajl_status_ok) {
      status = -EBADMSG;
      /* yajl rejects invalid UTF-8 and raw control characters itself */
      problem = p->problem ? p->problem : "is not valid JSON (or not UTF-8)";
      break;
    }
  }
  yajl_free(h);
  close(fd);

  if (status == 0)
    problem = runtime_fill(p, out);
  free(p);
  if (problem != NULL) {
    runtime_warn_ignored(where, name, problem, problem);
    /* keep kind and cgroups path, drop any half-validated names */
    runtime_kind_t k = out->kind;
    char cg[sizeof(out->cgroups_path)];
    sstrncpy(cg, out->cgroups_path, sizeof(cg));
    memset(out, 0, sizeof(*out));
    out->kind = k;
    sstrncpy(out->cgroups_path, cg, sizeof(out->cgroups_path));
  }
  return status;
}

/* ---------------------------------------------------------------------- */
/* The table of containers and the scan of state directories              */

typedef struct {
  const char *subdir;    /* below the state dir, one component per '/' */
  runtime_kind_t kind;
  const char *inner_dir; /* below the bundle, or NULL */
  const char *file;
} runtime_layout_def_t;

static const runtime_layout_def_t runtime_layout_defs[] = {
    {"io.containerd.runtime.v2.task/k8s.io", RUNTIME_KIND_CONTAINERD, NULL,
     "config.json"},
    {"io.containerd.runtime.v1.linux/k8s.io", RUNTIME_KIND_CONTAINERD, NULL,
     "config.json"},
    {"overlay-containers", RUNTIME_KIND_CRIO, "userdata", "config.json"},
    {"containers", RUNTIME_KIND_DOCKER, NULL, "config.v2.json"},
};
#define RUNTIME_N_LAYOUTS STATIC_ARRAY_SIZE(runtime_layout_defs)
_Static_assert(RUNTIME_N_LAYOUTS == RUNTIME_LAYOUTS_PER_DIR,
               "runtime_state.h counts the layouts' watches");

typedef struct {
  const runtime_layout_def_t *def;
  char *path; /* host_root + state dir + subdir */
  int fd;     /* -1 while the directory does not exist */
  int wd;     /* inotify watch, -1 if none */
  bool dirty; /* re-list at the next poll */
  uint64_t scan;
} runtime_layout_t;

typedef struct runtime_node_s {
  runtime_container_t c;
  size_t layout;          /* index into rs->layouts */
  bool missing;           /* negative cache entry: looked up, not found */
  bool failed;            /* the file last parsed could not be used */
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;  /* identity of the file last parsed */
  uint64_t seen_scan;
  cdtime_t dead_since;
  struct runtime_node_s *next;
} runtime_node_t;

#define RUNTIME_BUCKETS 4096
/* Bundles watched while their state file is not written yet. */
#define RUNTIME_MAX_BUNDLE_WATCHES 1024
#define RUNTIME_BUNDLE_MASK                                                    \
  (IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW)

typedef struct {
  int wd;
  size_t layout;
  char id[RUNTIME_ID_LEN + 1];
} runtime_bundle_watch_t;

struct runtime_state_s {
  runtime_layout_t *layouts;
  size_t n_layouts;
  safe_file_policy_t policy;
  pthread_mutex_t *lock; /* the owner's (runtime_state_set_lock), or NULL */
  void (*scan_hook)(void *ctx); /* tests: once per layout listing, unlocked */
  void *scan_hook_ctx;
  size_t max_bundle_watches;
  size_t max_containers;
  cdtime_t tombstone_ttl;
  int inotify_fd;
  runtime_bundle_watch_t bundle_watches[RUNTIME_MAX_BUNDLE_WATCHES];
  size_t n_bundle_watches;
  runtime_node_t *buckets[RUNTIME_BUCKETS];
  size_t count;
};

static size_t runtime_hash(const char *id) {
  uint64_t h = 14695981039346656037ULL;
  for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
    h ^= *p;
    h *= 1099511628211ULL;
  }
  return (size_t)(h % RUNTIME_BUCKETS);
}

static bool runtime_id_ok(const char *id) {
  size_t len = strlen(id);
  if (len != RUNTIME_ID_LEN)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
      return false;
  return true;
}

static runtime_node_t *runtime_node_find(const runtime_state_t *rs, const char *id) {
  for (runtime_node_t *n = rs->buckets[runtime_hash(id)]; n; n = n->next)
    if (strcmp(n->c.id, id) == 0)
      return n;
  return NULL;
}

static void runtime_node_unlink(runtime_state_t *rs, runtime_node_t *victim) {
  runtime_node_t **pp = &rs->buckets[runtime_hash(victim->c.id)];
  while (*pp != victim)
    pp = &(*pp)->next;
  *pp = victim->next;
  free(victim);
  rs->count--;
}

/* Room for one more: forget misses first, then the oldest tombstone. */
static bool runtime_make_room(runtime_state_t *rs) {
  if (rs->count < rs->max_containers)
    return true;
  runtime_node_t *victim = NULL;
  for (size_t b = 0; b < RUNTIME_BUCKETS; b++)
    for (runtime_node_t *n = rs->buckets[b]; n; n = n->next) {
      if (n->c.alive && !n->missing)
        continue;
      if (victim == NULL || (n->missing && !victim->missing) ||
          (n->missing == victim->missing && n->dead_since < victim->dead_since))
        victim = n;
    }
  if (victim == NULL) {
    log_once(LOG_WARNING, "runtime_state:full",
             "nfs_ebpf plugin: more than %zu containers in the runtime state "
             "dirs; the others are reported under their cgroup",
             rs->max_containers);
    return false;
  }
  runtime_node_unlink(rs, victim);
  return true;
}

static runtime_node_t *runtime_node_add(runtime_state_t *rs, const char *id) {
  if (!runtime_make_room(rs))
    return NULL;
  runtime_node_t *n = calloc(1, sizeof(*n));
  if (n == NULL)
    return NULL;
  sstrncpy(n->c.id, id, sizeof(n->c.id));
  size_t b = runtime_hash(id);
  n->next = rs->buckets[b];
  rs->buckets[b] = n;
  rs->count++;
  return n;
}

/* Reads one bundle of a layout. Returns 0 if the container is now known,
 * -ENOENT if the bundle or its file does not exist (yet), other -errno. */
static int runtime_read_bundle(runtime_state_t *rs, size_t li, int layout_fd,
                               const char *id, cdtime_t now) {
  runtime_layout_t *l = &rs->layouts[li];
  char where[PATH_MAX];
  snprintf(where, sizeof(where), "%s/%s", l->path, id);

  /* O_NOFOLLOW on every component: a bundle replaced by a symlink (or a
   * symlinked userdata dir) is refused, so no read leaves the state dir.
   * rootfs/ and work are never opened. */
  int bundle_fd = safe_dir_open(layout_fd, id);
  if (bundle_fd < 0) {
    if (bundle_fd == -ELOOP || bundle_fd == -ENOTDIR) {
      char key[PATH_MAX + 32];
      snprintf(key, sizeof(key), "runtime_state:bundle-link:%s", where);
      log_once(LOG_WARNING, key,
               "nfs_ebpf plugin: ignoring %s: not a directory (symbolic link?)",
               where);
    }
    return bundle_fd;
  }
  int file_dir = bundle_fd;
  if (l->def->inner_dir != NULL) {
    file_dir = safe_dir_open(bundle_fd, l->def->inner_dir);
    if (file_dir < 0) {
      close(bundle_fd);
      return file_dir;
    }
  }

  runtime_node_t *n = runtime_node_find(rs, id);
  struct stat st;
  bool have_st = fstatat(file_dir, l->def->file, &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (!have_st || (S_ISREG(st.st_mode) && st.st_size == 0)) {
    /* An empty file is one being written (created, not filled yet): wait
     * for it like for a missing one rather than log it as invalid. */
    int err = have_st ? ENOENT : errno;
    if (file_dir != bundle_fd)
      close(file_dir);
    close(bundle_fd);
    return -err;
  }
  if (n != NULL && !n->missing && n->layout == li && n->dev == st.st_dev &&
      n->ino == st.st_ino && n->size == st.st_size &&
      n->mtime.tv_sec == st.st_mtim.tv_sec &&
      n->mtime.tv_nsec == st.st_mtim.tv_nsec) {
    /* unchanged since parsed: no work on a periodic rescan */
  } else {
    runtime_container_t parsed;
    int status = runtime_state_parse_file(file_dir, l->def->file, l->def->kind,
                                          &rs->policy, where, &parsed);
    if (status == -ENOENT) {
      if (file_dir != bundle_fd)
        close(file_dir);
      close(bundle_fd);
      return -ENOENT;
    }
    if (n == NULL && (n = runtime_node_add(rs, id)) == NULL) {
      if (file_dir != bundle_fd)
        close(file_dir);
      close(bundle_fd);
      return -ENOSPC;
    }
    /* A failed parse is remembered too (is_pod false, logged once), so a
     * bad file is not parsed again until it changes. */
    sstrncpy(parsed.id, id, sizeof(parsed.id));
    n->c = parsed;
    n->failed = status != 0;
    n->layout = li;
    n->missing = false;
    n->dev = st.st_dev;
    n->ino = st.st_ino;
    n->size = st.st_size;
    n->mtime = st.st_mtim;
  }
  n->c.alive = true;
  n->dead_since = 0;
  n->seen_scan = l->scan;
  (void)now;
  if (file_dir != bundle_fd)
    close(file_dir);
  close(bundle_fd);
  return 0;
}

/* Opens (or re-opens) a layout directory and its inotify watch. */
static void runtime_layout_open(runtime_state_t *rs, runtime_layout_t *l,
                                const char *root) {
  if (l->fd >= 0) {
    close(l->fd);
    l->fd = -1;
  }
  /* The configured state dir itself is trusted (the admin chose it); the
   * components below it are opened without following links. */
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char sub[128];
  sstrncpy(sub, l->def->subdir, sizeof(sub));
  char *save = NULL;
  for (char *c = strtok_r(sub, "/", &save); fd >= 0 && c != NULL;
       c = strtok_r(NULL, "/", &save)) {
    int next = safe_dir_open(fd, c);
    close(fd);
    fd = next;
  }
  l->fd = fd < 0 ? -1 : fd;
  if (l->fd >= 0 && rs->inotify_fd >= 0 && l->wd < 0) {
    l->wd = inotify_add_watch(rs->inotify_fd, l->path,
                              IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                  IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |
                                  IN_ONLYDIR | IN_DONT_FOLLOW);
    if (l->wd < 0)
      log_once(LOG_INFO, "runtime_state:inotify",
               "nfs_ebpf plugin: cannot watch %s (%s); relying on periodic "
               "rescans", l->path, strerror(errno));
  }
}

/* A bundle whose state file is not there yet: watch the bundle directory
 * (and CRI-O's userdata/ if it exists), so that writing the file, or
 * creating userdata/, re-lists the layout at once. */
static void runtime_watch_bundle(runtime_state_t *rs, size_t li, const char *id) {
  if (rs->inotify_fd < 0)
    return;
  const runtime_layout_t *l = &rs->layouts[li];
  for (int inner = 0; inner < (l->def->inner_dir ? 2 : 1); inner++) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s%s%s", l->path, id, inner ? "/" : "",
             inner ? l->def->inner_dir : "");
    int wd = inotify_add_watch(rs->inotify_fd, path, RUNTIME_BUNDLE_MASK);
    if (wd < 0)
      continue; /* no userdata/ yet, or no watches left: retried at ticks */
    bool known = false;
    for (size_t i = 0; i < rs->n_bundle_watches && !known; i++)
      known = rs->bundle_watches[i].wd == wd;
    if (known)
      continue;
    if (rs->n_bundle_watches >= rs->max_bundle_watches) {
      inotify_rm_watch(rs->inotify_fd, wd);
      log_once(LOG_INFO, "runtime_state:bundle-watches",
               "nfs_ebpf plugin: more than %zu bundles waiting for their "
               "state file; the others are retried once per read",
               rs->max_bundle_watches);
      return;
    }
    runtime_bundle_watch_t *w = &rs->bundle_watches[rs->n_bundle_watches++];
    w->wd = wd;
    w->layout = li;
    sstrncpy(w->id, id, sizeof(w->id));
  }
}

static void runtime_bundle_watch_drop(runtime_state_t *rs, size_t i, bool rm) {
  if (rm)
    inotify_rm_watch(rs->inotify_fd, rs->bundle_watches[i].wd);
  rs->bundle_watches[i] = rs->bundle_watches[--rs->n_bundle_watches];
}

/* The bundle's state file was read: its watches are no longer needed. */
static void runtime_unwatch_bundle(runtime_state_t *rs, const char *id) {
  for (size_t i = 0; i < rs->n_bundle_watches;) {
    if (strcmp(rs->bundle_watches[i].id, id) == 0)
      runtime_bundle_watch_drop(rs, i, true);
    else
      i++;
  }
}

static void runtime_lock(const runtime_state_t *rs) {
  if (rs->lock != NULL)
    pthread_mutex_lock(rs->lock);
}

static void runtime_unlock(const runtime_state_t *rs) {
  if (rs->lock != NULL)
    pthread_mutex_unlock(rs->lock);
}

void runtime_state_set_lock(runtime_state_t *rs, pthread_mutex_t *lock,
                            void (*scan_hook)(void *ctx), void *ctx) {
  rs->lock = lock;
  rs->scan_hook = scan_hook;
  rs->scan_hook_ctx = ctx;
}

/* Lists one layout directory and reads every bundle in it. The listing is
 * done without the owner's lock, and the lock is released between
 * bundles: a lookup waits for one bundle's read at most, never for the
 * scan of a node's thousands of containers. */
static void runtime_layout_scan(runtime_state_t *rs, size_t li, cdtime_t now) {
  runtime_layout_t *l = &rs->layouts[li];
  l->dirty = false;
  if (l->fd < 0)
    return;
  int list_fd = openat(l->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *dir = list_fd >= 0 ? fdopendir(list_fd) : NULL;
  if (dir == NULL) {
    if (list_fd >= 0)
      close(list_fd);
    return;
  }
  /* Bundles read from now on, by this scan or meanwhile by a lookup or
   * another scan, have seen_scan >= scan. */
  uint64_t scan = ++l->scan;
  bool hooked = false;
  for (;;) {
    char name[SAFE_FILE_MAX_NAME + 2];
    runtime_unlock(rs);
    if (!hooked && rs->scan_hook != NULL) {
      hooked = true;
      rs->scan_hook(rs->scan_hook_ctx);
    }
    struct dirent *de = readdir(dir);
    if (de != NULL)
      sstrncpy(name, de->d_name, sizeof(name));
    runtime_lock(rs);
    if (de == NULL)
      break;
    if (name[0] == '.')
      continue;
    if (!safe_file_name_ok(name, SAFE_FILE_MAX_NAME)) {
      char key[PATH_MAX + 32];
      snprintf(key, sizeof(key), "runtime_state:badname:%s", l->path);
      log_once(LOG_WARNING, key,
               "nfs_ebpf plugin: ignoring entries with unexpected names in %s",
               l->path);
      continue;
    }
    /* Cgroup paths only ever name 64-hex ids; other entries (non-CRI
     * containers, runtime housekeeping) cannot be matched anyway. */
    if (!runtime_id_ok(name))
      continue;
    if (l->fd < 0)
      break; /* closed meanwhile (the layout went away): a rescan follows */
    int status = runtime_read_bundle(rs, li, l->fd, name, now);
    const runtime_node_t *n = status == 0 ? runtime_node_find(rs, name) : NULL;
    if (status == -ENOENT) {
      l->dirty = true; /* created, config not written yet: retry soon */
      runtime_watch_bundle(rs, li, name);
    } else if (n != NULL && n->failed) {
      /* maybe read while being written: its close is worth an event */
      runtime_watch_bundle(rs, li, name);
    } else if (rs->n_bundle_watches > 0) {
      runtime_unwatch_bundle(rs, name);
    }
  }
  closedir(dir);

  for (size_t b = 0; b < RUNTIME_BUCKETS; b++)
    for (runtime_node_t *n = rs->buckets[b]; n; n = n->next)
      if (n->layout == li && !n->missing && n->c.alive && n->seen_scan < scan) {
        n->c.alive = false;
        n->dead_since = now ? now : 1;
      }
}

runtime_state_t *runtime_state_create(const runtime_state_config_t *cfg) {
  runtime_state_t *rs = calloc(1, sizeof(*rs));
  if (rs == NULL)
    return NULL;
  const char *const *dirs = cfg->state_dirs;
  size_t n_dirs = cfg->n_state_dirs;
  if (dirs == NULL) {
    dirs = runtime_state_default_dirs;
    for (n_dirs = 0; dirs[n_dirs] != NULL; n_dirs++)
      ;
  }
  rs->policy.max_size = cfg->max_file_size;
  rs->policy.any_owner = cfg->any_owner;
  rs->max_containers =
      cfg->max_containers ? cfg->max_containers : RUNTIME_DEFAULT_MAX_CONTAINERS;
  rs->tombstone_ttl = cfg->tombstone_ttl;
  rs->max_bundle_watches = cfg->max_bundle_watches;
  if (rs->max_bundle_watches == 0 ||
      rs->max_bundle_watches > RUNTIME_MAX_BUNDLE_WATCHES)
    rs->max_bundle_watches = RUNTIME_MAX_BUNDLE_WATCHES;
  rs->inotify_fd = -1;
  if (!cfg->no_inotify) {
    rs->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (rs->inotify_fd < 0)
      WARNING("nfs_ebpf plugin: inotify_init1 failed (%s); runtime state is "
              "refreshed by periodic rescans only", strerror(errno));
  }
  rs->layouts = calloc(n_dirs * RUNTIME_N_LAYOUTS, sizeof(*rs->layouts));
  if (rs->layouts == NULL) {
    runtime_state_destroy(rs);
    return NULL;
  }
  for (size_t d = 0; d < n_dirs; d++) {
    for (size_t k = 0; k < RUNTIME_N_LAYOUTS; k++) {
      runtime_layout_t *l = &rs->layouts[rs->n_layouts++];
      char dir[PATH_MAX], path[PATH_MAX];
      snprintf(dir, sizeof(dir), "%s/%s", dirs[d],
               runtime_layout_defs[k].subdir);
      host_path(path, sizeof(path), cfg->host_root, dir);
      l->def = &runtime_layout_defs[k];
      l->path = strdup(path);
      l->fd = -1;
      l->wd = -1;
      if (l->path == NULL) {
        runtime_state_destroy(rs);
        return NULL;
      }
    }
  }
  return rs;
}

void runtime_state_destroy(runtime_state_t *rs) {
  if (rs == NULL)
    return;
  for (size_t i = 0; i < rs->n_layouts; i++) {
    if (rs->layouts[i].fd >= 0)
      close(rs->layouts[i].fd);
    free(rs->layouts[i].path);
  }
  free(rs->layouts);
  if (rs->inotify_fd >= 0)
    close(rs->inotify_fd);
  for (size_t b = 0; b < RUNTIME_BUCKETS; b++)
    for (runtime_node_t *n = rs->buckets[b], *next; n; n = next) {
      next = n->next;
      free(n);
    }
  free(rs);
}

/* The state dir a layout belongs to: its path without the layout suffix. */
static void runtime_layout_root(const runtime_layout_t *l, char *root, size_t size) {
  sstrncpy(root, l->path, size);
  size_t pl = strlen(root), sl = strlen(l->def->subdir);
  if (pl > sl)
    root[pl - sl - 1] = '\0';
}

static void runtime_drop_misses(runtime_state_t *rs) {
  for (size_t b = 0; b < RUNTIME_BUCKETS; b++)
    for (runtime_node_t **pp = &rs->buckets[b]; *pp;) {
      runtime_node_t *n = *pp;
      if (n->missing) {
        *pp = n->next;
        free(n);
        rs->count--;
      } else {
        pp = &n->next;
      }
    }
}

static void runtime_expire(runtime_state_t *rs, cdtime_t now) {
  for (size_t b = 0; b < RUNTIME_BUCKETS; b++)
    for (runtime_node_t **pp = &rs->buckets[b]; *pp;) {
      runtime_node_t *n = *pp;
      if (!n->missing && !n->c.alive && now > n->dead_since &&
          now - n->dead_since > rs->tombstone_ttl) {
        *pp = n->next;
        free(n);
        rs->count--;
      } else {
        pp = &n->next;
      }
    }
}

int runtime_state_rescan(runtime_state_t *rs, cdtime_t now) {
  if (rs == NULL)
    return -EINVAL;
  runtime_drop_misses(rs);
  for (size_t i = 0; i < rs->n_layouts; i++) {
    char root[PATH_MAX];
    runtime_layout_root(&rs->layouts[i], root, sizeof(root));
    runtime_layout_open(rs, &rs->layouts[i], root);
    if (rs->layouts[i].fd < 0) {
      /* gone (or never there): everything it held has ended */
      rs->layouts[i].scan++;
      for (size_t b = 0; b < RUNTIME_BUCKETS; b++)
        for (runtime_node_t *n = rs->buckets[b]; n; n = n->next)
          if (n->layout == i && !n->missing && n->c.alive) {
            n->c.alive = false;
            n->dead_since = now ? now : 1;
          }
      continue;
    }
    runtime_layout_scan(rs, i, now);
  }
  int live = 0;
  for (size_t b = 0; b < RUNTIME_BUCKETS; b++)
    for (runtime_node_t *n = rs->buckets[b]; n; n = n->next)
      live += (!n->missing && n->c.alive);
  return live;
}

int runtime_state_poll(runtime_state_t *rs, cdtime_t now) {
  if (rs == NULL)
    return -EINVAL;
  bool overflow = false;
  if (rs->inotify_fd >= 0) {
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
      ssize_t len = read(rs->inotify_fd, buf, sizeof(buf));
      if (len <= 0)
        break; /* EAGAIN: drained */
      for (char *p = buf; p < buf + len;) {
        const struct inotify_event *ev = (const struct inotify_event *)p;
        if (ev->mask & IN_Q_OVERFLOW)
          overflow = true;
        for (size_t i = 0; i < rs->n_bundle_watches; i++) {
          runtime_bundle_watch_t *w = &rs->bundle_watches[i];
          if (w->wd != ev->wd)
            continue;
          /* the file closed after writing, or renamed into place (Docker),
           * or CRI-O's userdata/ created: not a file just opened */
          if ((ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) ||
              (ev->mask & (IN_CREATE | IN_ISDIR)) == (IN_CREATE | IN_ISDIR))
            rs->layouts[w->layout].dirty = true;
          if (ev->mask & IN_IGNORED) /* bundle removed */
            runtime_bundle_watch_drop(rs, i, false);
          break;
        }
        for (size_t i = 0; i < rs->n_layouts; i++) {
          if (rs->layouts[i].wd != ev->wd)
            continue;
          rs->layouts[i].dirty = true;
          if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
            rs->layouts[i].wd = -1;
            overflow = true; /* re-open the layout dirs */
          }
        }
        p += sizeof(*ev) + ev->len;
      }
    }
  }
  int relisted = 0;
  if (overflow) {
    /* Events were lost: only a full rescan is right. */
    log_once(LOG_INFO, "runtime_state:overflow",
             "nfs_ebpf plugin: runtime state changed faster than inotify "
             "reported it; rescanning all state dirs");
    runtime_state_rescan(rs, now);
    relisted = (int)rs->n_layouts;
  } else {
    for (size_t i = 0; i < rs->n_layouts; i++) {
      if (rs->layouts[i].dirty) {
        runtime_layout_scan(rs, i, now);
        relisted++;
      }
    }
  }
  runtime_expire(rs, now);
  return relisted;
}

int runtime_state_inotify_fd(const runtime_state_t *rs) {
  return rs ? rs->inotify_fd : -1;
}

const runtime_container_t *runtime_state_find(runtime_state_t *rs,
                                              const char *id, cdtime_t now) {
  if (rs == NULL || id == NULL || !runtime_id_ok(id))
    return NULL;
  runtime_node_t *n = runtime_node_find(rs, id);
  if (n != NULL && !n->missing && n->c.alive && rs->layouts[n->layout].fd >= 0) {
    /* The caller may keep the answer for a cgroup's lifetime, and the file
     * may have been read early (by the watcher, mid-write) or replaced
     * since (rename, symbolic link): check it again, a stat, and a parse
     * only if it changed. A bundle gone meanwhile keeps its last answer. */
    size_t li = n->layout;
    (void)runtime_read_bundle(rs, li, rs->layouts[li].fd, id, now);
    n = runtime_node_find(rs, id);
  }
  if (n != NULL)
    return n->missing ? NULL : &n->c;

  /* On demand: the bundle may have appeared since the last scan. */
  for (size_t i = 0; i < rs->n_layouts; i++) {
    runtime_layout_t *l = &rs->layouts[i];
    if (l->fd < 0) {
      char root[PATH_MAX];
      runtime_layout_root(l, root, sizeof(root));
      runtime_layout_open(rs, l, root);
      if (l->fd < 0)
        continue;
    }
    if (runtime_read_bundle(rs, i, l->fd, id, now) == 0) {
      n = runtime_node_find(rs, id);
      return n ? &n->c : NULL;
    }
  }
  /* Remember the miss until the next full rescan, so an id that belongs to
   * no runtime costs no file system work per interval. */
  if ((n = runtime_node_add(rs, id)) != NULL)
    n->missing = true;
  return NULL;
}

const runtime_container_t *runtime_state_find_pod(runtime_state_t *rs,
                                                  const char *pod_uid) {
  if (rs == NULL || pod_uid == NULL || pod_uid[0] == '\0')
    return NULL;
  const runtime_container_t *any = NULL;
  for (size_t b = 0; b < RUNTIME_BUCKETS; b++)
    for (runtime_node_t *n = rs->buckets[b]; n; n = n->next) {
      if (n->missing || !n->c.is_pod || strcmp(n->c.pod_uid, pod_uid) != 0)
        continue;
      if (n->c.sandbox)
        return &n->c;
      if (any == NULL)
        any = &n->c;
    }
  return any;
}

size_t runtime_state_count(const runtime_state_t *rs) {
  return rs ? rs->count : 0;
}
