/*
 * Cgroup path patterns of kubelet and the container runtimes: see
 * cgroup_path.h. The patterns, with the systemd and cgroupfs drivers:
 *   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
 *   /kubepods.slice/kubepods-pod<uid_>.slice/crio-<id>.scope[/container]
 *   /kubepods.slice/.../crio-conmon-<id>.scope
 *   /kubepods/besteffort/pod<uid>/<id>
 *   /kubepods/pod<uid>/crio-<id>
 *   /system.slice/docker-<id>.scope
 */
#include "collectd_compat.h"

#include "cgroup_path.h"

static bool cgroup_is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool cgroup_has_suffix(const char *s, size_t len, const char *suffix,
                              size_t *stripped_len) {
  size_t sl = strlen(suffix);
  if (len < sl || memcmp(s + len - sl, suffix, sl) != 0)
    return false;
  *stripped_len = len - sl;
  return true;
}

static bool cgroup_has_prefix(const char *s, size_t len, const char *prefix) {
  size_t pl = strlen(prefix);
  return len >= pl && memcmp(s, prefix, pl) == 0;
}

static bool cgroup_contains(const char *s, size_t len, const char *needle) {
  size_t nl = strlen(needle);
  for (size_t i = 0; i + nl <= len; i++)
    if (memcmp(s + i, needle, nl) == 0)
      return true;
  return false;
}

bool cgroup_path_component_container(const char *comp, size_t len,
                                     char id[CGROUP_CONTAINER_ID_LEN + 1],
                                     runtime_kind_t *runtime) {
  size_t l = len;
  (void)cgroup_has_suffix(comp, len, ".scope", &l);

  /* "<slice>:cri-containerd:<id>" style names: the id follows the last ':' */
  const char *s = comp;
  for (size_t i = l; i > 0; i--) {
    if (comp[i - 1] == ':') {
      s = comp + i;
      l -= i;
      break;
    }
  }
  if (cgroup_contains(s, l, "conmon"))
    return false;

  /* one row per runtime with its own prefix (runtime_kind.h) */
  static const struct {
    const char *prefix;
    runtime_kind_t runtime;
  } prefixes[] = {
      {"cri-containerd-", RUNTIME_KIND_CONTAINERD},
      {"crio-", RUNTIME_KIND_CRIO},
      {"docker-", RUNTIME_KIND_DOCKER},
      {"libpod-", RUNTIME_KIND_LIBPOD},
  };
  runtime_kind_t rt = RUNTIME_KIND_PLAIN;
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(prefixes); i++) {
    if (cgroup_has_prefix(s, l, prefixes[i].prefix)) {
      size_t pl = strlen(prefixes[i].prefix);
      s += pl;
      l -= pl;
      rt = prefixes[i].runtime;
      break;
    }
  }
  if (l != CGROUP_CONTAINER_ID_LEN)
    return false;
  for (size_t i = 0; i < l; i++)
    if (!cgroup_is_lower_hex(s[i]))
      return false;
  memcpy(id, s, l);
  id[l] = '\0';
  if (runtime != NULL)
    *runtime = rt;
  return true;
}

/* A pod uid: 8-4-4-4-12 lower hex (API-created pods) or 32 lower hex (the
 * hash kubelet gives static pods). In systemd slice names '-' is written
 * '_' because '-' separates the slice hierarchy. */
static bool cgroup_uid_copy(const char *s, size_t len, char dash_as,
                            char uid[CGROUP_POD_UID_MAX + 1]) {
  if (len == 32) {
    for (size_t i = 0; i < len; i++)
      if (!cgroup_is_lower_hex(s[i]))
        return false;
    memcpy(uid, s, len);
    uid[len] = '\0';
    return true;
  }
  if (len != 36)
    return false;
  /* Validate the whole uid before writing any of it: a component that
   * fails late must leave the caller's "" untouched (found by fuzzing). */
  for (size_t i = 0; i < len; i++) {
    bool dash_pos = (i == 8 || i == 13 || i == 18 || i == 23);
    if (dash_pos ? s[i] != dash_as : !cgroup_is_lower_hex(s[i]))
      return false;
  }
  for (size_t i = 0; i < len; i++)
    uid[i] = s[i] == dash_as ? '-' : s[i];
  uid[len] = '\0';
  return true;
}

