/*
 * nfs-ebpf-top: the NFS work of each pod on this node, like nfsiostat but
 * per pod, read from the collectd that runs nfs_ebpf (its unixsock plugin,
 * or write_prometheus' page). See nfs-ebpf-top.1 and the README's "A look
 * at one node".
 */
#include "top.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* collectd's unixsock default (LOCALSTATEDIR "/run/collectd-unixsock";
 * Debian and the RPM distributions build collectd with /var). */
#define DEFAULT_SOCKET "/var/run/collectd-unixsock"
#define DEFAULT_INTERVAL 5.0
/* GETVAL commands sent before reading their answers (about 100 and 40
 * bytes each: far below a unix socket's buffer). */
#define GETVAL_BATCH 128
/* A write_prometheus page larger than this is not read. */
#define MAX_PAGE (256u << 20)

static const char *socket_path = DEFAULT_SOCKET;
static const char *prom_addr; /* host:port, or NULL for unixsock */

static void usage(FILE *out) {
  fprintf(
      out,
      "Usage: nfs-ebpf-top [-1] [-c] [-m] [-t] [-x] [-i SECONDS] [-n ROWS]\n"
      "                    [-o ops|bytes|mean|p99|errors|name] [-H HOST]\n"
      "                    [-s SOCKET | -w HOST:PORT]\n"
      "The NFS work of each pod on this node, from the collectd running the\n"
      "nfs_ebpf plugin: operations, bytes read and written, mean and 99th\n"
      "percentile latency, errors (per second, or -t since the plugin "
      "started).\n"
      "  -s SOCKET  collectd's unixsock plugin socket (default %s)\n"
      "  -w H:P     read write_prometheus' http://H:P/metrics instead\n"
      "  -i SECONDS refresh interval (default %g); keep it at most collectd's\n"
      "             Interval, and with -1 at least that (see the manual)\n"
      "  -n ROWS    rows shown (default 20, 0: all)\n"
      "  -o KEY     sort by ops (default), bytes, mean, p99, errors or name\n"
      "  -c         a row per container instead of per pod\n"
      "  -m         a row per NFS mount (server:export) as well\n"
      "  -t         totals since the plugin started (needs -w: unixsock\n"
      "             only answers rates)\n"
      "  -x         exact numbers: no units, latency in seconds\n"
      "  -H HOST    only values of collectd host HOST\n"
      "  -1         print one table and exit (two samples -i apart,\n"
      "             or one with -t)\n",
      DEFAULT_SOCKET, DEFAULT_INTERVAL);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- collectd's unixsock ---- */

/* Reads one line; returns 0 or -1 (EOF, error, too long). */
static int read_line(FILE *in, char *buf, size_t size) {
  if (fgets(buf, (int)size, in) == NULL)
    return -1;
  if (strchr(buf, '\n') == NULL)
    return -1;
  return 0;
}

static int sample_unixsock(top_sample_t *s) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof(sa.sun_path)) {
    fprintf(stderr, "nfs-ebpf-top: socket path too long: %s\n", socket_path);
    return -1;
  }
  strcpy(sa.sun_path, socket_path);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    fprintf(stderr,
            "nfs-ebpf-top: cannot connect to collectd's unixsock at %s: %s\n"
            "  (is \"LoadPlugin unixsock\" in collectd's configuration? -s "
            "names another socket, -w reads write_prometheus instead)\n",
            socket_path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  int fd2 = dup(fd);
  FILE *in = fdopen(fd, "r");
  FILE *out = fd2 >= 0 ? fdopen(fd2, "w") : NULL;
  if (in == NULL || out == NULL) {
    fprintf(stderr, "nfs-ebpf-top: fdopen: %s\n", strerror(errno));
    if (in)
      fclose(in);
    else
      close(fd);
    if (fd2 >= 0 && out == NULL)
      close(fd2);
    if (out)
      fclose(out);
    return -1;
  }

  int status = -1;
  char line[2048];
  size_t num_ids = 0;
  struct id {
    double time;
    char name[4 * TOP_NAME_LEN];
  } *ids = NULL;

  fputs("LISTVAL\n", out);
  fflush(out);
  int n;
  if (read_line(in, line, sizeof(line)) != 0 ||
      (n = top_parse_status(line)) < 0) {
    fprintf(stderr, "nfs-ebpf-top: LISTVAL failed: %s", line);
    goto done;
  }
  ids = calloc(n ? (size_t)n : 1, sizeof(*ids));
  if (ids == NULL)
    goto done;
  for (int i = 0; i < n; i++) {
    if (read_line(in, line, sizeof(line)) != 0 ||
        top_parse_listval_line(line, &ids[num_ids].time, ids[num_ids].name,
                               sizeof(ids[num_ids].name)) != 0) {
      fprintf(stderr, "nfs-ebpf-top: bad LISTVAL line: %s", line);
      goto done;
    }
    if (top_listval_wanted(ids[num_ids].name))
      num_ids++;
  }

  /* GETVALs go in batches: one round trip per batch instead of per value
   * (thousands of values on a busy node). collectd answers in order; a
   * batch's commands and answers fit in the socket buffers, so neither side
   * blocks writing. */
  for (size_t first = 0; first < num_ids; first += GETVAL_BATCH) {
    size_t end =
        first + GETVAL_BATCH < num_ids ? first + GETVAL_BATCH : num_ids;
    for (size_t i = first; i < end; i++) {
      char quoted[8 * TOP_NAME_LEN];
      if (top_quote(ids[i].name, quoted, sizeof(quoted)) != 0)
        ids[i].name[0] = '\0'; /* cannot be asked: skipped below */
      else
        fprintf(out, "GETVAL %s\n", quoted);
    }
    fflush(out);
    for (size_t i = first; i < end; i++) {
      if (ids[i].name[0] == '\0')
        continue;
      char answer[2 * sizeof(line)];
      if (read_line(in, answer, sizeof(line)) != 0)
        goto done;
      int values = top_parse_status(answer);
      size_t len = strlen(answer);
      for (int v = 0; v < values; v++) {
        if (read_line(in, line, sizeof(line)) != 0)
          goto done;
        if (len + strlen(line) < sizeof(answer)) {
          strcpy(answer + len, line);
          len += strlen(line);
        }
      }
      if (top_add_getval(s, ids[i].name, ids[i].time, answer) < 0)
        goto done;
    }
  }
  status = 0;
done:
  free(ids);
  fclose(out);
  fclose(in);
  return status;
}

