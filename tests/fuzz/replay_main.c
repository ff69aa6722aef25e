/*
 * Plain driver for the fuzz targets: runs LLVMFuzzerTestOneInput once on
 * every file named on the command line (a directory stands for the files
 * in it, in name order). Built with gcc and without libFuzzer, it turns the
 * committed corpus into a regression test anywhere; with -fsanitize=address,
 * undefined a finding aborts the run with the sanitizer's report.
 *
 * Prints one "# replayed N inputs" line; exits 0 only if every input ran
 * (a crash never returns here at all).
 */
#include "fuzz_common.h"

#include <dirent.h>
#include <sys/stat.h>

/* Not every target needs an initialiser. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static size_t replayed;

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
    return -1;
  }
  uint8_t *data = NULL;
  size_t size = 0, capacity = 0;
  for (;;) {
    if (size == capacity) {
      capacity = capacity ? capacity * 2 : 4096;
      uint8_t *grown = realloc(data, capacity);
      if (grown == NULL)
        abort();
      data = grown;
    }
    size_t n = fread(data + size, 1, capacity - size, f);
    if (n == 0)
      break;
    size += n;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    free(data);
    return -1;
  }
  /* An exact-size copy, as libFuzzer passes it, so ASan sees overreads. */
  uint8_t *exact = malloc(size ? size : 1);
  if (exact == NULL)
    abort();
  if (size > 0)
    memcpy(exact, data, size);
  free(data);
  LLVMFuzzerTestOneInput(exact, size);
  free(exact);
  replayed++;
  return 0;
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode))
    return replay_file(path);

  DIR *d = opendir(path);
  if (d == NULL) {
    fprintf(stderr, "replay: cannot list %s: %s\n", path, strerror(errno));
    return -1;
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char **grown = realloc(names, (n + 1) * sizeof(*names));
    if (grown == NULL || (grown[n] = strdup(e->d_name)) == NULL)
      abort();
    names = grown;
    n++;
  }
  closedir(d);
  qsort(names, n, sizeof(*names), name_cmp);
  int status = 0;
  for (size_t i = 0; i < n; i++) {
    char child[4096];
    snprintf(child, sizeof(child), "%s/%s", path, names[i]);
    if (replay_path(child) != 0)
      status = -1;
    free(names[i]);
  }
  free(names);
  return status;
}

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize != NULL)
    LLVMFuzzerInitialize(&argc, &argv);
  int status = 0;
  for (int i = 1; i < argc; i++)
    if (replay_path(argv[i]) != 0)
      status = 1;
  printf("# replayed %zu inputs\n", replayed);
  if (replayed == 0) {
    fprintf(stderr, "replay: no input given or found\n");
    status = 1;
  }
  return status;
}
