/*
 * One runtime state file to one container record: see runtime_json.h.
 */
#include "collectd_compat.h"

#include "log_once.h"
#include "runtime_json.h"
#include "safe_file.h"

#include <errno.h>
#include <limits.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>

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

/* The fields read from Kubernetes labels come first. */
typedef enum {
  FIELD_NS,
  FIELD_POD,
  FIELD_CONTAINER,
  FIELD_UID,
  FIELD_TYPE,
  FIELD_CGROUPS_PATH,
  FIELD_MAX,
} runtime_field_t;
#define FIELD_N_LABELS FIELD_CGROUPS_PATH

/* Where one runtime's state file keeps what we need: the object of
 * Kubernetes labels (a path of keys from the top), the label key of each
 * field, and whether linux.cgroupsPath is read (OCI config.json only). One
 * row per runtime; the layouts that lead to these files are
 * runtime_layout_defs in runtime_state.c. */
typedef struct {
  runtime_kind_t kind;
  const char *labels[2]; /* NULL-padded */
  const char *keys[FIELD_N_LABELS];
  bool oci_cgroups_path;
} runtime_json_def_t;

static const runtime_json_def_t runtime_json_defs[] = {
    {
        .kind = RUNTIME_KIND_CONTAINERD,
        .labels = {"annotations"},
        .keys = {[FIELD_NS] = "io.kubernetes.cri.sandbox-namespace",
                 [FIELD_POD] = "io.kubernetes.cri.sandbox-name",
                 [FIELD_CONTAINER] = "io.kubernetes.cri.container-name",
                 [FIELD_UID] = "io.kubernetes.cri.sandbox-uid",
                 [FIELD_TYPE] = "io.kubernetes.cri.container-type"},
        .oci_cgroups_path = true,
    },
    {
        .kind = RUNTIME_KIND_CRIO,
        .labels = {"annotations"},
        .keys = {[FIELD_NS] = "io.kubernetes.pod.namespace",
                 [FIELD_POD] = "io.kubernetes.pod.name",
                 [FIELD_CONTAINER] = "io.kubernetes.container.name",
                 [FIELD_UID] = "io.kubernetes.pod.uid",
                 [FIELD_TYPE] = "io.kubernetes.cri-o.ContainerType"},
        .oci_cgroups_path = true,
    },
    {
        /* cri-dockerd's labels: {"Config":{"Labels":{...}}} */
        .kind = RUNTIME_KIND_DOCKER,
        .labels = {"Config", "Labels"},
        .keys = {[FIELD_NS] = "io.kubernetes.pod.namespace",
                 [FIELD_POD] = "io.kubernetes.pod.name",
                 [FIELD_CONTAINER] = "io.kubernetes.container.name",
                 [FIELD_UID] = "io.kubernetes.pod.uid",
                 [FIELD_TYPE] = "io.kubernetes.docker.type"},
        .oci_cgroups_path = false,
    },
};

static const runtime_json_def_t *runtime_json_def(runtime_kind_t kind) {
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(runtime_json_defs); i++)
    if (runtime_json_defs[i].kind == kind)
      return &runtime_json_defs[i];
  return NULL;
}

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
  const runtime_json_def_t *def;           /* NULL: no state files */
  int depth;                               /* open maps and arrays */
  bool is_map[RUNTIME_JSON_MAX_DEPTH + 1]; /* per level (1-based) */
  char key[4][RUNTIME_KEY_KEEP];           /* current key, levels 1..4 */
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

/* Which field, if any, the string at the current position is: linux.
 * cgroupsPath, or a known key directly in the runtime's labels object,
 * every level down to it an object. */
static int runtime_field_here(const runtime_parse_t *p) {
  const runtime_json_def_t *def = p->def;
  if (def == NULL)
    return -1;
  if (def->oci_cgroups_path && p->depth == 2 && p->is_map[1] && p->is_map[2] &&
      strcmp(p->key[0], "linux") == 0 && strcmp(p->key[1], "cgroupsPath") == 0)
    return FIELD_CGROUPS_PATH;
  int label_depth = def->labels[1] != NULL ? 2 : 1;
  if (p->depth != label_depth + 1)
    return -1;
  for (int d = 1; d <= p->depth; d++)
    if (!p->is_map[d])
      return -1;
  for (int i = 0; i < label_depth; i++)
    if (strcmp(p->key[i], def->labels[i]) != 0)
      return -1;
  const char *k = p->key[label_depth];
  for (int f = 0; f < FIELD_N_LABELS; f++)
    if (def->keys[f] != NULL && strcmp(def->keys[f], k) == 0)
      return f;
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
static const char *runtime_fill(const runtime_parse_t *p,
                                runtime_container_t *out) {
  if (p->have[FIELD_CGROUPS_PATH])
    sstrncpy(out->cgroups_path, p->value[FIELD_CGROUPS_PATH],
             sizeof(out->cgroups_path));
  if (!p->have[FIELD_NS] && !p->have[FIELD_POD])
    return NULL; /* not a Kubernetes container: no pod identity, no error */

  const char *type = p->have[FIELD_TYPE] ? p->value[FIELD_TYPE] : "";
  out->sandbox =
      strcmp(type, "sandbox") == 0 || strcmp(type, "podsandbox") == 0;

  if (!p->have[FIELD_NS] ||
      !runtime_dns1123_label(p->value[FIELD_NS], RUNTIME_NS_MAX))
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
        !runtime_dns1123_label(p->value[FIELD_CONTAINER],
                               RUNTIME_CONTAINER_MAX))
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

int runtime_json_parse_file(int bundle_fd, const char *name,
                            runtime_kind_t kind,
                            const safe_file_policy_t *policy, const char *where,
                            runtime_container_t *out) {
  int fd = safe_file_open(bundle_fd, name, policy, NULL);
  if (fd < 0) {
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    const char *why = runtime_errno_problem(-fd);
    if (why != NULL) {
      char text[64];
      snprintf(text, sizeof(text), "it %s", why);
      runtime_warn_ignored(where, name, why, text);
    }
    return fd;
  }
  int status = runtime_json_parse_fd(fd, name, kind, policy, where, out);
  close(fd);
  return status;
}

int runtime_json_parse_fd(int fd, const char *name, runtime_kind_t kind,
                          const safe_file_policy_t *policy, const char *where,
                          runtime_container_t *out) {
  memset(out, 0, sizeof(*out));
  out->kind = kind;

  runtime_parse_t *p = calloc(1, sizeof(*p));
  yajl_handle h = p ? yajl_alloc(&runtime_callbacks, NULL, p) : NULL;
  if (h == NULL) {
    free(p);
    return -ENOMEM;
  }
  p->def = runtime_json_def(kind);
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
    if (yajl_parse(h, (const unsigned char *)buf, (size_t)n) !=
        yajl_status_ok) {
      status = -EBADMSG;
      /* yajl rejects invalid UTF-8 and raw control characters itself */
      problem = p->problem ? p->problem : "is not valid JSON (or not UTF-8)";
      break;
    }
  }
  yajl_free(h);

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