/* ---- write_prometheus ---- */

static char *http_get(const char *addr) {
  char host[256];
  const char *colon = strrchr(addr, ':');
  if (colon == NULL || (size_t)(colon - addr) >= sizeof(host)) {
    fprintf(stderr, "nfs-ebpf-top: -w wants HOST:PORT, not %s\n", addr);
    return NULL;
  }
  memcpy(host, addr, (size_t)(colon - addr));
  host[colon - addr] = '\0';
  /* [::1]:9103 */
  char *h = host;
  if (h[0] == '[' && h[strlen(h) - 1] == ']') {
    h[strlen(h) - 1] = '\0';
    h++;
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
  int err = getaddrinfo(h, colon + 1, &hints, &res);
  if (err != 0) {
    fprintf(stderr, "nfs-ebpf-top: %s: %s\n", addr, gai_strerror(err));
    return NULL;
  }
  int fd = -1;
  for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    fprintf(stderr,
            "nfs-ebpf-top: cannot connect to write_prometheus at %s: %s\n",
            addr, strerror(errno));
    return NULL;
  }
  char req[512];
  int len = snprintf(req, sizeof(req),
                     "GET /metrics HTTP/1.0\r\nHost: %s\r\n"
                     "Accept: text/plain\r\n\r\n",
                     addr);
  char *page = NULL;
  size_t used = 0, cap = 0;
  if (len < 0 || (size_t)len >= sizeof(req) ||
      write(fd, req, (size_t)len) != len) {
    fprintf(stderr, "nfs-ebpf-top: cannot send the request to %s\n", addr);
    goto fail;
  }
  for (;;) {
    if (cap - used < 65536) {
      cap = cap ? 2 * cap : 1 << 20;
      char *p = cap <= MAX_PAGE ? realloc(page, cap + 1) : NULL;
      if (p == NULL) {
        fprintf(stderr, "nfs-ebpf-top: the page at %s is too large\n", addr);
        goto fail;
      }
      page = p;
    }
    ssize_t n = read(fd, page + used, cap - used);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      fprintf(stderr, "nfs-ebpf-top: reading %s: %s\n", addr, strerror(errno));
      goto fail;
    }
    if (n == 0)
      break;
    used += (size_t)n;
  }
  close(fd);
  page[used] = '\0';
  if (strncmp(page, "HTTP/1.", 7) != 0 || strncmp(page + 8, " 200", 4) != 0) {
    fprintf(stderr, "nfs-ebpf-top: %s answered: %.*s\n", addr,
            (int)strcspn(page, "\r\n"), page);
    free(page);
    return NULL;
  }
  return page;
fail:
  close(fd);
  free(page);
  return NULL;
}

static int sample_prometheus(top_sample_t *s) {
  double fetched = now();
  char *page = http_get(prom_addr);
  if (page == NULL)
    return -1;
  char *body = strstr(page, "\r\n\r\n");
  int n = body ? top_parse_prometheus(body + 4, fetched, s) : -1;
  free(page);
  return n < 0 ? -1 : 0;
}

