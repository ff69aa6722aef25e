/*
 * Fuzz target: the plugin's <Plugin nfs_ebpf> block, through the real
 * nfs_ebpf_config() (src/nfs_ebpf.c is included to reach it) with the
 * daemon's config helpers from tests/unit/mock_collectd.c.
 *
 * The input is decoded into an oconfig tree with a small line syntax close
 * to collectd.conf, so the seeds are readable and libFuzzer's mutations of
 * keys and values stay meaningful:
 *
 *   Key value value ...      one child of the Plugin block
 *     Key value ...          (indented) a child of the previous child
 *   # comment
 *
 * A value is "a quoted string" (no escapes; ends at the next '"' or the end
 * of the line), true / false (boolean), a token strtod() takes whole
 * (number: also nan, inf, 0x1p-3), or else a bare string.
 *
 * After each input the plugin's shutdown frees what config kept, so
 * LeakSanitizer sees any option that leaks (a repeated HostRoot, say).
 * Checked besides memory safety: at most NFS_EBPF_MAX_BUCKETS bounds are
 * kept, MaxEntries stays in its documented range, and a rejected block is
 * reported with an error log line.
 */
#include "nfs_ebpf.c" /* static nfs_ebpf_config, nfs_ebpf_shutdown, conf_* */

#include "fake_kernel.h"
#include "mock_collectd.h"

#include "fuzz_common.h"

#include <ctype.h>

#define FUZZ_MAX_LINES 256 /* the tree stays small; deeper is not better */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  mock_log_set_echo(false);
  return 0;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Next token of the line at *p: a quoted string (quoted = true) or a run of
 * non-blank characters. Returns a malloc'd copy or NULL at the line's end. */
static char *next_token(const char **p, bool *quoted) {
  const char *s = *p;
  while (is_blank(*s))
    s++;
  if (*s == '\0') {
    *p = s;
    return NULL;
  }
  const char *start, *end;
  *quoted = (*s == '"');
  if (*quoted) {
    start = s + 1;
    end = strchr(start, '"');
    if (end == NULL)
      end = start + strlen(start);
    *p = *end == '"' ? end + 1 : end;
  } else {
    start = s;
    end = s;
    while (*end != '\0' && !is_blank(*end))
      end++;
    *p = end;
  }
  return fuzz_strndup((const uint8_t *)start, (size_t)(end - start));
}

static void add_value(oconfig_item_t *ci, const char *token, bool quoted) {
  if (quoted) {
    mock_config_add_string(ci, token);
    return;
  }
  if (strcmp(token, "true") == 0 || strcmp(token, "false") == 0) {
    mock_config_add_boolean(ci, token[0] == 't');
    return;
  }
  char *end = NULL;
  double d = strtod(token, &end);
  if (end != token && *end == '\0')
    mock_config_add_number(ci, d);
  else
    mock_config_add_string(ci, token);
}

/* Decodes the text into children of root. */
static void decode(oconfig_item_t *root, char *text) {
  int lines = 0;
  int last_child = -1; /* index, since adding children may move them */
  for (char *line = text; line != NULL && lines < FUZZ_MAX_LINES; lines++) {
    char *newline = strchr(line, '\n');
    if (newline != NULL)
      *newline = '\0';
    const char *p = line;
    bool nested = is_blank(*p);
    bool quoted = false;
    char *key = next_token(&p, &quoted);
    if (key != NULL && key[0] != '\0' && key[0] != '#') {
      oconfig_item_t *item;
      if (nested && last_child >= 0)
        item = mock_config_add_child(&root->children[last_child], key);
      else {
        item = mock_config_add_child(root, key);
        last_child = root->children_num - 1;
      }
      if (item == NULL)
        abort();
      char *token;
      while ((token = next_token(&p, &quoted)) != NULL) {
        add_value(item, token, quoted);
        free(token);
      }
    }
    free(key);
    line = newline ? newline + 1 : NULL;
  }
}

/* Back to a freshly loaded plugin (as nfs_ebpf_test's reset_plugin). */
static void reset_plugin(void) {
  nfs_ebpf_shutdown(); /* frees the strings and state dirs config kept */
  conf_attach_mode = TRACER_ATTACH_AUTO;
  conf_bucket_count = 0;
  conf_max_entries = NFS_EBPF_DEFAULT_MAX_ENTRIES;
  conf_retain_ended = 0;
  read_number = 0;
  fake_reset();
  mock_reset();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_strndup(data, size);
  oconfig_item_t *ci = mock_config_new("Plugin");
  if (ci == NULL)
    abort();
  mock_config_add_string(ci, "nfs_ebpf");
  decode(ci, text);
  free(text);

  int status = nfs_ebpf_config(ci);

  FUZZ_CHECK(conf_bucket_count <= NFS_EBPF_MAX_BUCKETS);
  FUZZ_CHECK(conf_max_entries >= 64 && conf_max_entries <= (1u << 22));
  FUZZ_CHECK(conf_attach_mode == TRACER_ATTACH_AUTO ||
             conf_attach_mode == TRACER_ATTACH_FENTRY ||
             conf_attach_mode == TRACER_ATTACH_KPROBE);
  for (size_t i = 0; i < conf_state_dir_count; i++)
    FUZZ_CHECK(conf_state_dirs[i] != NULL);
  /* a refused block says why */
  if (status != 0)
    FUZZ_CHECK(mock_log_count(LOG_ERR, "") > 0);

  mock_config_free(ci);
  reset_plugin();
  return 0;
}
