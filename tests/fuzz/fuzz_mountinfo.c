/*
 * Fuzz target: mountinfo. Two parts on the same input:
 *  1. every line through mountinfo_parse_line, each in an exact-size heap
 *     copy (a read past the terminator is an ASan report);
 *  2. the whole input as a mountinfo file through mount_table_create,
 *     mount_table_refresh(force) and mount_table_lookup.
 *
 * Part 2 is checked against a reference model built from part 1: the table
 * holds exactly the distinct devices of the nfs/nfs4 lines that parse, each
 * with the source and mount point of its first line and the source split at
 * its first ":/" (mount_table.h and identifier.h say so). The file is read with
 * NUL bytes turned into line breaks, and so is the model's text.
 */
#include "collectd_compat.h"

#include "mock_collectd.h"
#include "mount_table.h"

#include "fuzz_common.h"

typedef struct {
  uint32_t dev;
  char *source;
  char *mount_point;
  unsigned int lines;
} model_mount_t;

static int fd_baseline = -1;
static char mountinfo_path[512];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  mock_log_set_echo(false);
  fuzz_scratch_open();
  snprintf(mountinfo_path, sizeof(mountinfo_path), "%s/mountinfo",
           fuzz_scratch_dir);
  fd_baseline = fuzz_lowest_free_fd();
  return 0;
}

static bool within(const char *p, const char *buf, size_t len) {
  return p != NULL && p >= buf && p <= buf + len;
}

/* Parses one line in an exact-size copy; on success adds an NFS line to
 * the model. */
static void parse_one(const char *start, size_t len, model_mount_t **model,
                      size_t *n) {
  char *line = fuzz_strndup((const uint8_t *)start, len);
  mountinfo_line_t l;
  const char *why = NULL;
  int status = mountinfo_parse_line(line, &l, &why);
  if (status != 0) {
    FUZZ_CHECK(status == -1);
    FUZZ_CHECK(why != NULL && why[0] != '\0');
    free(line);
    return;
  }
  FUZZ_CHECK(l.major <= NFS_EBPF_DEV_MAJOR_MAX &&
             l.minor <= NFS_EBPF_DEV_MINOR_MASK);
  const char *fields[] = {l.root,   l.mount_point, l.mount_options,
                          l.fstype, l.source,      l.super_options};
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    FUZZ_CHECK(within(fields[i], line, len));
    FUZZ_CHECK(strchr(fields[i], '\n') == NULL || i == 0 || i == 1 || i == 4);
  }
  /* fstype and options are never unescaped: no space can be in them */
  FUZZ_CHECK(strchr(l.fstype, ' ') == NULL);
  FUZZ_CHECK(strchr(l.super_options, ' ') == NULL);

  if (len <= MOUNTINFO_MAX_LINE &&
      (strcmp(l.fstype, "nfs") == 0 || strcmp(l.fstype, "nfs4") == 0)) {
    uint32_t dev = mountinfo_kernel_dev(l.major, l.minor);
    for (size_t i = 0; i < *n; i++) {
      if ((*model)[i].dev == dev) {
        (*model)[i].lines++;
        free(line);
        return;
      }
    }
    model_mount_t *grown = realloc(*model, (*n + 1) * sizeof(**model));
    if (grown == NULL)
      abort();
    *model = grown;
    grown[*n] = (model_mount_t){.dev = dev,
                                .source = strdup(l.source),
                                .mount_point = strdup(l.mount_point),
                                .lines = 1};
    (*n)++;
  }
  free(line);
}

static void check_table(const mount_table_t *t, const model_mount_t *model,
                        size_t n) {
  FUZZ_CHECK(mount_table_count(t) == n);
  for (size_t i = 0; i < n; i++) {
    const nfs_mount_t *m = mount_table_lookup(t, model[i].dev);
    FUZZ_CHECK(m != NULL);
    FUZZ_CHECK(m->dev == model[i].dev);
    FUZZ_CHECK(strcmp(m->source, model[i].source) == 0);
    FUZZ_CHECK(strcmp(m->mount_point, model[i].mount_point) == 0);
    FUZZ_CHECK(m->lines == model[i].lines);
    FUZZ_CHECK(strcmp(m->fstype, "nfs") == 0 || strcmp(m->fstype, "nfs4") == 0);
    FUZZ_CHECK(memchr(m->version, '\0', sizeof(m->version)) != NULL);
    const char *split = strstr(m->source, ":/");
    if (split != NULL) {
      FUZZ_CHECK(strlen(m->server) == (size_t)(split - m->source));
      FUZZ_CHECK(strncmp(m->server, m->source, strlen(m->server)) == 0);
      FUZZ_CHECK(strcmp(m->export_, split + 1) == 0);
    } else {
      FUZZ_CHECK(strcmp(m->server, m->source) == 0);
      FUZZ_CHECK(m->export_[0] == '\0');
    }
  }
  /* a device in no line is not found */
  for (uint32_t probe = 0; probe < 4; probe++) {
    bool in_model = false;
    for (size_t i = 0; i < n; i++)
      in_model |= model[i].dev == probe;
    if (!in_model)
      FUZZ_CHECK(mount_table_lookup(t, probe) == NULL);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The model sees the text the table sees: NUL bytes become line breaks. */
  char *text = fuzz_strndup(data, size);
  for (size_t i = 0; i < size; i++)
    if (text[i] == '\0')
      text[i] = '\n';

  model_mount_t *model = NULL;
  size_t n = 0;
  for (char *line = text; *line != '\0';) {
    char *newline = strchr(line, '\n');
    size_t len = newline ? (size_t)(newline - line) : strlen(line);
    parse_one(line, len, &model, &n);
    line += len;
    if (*line == '\n')
      line++;
  }
  free(text);

  fuzz_scratch_write("mountinfo", data, size);
  mount_table_t *t = mount_table_create(mountinfo_path);
  FUZZ_CHECK(t != NULL); /* a readable file always gives a table */
  check_table(t, model, n);
  FUZZ_CHECK(mount_table_refresh(t, true) == 1);
  check_table(t, model, n);
  /* unchanged plain file: not re-read */
  FUZZ_CHECK(mount_table_refresh(t, false) == 0);
  mount_table_destroy(t);

  for (size_t i = 0; i < n; i++) {
    free(model[i].source);
    free(model[i].mount_point);
  }
  free(model);
  FUZZ_CHECK(fuzz_lowest_free_fd() == fd_baseline);
  return 0;
}
