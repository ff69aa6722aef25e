/*
 * pods: busy pods for the collectd benchmark in the VM (vm-guest.sh). One
 * process per pod, each moved into its container's cgroup before its first
 * NFS call, so the plugin's kernel maps hold real keys: per pod and per
 * mount directory, every INTERVAL seconds, open, 4 KiB pwrite, 4 KiB pread,
 * fstat and close of its own file (the plugin's open, write, read, getattr
 * and close: 5 keys per pod and mount).
 *
 *   pods INTERVAL DIR... < CGROUPS
 *
 * CGROUPS has one line per pod: the cgroup directories to join (one per
 * hierarchy, separated by spaces). The pods start their rounds spread over
 * the interval, so the NFS work does not come in one burst. pods prints
 * "ready N" once every pod has done its first round, then runs until
 * killed (its pods get SIGTERM when it dies: PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PODS 4096
#define LINE_MAX_LEN 8192

static void die(const char *what) {
  fprintf(stderr, "pods: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void join_cgroups(char *line) {
  char pid[32];
  snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
  for (char *dir = strtok(line, " \n"); dir != NULL;
       dir = strtok(NULL, " \n")) {
    char path[LINE_MAX_LEN + 32];
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
      die(path);
    close(fd);
  }
}

/* One round: the five operations on each directory's file of this pod. */
static int one_round(int pod, char **dirs, int n_dirs) {
  static char block[4096];
  for (int i = 0; i < n_dirs; i++) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/pod-%d", dirs[i], pod);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
      return -1;
    struct stat st;
    if (pwrite(fd, block, sizeof(block), 0) != sizeof(block) ||
        pread(fd, block, sizeof(block), 0) != sizeof(block) ||
        fstat(fd, &st) != 0) {
      close(fd);
      return -1;
    }
    if (close(fd) != 0)
      return -1;
  }
  return 0;
}

static void sleep_s(double s) {
  struct timespec ts = {.tv_sec = (time_t)s,
                        .tv_nsec = (long)((s - (time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: pods INTERVAL DIR... < CGROUPS\n");
    return 2;
  }
  double interval = atof(argv[1]);
  char **dirs = argv + 2;
  int n_dirs = argc - 2;
  if (interval <= 0)
    return 2;

  /* Each child reports its first round through this pipe. */
  int ready[2];
  if (pipe(ready) != 0)
    die("pipe");
  char *lines[MAX_PODS];
  int n = 0;
  char buf[LINE_MAX_LEN];
  while (n < MAX_PODS && fgets(buf, sizeof(buf), stdin) != NULL)
    if ((lines[n] = strdup(buf)) != NULL)
      n++;
  for (int pod = 0; pod < n; pod++) {
    pid_t child = fork();
    if (child < 0)
      die("fork");
    if (child > 0)
      continue;
    close(ready[0]);
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() == 1)
      _exit(1);
    join_cgroups(lines[pod]);
    sleep_s(interval * pod / n);
    char status = one_round(pod, dirs, n_dirs) == 0 ? 'y' : 'n';
    if (write(ready[1], &status, 1) != 1)
      _exit(1);
    close(ready[1]);
    for (;;) {
      sleep_s(interval);
      if (one_round(pod, dirs, n_dirs) != 0) {
        fprintf(stderr, "pods: pod %d: %s\n", pod, strerror(errno));
        _exit(1);
      }
    }
  }
  close(ready[1]);
  int good = 0, bad = 0;
  char status;
  while (good + bad < n && read(ready[0], &status, 1) == 1)
    *(status == 'y' ? &good : &bad) += 1;
  printf("ready %d\n", good);
  if (bad > 0)
    fprintf(stderr, "pods: %d pods failed their first round\n", bad);
  fflush(stdout);
  /* Until killed; a child that fails is reported once. */
  for (;;) {
    int wstatus;
    pid_t gone = wait(&wstatus);
    if (gone < 0 && errno == ECHILD)
      return 1;
    if (gone > 0)
      fprintf(stderr, "pods: a pod process ended (status %d)\n", wstatus);
  }
}