static int sample(top_sample_t *s) {
  return prom_addr ? sample_prometheus(s) : sample_unixsock(s);
}

/* ---- main ---- */

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void sleep_seconds(double s) {
  struct timespec ts = {.tv_sec = (time_t)s,
                        .tv_nsec = (long)((s - floor(s)) * 1e9)};
  while (!stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

static int frame(top_sample_t *cur, const top_opts_t *o, double interval,
                 bool clear) {
  top_table_t t = {0};
  if (top_aggregate(cur, o, &t) != 0) {
    fprintf(stderr, "nfs-ebpf-top: out of memory\n");
    return -1;
  }
  if (clear)
    fputs("\033[H\033[2J", stdout);
  char when[64];
  time_t tt = time(NULL);
  strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&tt));
  printf("nfs-ebpf-top  %s  %s  %s %s  ", t.host, when,
         prom_addr ? "write_prometheus" : "unixsock",
         prom_addr ? prom_addr : socket_path);
  if (o->totals)
    printf("totals since the plugin started");
  else
    printf("per second, every %gs", interval);
  if (t.has_lost)
    printf("  lost events %.*f%s", o->totals ? 0 : 1, t.lost,
           o->totals ? "" : "/s");
  if (t.undecoded)
    printf("  (%zu values not decoded)", t.undecoded);
  printf("\n");
  top_print(stdout, &t, o);
  fflush(stdout);
  top_table_free(&t);
  return 0;
}

int main(int argc, char **argv) {
  top_opts_t o = {.rows = 20, .sort = TOP_SORT_OPS};
  double interval = DEFAULT_INTERVAL;
  bool once = false;
  int c;
  while ((c = getopt(argc, argv, "1cmtxhi:n:o:s:w:H:")) != -1) {
    char *end;
    switch (c) {
    case '1':
      once = true;
      break;
    case 'c':
      o.per_container = true;
      break;
    case 'm':
      o.per_mount = true;
      break;
    case 't':
      o.totals = true;
      break;
    case 'x':
      o.exact = true;
      break;
    case 'i':
      interval = strtod(optarg, &end);
      if (end == optarg || *end != '\0' || !(interval >= 0.1) ||
          interval > 86400) {
        fprintf(stderr, "nfs-ebpf-top: -i wants seconds (0.1 to 86400)\n");
        return 2;
      }
      break;
    case 'n': {
      long n = strtol(optarg, &end, 10);
      if (end == optarg || *end != '\0' || n < 0 || n > 1000000) {
        fprintf(stderr, "nfs-ebpf-top: -n wants a number of rows\n");
        return 2;
      }
      o.rows = (size_t)n;
      break;
    }
    case 'o': {
      static const char *keys[] = {"ops", "bytes",  "mean",
                                   "p99", "errors", "name"};
      size_t k = 0;
      while (k < sizeof(keys) / sizeof(keys[0]) && strcmp(keys[k], optarg))
        k++;
      if (k == sizeof(keys) / sizeof(keys[0])) {
        fprintf(stderr, "nfs-ebpf-top: -o wants ops, bytes, mean, p99, "
                        "errors or name\n");
        return 2;
      }
      o.sort = (top_sort_t)k;
      break;
    }
    case 's':
      socket_path = optarg;
      break;
    case 'w':
      prom_addr = optarg;
      break;
    case 'H':
      o.host = optarg;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return 2;
  }
  if (o.totals && prom_addr == NULL) {
    fprintf(stderr, "nfs-ebpf-top: -t needs -w HOST:PORT: collectd's "
                    "unixsock answers rates, not totals\n");
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  bool tty = isatty(STDOUT_FILENO);

  top_sample_t prev = {0}, cur = {0};
  int status = 0;
  if (sample(&prev) != 0)
    return 1;
  if (o.totals && once) {
    status = frame(&prev, &o, interval, false);
    top_sample_free(&prev);
    return status ? 1 : 0;
  }
  top_rates(&prev, NULL);
  /* Rates from write_prometheus need a second sample; unixsock's come
   * from collectd's cache at once (but the latency sum's does not). */
  if (!once && (o.totals || prom_addr == NULL))
    frame(&prev, &o, interval, tty);
  while (!stop) {
    sleep_seconds(interval);
    if (stop)
      break;
    if (sample(&cur) != 0) {
      status = 1;
      top_sample_free(&cur);
      if (once)
        break;
      continue; /* collectd restarting: try again */
    }
    status = 0;
    top_rates(&cur, &prev);
    if (frame(&cur, &o, interval, tty && !once) != 0) {
      status = 1;
      break;
    }
    top_sample_free(&prev);
    prev = cur;
    memset(&cur, 0, sizeof(cur));
    if (once)
      break;
  }
  top_sample_free(&prev);
  top_sample_free(&cur);
  return status;
}
