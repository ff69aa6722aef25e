/*
 * Workloads of the overhead benchmark, on a cached NFS file set:
 *
 *   workload DIR [stat=N] [read=N] [open=N] [create=N] [warm=D]
 *
 *   stat    stat() of DIR/files/data                      (nfs_getattr)
 *   read    pread() of 4 KiB of DIR/files/data, cached     (nfs_file_read)
 *   open    open() + close() of DIR/files/data   (nfs_file_open, _flush)
 *   create  open(O_CREAT|O_EXCL) + close() + unlink() of a file in
 *           DIR/churn      (nfs_create or atomic_open, _open, _flush,
 *                           nfs_unlink, and the lookups on the way)
 *
 * Each workload named with a count runs N/D times untimed (warm-up: page
 * cache, dentries, and under TCG the translation of the code paths just
 * patched by an attach), then N times timed. One line per workload on
 * stdout: "NAME COUNT NANOSECONDS". Exits non-zero if a call fails.
 *
 * create works in its own directory so that its directory changes do not
 * invalidate the cached lookup of files/data used by the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define DATA_BLOCKS 16

static char data_path[4096];
static char churn_path[4096];

static void fail(const char *what, const char *path) {
  fprintf(stderr, "workload: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void run_stat(long n) {
  struct stat st;
  for (long i = 0; i < n; i++)
    if (stat(data_path, &st) != 0)
      fail("stat", data_path);
}

static int read_fd = -1;

static void run_read(long n) {
  static char buf[BLOCK];
  for (long i = 0; i < n; i++)
    if (pread(read_fd, buf, BLOCK, (off_t)(i % DATA_BLOCKS) * BLOCK) != BLOCK)
      fail("pread", data_path);
}

static void run_open(long n) {
  for (long i = 0; i < n; i++) {
    int fd = open(data_path, O_RDONLY);
    if (fd < 0)
      fail("open", data_path);
    if (close(fd) != 0)
      fail("close", data_path);
  }
}

static void run_create(long n) {
  for (long i = 0; i < n; i++) {
    int fd = open(churn_path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0)
      fail("create", churn_path);
    if (close(fd) != 0)
      fail("close", churn_path);
    if (unlink(churn_path) != 0)
      fail("unlink", churn_path);
  }
}

static const struct {
  const char *name;
  void (*run)(long);
} workloads[] = {
    {"stat", run_stat},
    {"read", run_read},
    {"open", run_open},
    {"create", run_create},
};
#define NR_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

int main(int argc, char **argv) {
  long counts[NR_WORKLOADS] = {0};
  long warm = 10;

  if (argc < 2) {
    fprintf(stderr,
            "usage: %s DIR [stat=N] [read=N] [open=N] [create=N] "
            "[warm=D]\n",
            argv[0]);
    return 2;
  }
  for (int a = 2; a < argc; a++) {
    const char *eq = strchr(argv[a], '=');
    size_t len = eq ? (size_t)(eq - argv[a]) : 0;
    size_t w;
    char *end;
    long v = eq ? strtol(eq + 1, &end, 10) : -1;

    if (eq == NULL || *end != '\0' || v < 0) {
      fprintf(stderr, "workload: bad argument %s\n", argv[a]);
      return 2;
    }
    if (len == 4 && strncmp(argv[a], "warm", 4) == 0) {
      warm = v;
      continue;
    }
    for (w = 0; w < NR_WORKLOADS; w++)
      if (strlen(workloads[w].name) == len &&
          strncmp(argv[a], workloads[w].name, len) == 0)
        break;
    if (w == NR_WORKLOADS) {
      fprintf(stderr, "workload: unknown workload in %s\n", argv[a]);
      return 2;
    }
    counts[w] = v;
  }
  snprintf(data_path, sizeof(data_path), "%s/files/data", argv[1]);
  snprintf(churn_path, sizeof(churn_path), "%s/churn/c.%d", argv[1],
           (int)getpid());
  read_fd = open(data_path, O_RDONLY);
  if (read_fd < 0)
    fail("open", data_path);

  for (size_t w = 0; w < NR_WORKLOADS; w++) {
    long long t0, t1;

    if (counts[w] == 0)
      continue;
    if (warm > 0)
      workloads[w].run(counts[w] / warm + 1);
    t0 = now_ns();
    workloads[w].run(counts[w]);
    t1 = now_ns();
    printf("%s %ld %lld\n", workloads[w].name, counts[w], t1 - t0);
    fflush(stdout);
  }
  close(read_fd);
  return 0;
}