bool cgroup_path_component_pod(const char *comp, size_t len,
                               char uid[CGROUP_POD_UID_MAX + 1]) {
  size_t l;
  if (cgroup_has_suffix(comp, len, ".slice", &l)) {
    /* kubepods-pod<uid_>.slice, kubepods-burstable-pod<uid_>.slice */
    for (size_t i = l; i > 0; i--) {
      if (comp[i - 1] == '-') {
        const char *part = comp + i;
        size_t pl = l - i;
        if (pl > 3 && memcmp(part, "pod", 3) == 0)
          return cgroup_uid_copy(part + 3, pl - 3, '_', uid);
        return false;
      }
    }
    return false;
  }
  if (len > 3 && memcmp(comp, "pod", 3) == 0)
    return cgroup_uid_copy(comp + 3, len - 3, '-', uid);
  return false;
}

/* Splits path into its components (bounded: cgroup paths are short, but
 * a fake or hostile tree must not make us overrun). Returns how many, or
 * -1 for a path deeper than any runtime nests. */
enum { CGROUP_MAX_COMPONENTS = 64 };
static int cgroup_path_split(const char *path,
                             const char *start[CGROUP_MAX_COMPONENTS],
                             size_t len[CGROUP_MAX_COMPONENTS]) {
  int n = 0;
  for (const char *p = path; *p;) {
    while (*p == '/')
      p++;
    if (*p == '\0')
      break;
    const char *e = strchr(p, '/');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (n == CGROUP_MAX_COMPONENTS)
      return -1;
    start[n] = p;
    len[n] = l;
    n++;
    p += l;
  }
  return n;
}

int cgroup_path_below_container(const char *path) {
  const char *start[CGROUP_MAX_COMPONENTS];
  size_t len[CGROUP_MAX_COMPONENTS];
  int n = path ? cgroup_path_split(path, start, len) : 0;
  char id[CGROUP_CONTAINER_ID_LEN + 1];
  if (n < 0)
    return CGROUP_MAX_COMPONENTS; /* surely below one, if in any */
  for (int i = 0; i < n; i++)
    if (cgroup_path_component_container(start[i], len[i], id, NULL))
      return n - 1 - i;
  return -1;
}

void cgroup_path_parse(const char *path, cgroup_path_info_t *info) {
  memset(info, 0, sizeof(*info));
  if (path == NULL)
    return;

  const char *start[CGROUP_MAX_COMPONENTS];
  size_t len[CGROUP_MAX_COMPONENTS];
  int split = cgroup_path_split(path, start, len);
  if (split < 0)
    return; /* deeper than any runtime nests: leave it unrecognised */
  size_t n = (size_t)split;

  /* Top-down: the pod component, and a container id below it. kubelet
   * and the runtime create the path down to the container's cgroup; what
   * is below it the pod may shape itself (a delegated subtree), with names
   * copied from other pods. So the topmost match is the true one. */
  size_t pod_index = n;
  for (size_t i = 0; i < n; i++) {
    if (cgroup_path_component_pod(start[i], len[i], info->pod_uid)) {
      pod_index = i;
      break;
    }
  }
  size_t lowest = pod_index < n ? pod_index + 1 : 0;
  for (size_t i = lowest; i < n; i++) {
    const char *c = start[i];
    size_t l = len[i];
    if (cgroup_contains(c, l, "conmon")) {
      /* conmon supervises the container from outside it: its I/O is the
       * pod's, never the container's. */
      break;
    }
    if (cgroup_path_component_container(c, l, info->container_id, NULL))
      break;
  }
}

void cgroup_path_short_name(const char *path, char *buf, size_t size) {
  if (size == 0)
    return;
  const char *end = path ? path + strlen(path) : NULL;
  for (int skipped = 0; end != NULL;) {
    while (end > path && end[-1] == '/')
      end--;
    const char *begin = end;
    while (begin > path && begin[-1] != '/')
      begin--;
    size_t l = (size_t)(end - begin);
    if (l == 0)
      break;
    /* crun adds a "container" leaf inside the container's own cgroup:
     * the meaningful name is its parent's. */
    if (!skipped && l == 9 && memcmp(begin, "container", 9) == 0 &&
        begin > path + 1) {
      skipped = 1;
      end = begin;
      continue;
    }
    if (l >= size)
      l = size - 1;
    memcpy(buf, begin, l);
    buf[l] = '\0';
    return;
  }
  sstrncpy(buf, "/", size);
}
