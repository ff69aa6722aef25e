/*
 * Fuzz target: cgroup path parsing (cgroup_path_parse, the two component
 * matchers and cgroup_path_short_name). The input is a cgroup path; a NUL
 * in it ends the path, as it would in a directory walk.
 *
 * Checked besides memory safety: a container id is 64 lower-hex characters
 * (and, from the component matcher, comes with a runtime); a pod uid is in
 * '-' form; the short name fits every buffer size, is a prefix-cut of the
 * full name, and has no '/' (except the root's "/").
 */
#include "collectd_compat.h"

#include "cgroup_path.h"
#include "mock_collectd.h"

#include "fuzz_common.h"

static bool is_lower_hex(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

static void check_uid(const char *uid) {
  size_t len = strnlen(uid, CGROUP_POD_UID_MAX + 1);
  FUZZ_CHECK(len <= CGROUP_POD_UID_MAX);
  if (len == 0)
    return;
  FUZZ_CHECK(len == 32 || len == 36);
  for (size_t i = 0; i < len; i++) {
    if (len == 36 && (i == 8 || i == 13 || i == 18 || i == 23))
      FUZZ_CHECK(uid[i] == '-');
    else
      FUZZ_CHECK(is_lower_hex(uid + i, 1));
  }
}

static void check_parse(const char *path) {
  cgroup_path_info_t info;
  memset(&info, 0x5a, sizeof(info));
  cgroup_path_parse(path, &info);

  size_t id_len = strnlen(info.container_id, sizeof(info.container_id));
  FUZZ_CHECK(id_len < sizeof(info.container_id));
  if (id_len > 0) {
    FUZZ_CHECK(id_len == CGROUP_CONTAINER_ID_LEN);
    FUZZ_CHECK(is_lower_hex(info.container_id, id_len));
  }
  check_uid(info.pod_uid);
}

/* Every component on its own through the two matchers. */
static void check_components(const char *path) {
  for (const char *p = path; *p;) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    /* an exact-size copy, so a read past the component is caught */
    char *comp = fuzz_strndup((const uint8_t *)p, len);
    char id[CGROUP_CONTAINER_ID_LEN + 1];
    runtime_kind_t rt = RUNTIME_KIND_NONE;
    if (cgroup_path_component_container(comp, len, id, &rt)) {
      FUZZ_CHECK(strlen(id) == CGROUP_CONTAINER_ID_LEN);
      FUZZ_CHECK(is_lower_hex(id, CGROUP_CONTAINER_ID_LEN));
      FUZZ_CHECK(rt != RUNTIME_KIND_NONE);
      FUZZ_CHECK(strstr(comp, id) != NULL);
    }
    char uid[CGROUP_POD_UID_MAX + 1];
    if (cgroup_path_component_pod(comp, len, uid)) {
      FUZZ_CHECK(uid[0] != '\0');
      check_uid(uid);
    }
    free(comp);
    p += len;
    if (*p == '/')
      p++;
  }
}

static void check_short_name(const char *path) {
  static const size_t sizes[] = {1, 2, 8, 64, 256, 4096};
  char full[8192];
  cgroup_path_short_name(path, full, sizeof(full));
  size_t full_len = strnlen(full, sizeof(full));
  FUZZ_CHECK(full_len < sizeof(full));
  FUZZ_CHECK(full_len > 0); /* a component, or "/" for the root */
  if (strcmp(full, "/") != 0)
    FUZZ_CHECK(strchr(full, '/') == NULL);

  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    size_t size = sizes[i];
    /* exact-size heap buffer: a write past size is an ASan report */
    char *buf = malloc(size);
    if (buf == NULL)
      abort();
    cgroup_path_short_name(path, buf, size);
    size_t len = strnlen(buf, size);
    FUZZ_CHECK(len < size);
    /* the cut name is the start of the uncut one */
    FUZZ_CHECK(strncmp(buf, full, len) == 0);
    FUZZ_CHECK(len == (full_len < size ? full_len : size - 1));
    free(buf);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *path = fuzz_strndup(data, size);
  check_parse(path);
  check_components(path);
  check_short_name(path);
  free(path);
  return 0;
}
