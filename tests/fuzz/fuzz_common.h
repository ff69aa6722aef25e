/*
 * Helpers shared by the fuzz targets in tests/fuzz. Each target defines
 * LLVMFuzzerTestOneInput (and maybe LLVMFuzzerInitialize); it is linked
 * either with libFuzzer (clang -fsanitize=fuzzer) or with replay_main.c,
 * the plain driver that runs every corpus file once.
 *
 * A target does more than "not crash": FUZZ_CHECK states what the parser
 * promises (output bounds, no leaked descriptor, agreement with a simple
 * reference model) and aborts when it does not hold, so libFuzzer records
 * the input as a finding just like a sanitizer report.
 */
#ifndef NFS_EBPF_FUZZ_COMMON_H
#define NFS_EBPF_FUZZ_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__,  \
              __LINE__);                                                       \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* The lowest free descriptor number. Taken before and after a call, it
 * shows a descriptor the call forgot to close (the sanitizers do not). */
static inline int fuzz_lowest_free_fd(void) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    close(fd);
  return fd;
}

/* A private scratch directory, on tmpfs when there is one, so writing each
 * input to a file costs no disk I/O. Created once, removed at exit; a
 * crash skips atexit, so run.sh points FUZZ_SCRATCH at a directory of its
 * own and removes that at the end. */
static char fuzz_scratch_dir[256];
static int fuzz_scratch_fd = -1;

static void fuzz_scratch_cleanup(void) {
  char cmd[300];
  if (fuzz_scratch_dir[0] == '\0')
    return;
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_scratch_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "fuzz: could not remove %s\n", fuzz_scratch_dir);
}

static inline int fuzz_scratch_open(void) {
  if (fuzz_scratch_fd >= 0)
    return fuzz_scratch_fd;
  const char *base = getenv("FUZZ_SCRATCH");
  if (base == NULL || base[0] == '\0')
    base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(fuzz_scratch_dir, sizeof(fuzz_scratch_dir),
           "%s/nfs_ebpf_fuzz_XXXXXX", base);
  if (mkdtemp(fuzz_scratch_dir) == NULL) {
    perror("fuzz: mkdtemp");
    exit(2);
  }
  fuzz_scratch_fd = open(fuzz_scratch_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fuzz_scratch_fd < 0) {
    perror("fuzz: open scratch dir");
    exit(2);
  }
  atexit(fuzz_scratch_cleanup);
  return fuzz_scratch_fd;
}

/* Replaces the file name in the scratch directory with exactly data. The
 * harness, not the code under test, failing here is fatal (exit 2). */
static inline void fuzz_scratch_write(const char *name, const uint8_t *data,
                                      size_t size) {
  int dir = fuzz_scratch_open();
  int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    perror("fuzz: create scratch file");
    exit(2);
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      perror("fuzz: write scratch file");
      exit(2);
    }
    done += (size_t)n;
  }
  close(fd);
}

/* Copy of data with a terminating NUL, in a buffer of exactly size + 1
 * bytes so ASan sees any read past the terminator. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (s == NULL)
    abort();
  if (size > 0)
    memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

#endif /* NFS_EBPF_FUZZ_COMMON_H */
