/*
 * Fuzz target: runtime state files (containerd / CRI-O config.json, Docker
 * config.v2.json) through runtime_json_parse_file, the entry the scanner
 * uses for every bundle. The input is the file's content; it is written to
 * a scratch bundle directory and parsed once for each runtime kind, because
 * the kind decides where the parser looks (OCI annotations or Docker's
 * Config.Labels) and the corpus holds all three shapes.
 *
 * Checked besides memory safety: a pod identity is only ever returned with
 * names that pass the DNS-1123 checks, failures leave no names behind,
 * every output string is terminated inside its buffer, and no descriptor
 * is leaked.
 */
#include "collectd_compat.h"

#include "log_once.h"
#include "mock_collectd.h"
#include "runtime_json.h"

#include "fuzz_common.h"

static int fd_baseline = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  mock_log_set_echo(false); /* every rejected input is logged once */
  fuzz_scratch_open();
  fd_baseline = fuzz_lowest_free_fd();
  return 0;
}

static bool terminated(const char *s, size_t size) {
  return memchr(s, '\0', size) != NULL;
}

static bool uid_chars_ok(const char *s) {
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || *s == '-'))
      return false;
  return true;
}

static void check_result(int status, const runtime_container_t *c,
                         runtime_kind_t kind) {
  FUZZ_CHECK(c->kind == kind);
  FUZZ_CHECK(terminated(c->ns, sizeof(c->ns)));
  FUZZ_CHECK(terminated(c->pod, sizeof(c->pod)));
  FUZZ_CHECK(terminated(c->container, sizeof(c->container)));
  FUZZ_CHECK(terminated(c->pod_uid, sizeof(c->pod_uid)));
  FUZZ_CHECK(terminated(c->cgroups_path, sizeof(c->cgroups_path)));
  if (status != 0 || !c->is_pod) {
    /* "drop any half-validated names" */
    FUZZ_CHECK(!c->is_pod);
    FUZZ_CHECK(c->ns[0] == '\0' && c->pod[0] == '\0' &&
               c->container[0] == '\0' && c->pod_uid[0] == '\0');
    return;
  }
  FUZZ_CHECK(status == 0);
  FUZZ_CHECK(runtime_dns1123_label(c->ns, RUNTIME_NS_MAX));
  FUZZ_CHECK(runtime_dns1123_subdomain(c->pod, RUNTIME_POD_MAX));
  if (c->sandbox)
    FUZZ_CHECK(strcmp(c->container, RUNTIME_SANDBOX_NAME) == 0);
  else
    FUZZ_CHECK(runtime_dns1123_label(c->container, RUNTIME_CONTAINER_MAX));
  FUZZ_CHECK(uid_chars_ok(c->pod_uid));
  /* no control character can reach a label value */
  for (const char *p = c->cgroups_path; *p; p++)
    FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const struct {
    runtime_kind_t kind;
    const char *name;
  } kinds[] = {
      {RUNTIME_KIND_CONTAINERD, "config.json"},
      {RUNTIME_KIND_CRIO, "config.json"},
      {RUNTIME_KIND_DOCKER, "config.v2.json"},
  };
  int dir = fuzz_scratch_open();
  fuzz_scratch_write("config.json", data, size);
  fuzz_scratch_write("config.v2.json", data, size);

  /* any_owner: the scratch files are ours, not root's, when not root */
  safe_file_policy_t policy = {.max_size = 0, .any_owner = true};
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
    runtime_container_t c;
    memset(&c, 0xa5, sizeof(c)); /* the parser must set every field */
    int status = runtime_json_parse_file(dir, kinds[i].name, kinds[i].kind,
                                         &policy, "fuzz", &c);
    FUZZ_CHECK(status == 0 || status == -EBADMSG);
    check_result(status, &c, kinds[i].kind);
  }
  FUZZ_CHECK(fuzz_lowest_free_fd() == fd_baseline);
  return 0;
}
