/*
 * Tests for nfs-ebpf-top's model (tools/nfs-ebpf-top/top.c) on canned
 * answers of collectd 5.12's unixsock (the text utils/cmds/listval.c and
 * getval.c print) and on the write_prometheus page of
 * tests/prom/fixtures/write_prometheus.txt.
 */
#include "top.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <testing.h>

/* A unixsock session: LISTVAL's answer, then GETVAL's for each wanted
 * identifier, looked up in a table as collectd's cache would answer. */
typedef struct {
  const char *id, *answer;
} getval_t;

static int replay(top_sample_t *s, const char *listval, const getval_t *g,
                  size_t num_g) {
  const char *line = listval;
  int n = top_parse_status(line);
  if (n < 0)
    return -1;
  for (int i = 0; i < n; i++) {
    line = strchr(line, '\n');
    if (line == NULL)
      return -1;
    line++;
    double time;
    char id[4 * TOP_NAME_LEN];
    if (top_parse_listval_line(line, &time, id, sizeof(id)) != 0)
      return -1;
    if (!top_listval_wanted(id))
      continue;
    const char *answer = "-1 No such value.\n";
    for (size_t k = 0; k < num_g; k++)
      if (strcmp(g[k].id, id) == 0)
        answer = g[k].answer;
    if (top_add_getval(s, id, time, answer) < 0)
      return -1;
  }
  return 0;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define W "n1/nfs_ebpf-shop_web-0_nginx/"
#define S "n1/nfs_ebpf-shop_web-0_log-shipper/"
#define B "n1/nfs_ebpf-@nfs-backup.service/"
#define M1 "@127.0.0.1:|srv|nfs|export"
#define M2 "@127.0.0.1:|srv|nfs|export-ro"

static const char *listval1 =
    "14 Values found\n"
    "100.000 n1/cpu-0/cpu-idle\n"
    "100.000 " W "operations-read" M1 "\n"
    "100.000 " W "operations-write" M2 "\n"
    "100.000 " W "total_bytes-read" M1 "\n"
    "100.000 " W "duration-read" M1 "\n"
    "100.000 " W "duration-write" M2 "\n"
    "100.000 " W "total_operations-read-0.01" M1 "\n"
    "100.000 " W "total_operations-read-0.1" M1 "\n"
    "100.000 " W "total_operations-read-+Inf" M1 "\n"
    "100.000 " W "errors-read-ESTALE" M1 "\n"
    "100.000 " S "operations-write" M1 "\n"
    "100.000 " B "total_bytes-write" M1 "\n"
    "100.000 n1/nfs_ebpf/derive-missed_return\n"
    "100.000 n1/nfs_ebpf-expired_pod_c/operations-read" M1 "\n";

static const char *listval2 = "6 Values found\n"
                              "110.000 " W "operations-read" M1 "\n"
                              "110.000 " W "operations-write" M2 "\n"
                              "110.000 " W "duration-read" M1 "\n"
                              "100.000 " W "duration-write" M2 "\n"
                              "110.000 " S "operations-write" M1 "\n"
                              "110.000 " B "total_bytes-write" M1 "\n";

static const getval_t getval1[] = {
    {"n1/cpu-0/cpu-idle", "1 Value found\nvalue=9.900000e+01\n"},
    {W "operations-read" M1, "1 Value found\nvalue=8.000000e+00\n"},
    {W "operations-write" M2, "1 Value found\nvalue=2.000000e+00\n"},
    {W "total_bytes-read" M1, "1 Value found\nvalue=4.096000e+04\n"},
    {W "duration-read" M1, "1 Value found\nseconds=1.000000e+00\n"},
    {W "duration-write" M2, "1 Value found\nseconds=2.000000e+00\n"},
    {W "total_operations-read-0.01" M1, "1 Value found\nvalue=6.000000e+00\n"},
    {W "total_operations-read-0.1" M1, "1 Value found\nvalue=8.000000e+00\n"},
    {W "total_operations-read-+Inf" M1, "1 Value found\nvalue=8.000000e+00\n"},
    {W "errors-read-ESTALE" M1, "1 Value found\nvalue=5.000000e-01\n"},
    {S "operations-write" M1, "1 Value found\nvalue=1.000000e+00\n"},
    {B "total_bytes-write" M1, "1 Value found\nvalue=         NaN\n"},
    {"n1/nfs_ebpf/derive-missed_return", "1 Value found\nvalue=2.500000e-01\n"},
};

static const getval_t getval2[] = {
    {W "operations-read" M1, "1 Value found\nvalue=8.000000e+00\n"},
    {W "operations-write" M2, "1 Value found\nvalue=2.000000e+00\n"},
    /* 0.4 s of latency more over 10 s: 0.04 s/s for 8 ops/s = 5 ms */
    {W "duration-read" M1, "1 Value found\nseconds=1.400000e+00\n"},
    {W "duration-write" M2, "1 Value found\nseconds=2.000000e+00\n"},
    {S "operations-write" M1, "1 Value found\nvalue=3.000000e+00\n"},
    {B "total_bytes-write" M1, "1 Value found\nvalue=1.024000e+03\n"},
};

DEF_TEST(unixsock_answers) {
  EXPECT_EQ_INT(14, top_parse_status("14 Values found\n"));
  EXPECT_EQ_INT(1, top_parse_status("1 Value found\n"));
  EXPECT_EQ_INT(-1, top_parse_status("-1 No such value.\n"));
  EXPECT_EQ_INT(-1, top_parse_status("-1 Unknown command: LISTVAL\n"));
  EXPECT_EQ_INT(-1, top_parse_status("garbage\n"));

  double t, v;
  char id[4 * TOP_NAME_LEN];
  CHECK_ZERO(top_parse_listval_line("1795289629.771 h/p-i/t-a b\n", &t, id,
                                    sizeof(id)));
  EXPECT_EQ_DOUBLE(1795289629.771, t);
  EXPECT_EQ_STR("h/p-i/t-a b", id); /* spaces stay: ids may hold them */
  EXPECT_EQ_INT(-1, top_parse_listval_line("h/p/t\n", &t, id, sizeof(id)));

  CHECK_ZERO(top_parse_getval("1 Value found\nvalue=1.234500e+02\n", &v));
  EXPECT_EQ_DOUBLE(123.45, v);
  CHECK_ZERO(top_parse_getval("1 Value found\nvalue=NaN\n", &v));
  OK(isnan(v));
  EXPECT_EQ_INT(-1, top_parse_getval("-1 No such value.\n", &v));
  EXPECT_EQ_INT(-1, top_parse_getval("2 Values found\nrx=1\ntx=2\n", &v));

  char host[TOP_NAME_LEN], plugin[TOP_NAME_LEN], pi[TOP_NAME_LEN];
  char type[TOP_NAME_LEN], ti[TOP_NAME_LEN];
  CHECK_ZERO(top_split_identifier(
      "node1/nfs_ebpf-shop_web-0_nginx/total_bytes-read@10.0.0.5:|vol|data",
      host, plugin, pi, type, ti));
  EXPECT_EQ_STR("node1", host);
  EXPECT_EQ_STR("nfs_ebpf", plugin);
  EXPECT_EQ_STR("shop_web-0_nginx", pi);
  EXPECT_EQ_STR("total_bytes", type);
  EXPECT_EQ_STR("read@10.0.0.5:|vol|data", ti);
  CHECK_ZERO(top_split_identifier("n/nfs_ebpf/derive-missed_return", host,
                                  plugin, pi, type, ti));
  EXPECT_EQ_STR("", pi);
  EXPECT_EQ_STR("missed_return", ti);
  EXPECT_EQ_INT(-1,
                top_split_identifier("n/nfs_ebpf", host, plugin, pi, type, ti));

  OK(top_listval_wanted("n/nfs_ebpf-x_y_z/operations-read@s:|e"));
  OK(top_listval_wanted("n/nfs_ebpf/derive-missed_return"));
  OK(!top_listval_wanted("n/nfs_ebpfx-a/operations-read@s:|e"));
  OK(!top_listval_wanted("n/nfs-v3client/nfs_procedure-read"));

  char q[64];
  CHECK_ZERO(top_quote("h/p/t-a \"b\\", q, sizeof(q)));
  EXPECT_EQ_STR("\"h/p/t-a \\\"b\\\\\"", q);
  EXPECT_EQ_INT(-1, top_quote("0123456789", q, 8));
  return 0;
}

static top_row_t *row(top_table_t *t, const char *name, const char *mount) {
  for (size_t i = 0; i < t->num; i++)
    if (strcmp(t->rows[i].name, name) == 0 &&
        strcmp(t->rows[i].mount, mount) == 0)
      return &t->rows[i];
  printf("# no row %s %s\n", name, mount);
  return NULL;
}

/* The line of text that holds both a and b (in that order), or NULL. */
static const char *line_with(const char *text, const char *a, const char *b) {
  for (const char *line = text; line != NULL && *line != '\0';) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    char buf[1024];
    snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
    const char *pa = strstr(buf, a);
    if (pa != NULL && strstr(pa + strlen(a), b) != NULL)
      return line;
    line = eol ? eol + 1 : NULL;
  }
  return NULL;
}

DEF_TEST(unixsock_rates_per_pod_container_mount) {
  top_sample_t s1 = {0}, s2 = {0};
  CHECK_ZERO(replay(&s1, listval1, getval1, N(getval1)));
  /* cpu and the expired value are not there, the NaN one is */
  EXPECT_EQ_INT(12, s1.num);
  top_rates(&s1, NULL);
  CHECK_ZERO(replay(&s2, listval2, getval2, N(getval2)));
  top_rates(&s2, &s1);

  /* first sample: collectd's rates, no latency sum rate yet */
  top_opts_t o = {.sort = TOP_SORT_OPS};
  top_table_t t = {0};
  CHECK_ZERO(top_aggregate(&s1, &o, &t));
  EXPECT_EQ_STR("n1", t.host);
  EXPECT_EQ_INT(1, t.num); /* @nfs-backup.service has only a NaN yet */
  top_row_t *r = row(&t, "shop/web-0", "");
  CHECK_NOT_NULL(r);
  EXPECT_EQ_DOUBLE(11, r->ops);
  EXPECT_EQ_DOUBLE(40960, r->read_bytes);
  EXPECT_EQ_DOUBLE(0.5, r->errors);
  OK(isnan(top_row_mean(r)));
  /* p99 of 8 ops/s: 6 <= 10 ms, 2 in (10 ms, 100 ms]: rank 7.92 */
  EXPECT_EQ_DOUBLE(0.01 + 0.09 * (7.92 - 6) / 2, top_row_quantile(r, 0.99));
  OK(t.has_lost);
  EXPECT_EQ_DOUBLE(0.25, t.lost);
  top_table_free(&t);

  /* second sample: the read sum moved 0.4 s in 10 s; the write sum has
   * no second update, so its rate is unknown and it counts for nothing */
  CHECK_ZERO(top_aggregate(&s2, &o, &t));
  r = row(&t, "shop/web-0", "");
  CHECK_NOT_NULL(r);
  EXPECT_EQ_DOUBLE(13, r->ops);
  EXPECT_EQ_DOUBLE(0.04, r->sum);
  EXPECT_EQ_DOUBLE(0.04 / 13, top_row_mean(r));
  r = row(&t, "@nfs-backup.service", "");
  CHECK_NOT_NULL(r);
  EXPECT_EQ_DOUBLE(1024, r->write_bytes);
  top_table_free(&t);

  o.per_container = true;
  o.per_mount = true;
  CHECK_ZERO(top_aggregate(&s2, &o, &t));
  EXPECT_EQ_INT(4, t.num);
  r = row(&t, "shop/web-0/nginx", "127.0.0.1:/srv/nfs/export");
  CHECK_NOT_NULL(r);
  EXPECT_EQ_DOUBLE(8, r->ops);
  EXPECT_EQ_DOUBLE(0.005, top_row_mean(r));
  r = row(&t, "shop/web-0/nginx", "127.0.0.1:/srv/nfs/export-ro");
  CHECK_NOT_NULL(r);
  EXPECT_EQ_DOUBLE(2, r->ops);
  OK(!r->has_sum);
  r = row(&t, "shop/web-0/log-shipper", "127.0.0.1:/srv/nfs/export");
  CHECK_NOT_NULL(r);
  EXPECT_EQ_DOUBLE(3, r->ops);

  /* the table: sorted by ops, name on ties, ESTALE named */
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  top_print(f, &t, &o);
  fclose(f);
  printf("%s", text);
  const char *a = line_with(text, "shop/web-0/nginx ", "/export ");
  const char *b = line_with(text, "shop/web-0/log-shipper ", "/export ");
  const char *c = line_with(text, "shop/web-0/nginx ", "/export-ro ");
  OK(a != NULL && b != NULL && c != NULL && a < b && b < c);
  OK(strstr(text, "5.0ms") != NULL);
  OK(strstr(text, "ESTALE") == NULL); /* no errors in this second sample */
  free(text);

  o.rows = 1;
  o.sort = TOP_SORT_NAME;
  f = open_memstream(&text, &len);
  top_print(f, &t, &o);
  fclose(f);
  OK(strstr(text, "@nfs-backup.service") != NULL);
  OK(strstr(text, "(3 more)") != NULL);
  free(text);
  top_table_free(&t);
  top_sample_free(&s1);
  top_sample_free(&s2);
  return 0;
}

DEF_TEST(rates_of_counters) {
  top_sample_t a = {0}, b = {0}, c = {0};
  CHECK_ZERO(top_sample_add(&a, "n", "nfs_ebpf", "@x", "operations",
                            "read@s:", 10, 100, false));
  CHECK_ZERO(top_sample_add(&a, "n", "nfs_ebpf", "@x", "operations",
                            "write@s:", 10, 100, false));
  top_rates(&a, NULL);
  OK(!a.values[0].has_rate);
  CHECK_ZERO(top_sample_add(&b, "n", "nfs_ebpf", "@x", "operations",
                            "write@s:", 14, 50, false)); /* a restart */
  CHECK_ZERO(top_sample_add(&b, "n", "nfs_ebpf", "@x", "operations",
                            "read@s:", 12, 130, false));
  top_rates(&b, &a);
  OK(!b.values[0].has_rate);
  OK(b.values[1].has_rate);
  EXPECT_EQ_DOUBLE(15, b.values[1].rate);
  /* not updated by collectd since: the same rate, as collectd's cache */
  CHECK_ZERO(top_sample_add(&c, "n", "nfs_ebpf", "@x", "operations",
                            "read@s:", 12, 130, false));
  top_rates(&c, &b);
  OK(c.values[0].has_rate);
  EXPECT_EQ_DOUBLE(15, c.values[0].rate);
  /* not ours */
  EXPECT_EQ_INT(
      1, top_sample_add(&c, "n", "cpu", "0", "cpu", "idle", 1, 1, false));
  EXPECT_EQ_INT(1, top_sample_add(&c, "n", "nfs_ebpf", "@x", "rpc_calls",
                                  "READ@s:", 1, 1, false));
  EXPECT_EQ_INT(1, top_sample_add(&c, "n", "nfs_ebpf", "", "operations",
                                  "read@s:", 1, 1, false));
  top_sample_free(&a);
  top_sample_free(&b);
  top_sample_free(&c);
  return 0;
}

static char *read_fixture(void) {
  const char *dir = getenv("NFS_EBPF_FIXTURES");
  char path[4096];
  snprintf(path, sizeof(path), "%s/../prom/fixtures/write_prometheus.txt",
           dir ? dir : "tests/fixtures");
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    printf("# cannot open %s\n", path);
    return NULL;
  }
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

DEF_TEST(write_prometheus_totals) {
  const char *page = read_fixture();
  CHECK_NOT_NULL(page);
  top_sample_t s = {0};
  /* 26 nfs_ebpf lines (a shortened pod, a hashed cgroup, a hashed
   * export); cpu, load and the nfs plugin are not ours */
  EXPECT_EQ_INT(26, top_parse_prometheus(page, 0, &s));
  top_opts_t o = {.totals = true};
  top_table_t t = {0};
  CHECK_ZERO(top_aggregate(&s, &o, &t));
  EXPECT_EQ_STR("node1", t.host);
  EXPECT_EQ_DOUBLE(12, t.lost);
  EXPECT_EQ_INT(0, t.undecoded);
  top_row_t *r = row(&t, "shop/web-0", "");
  CHECK_NOT_NULL(r);
  EXPECT_EQ_DOUBLE(12, r->ops);
  EXPECT_EQ_DOUBLE(40960, r->read_bytes);
  EXPECT_EQ_DOUBLE(8192, r->write_bytes);
  EXPECT_EQ_DOUBLE(4, r->errors);
  EXPECT_EQ_DOUBLE(0.125 / 12, top_row_mean(r));
  /* 10 reads: 9 <= 0.1 s, 10 <= 1 s: rank 9.9 */
  EXPECT_EQ_DOUBLE(0.1 + 0.9 * 0.9, top_row_quantile(r, 0.99));
  /* 1 of the 3 in (10 us, 1 ms] */
  EXPECT_EQ_DOUBLE(1e-05 + (0.001 - 1e-05) / 3, top_row_quantile(r, 0.1));
  r = row(&t, "@system.slice/backup.service", "");
  CHECK_NOT_NULL(r);
  EXPECT_EQ_DOUBLE(6 + 9, r->ops); /* writes on one mount, reads on another */
  r = row(&t, "@kubelet.service", "");
  CHECK_NOT_NULL(r);
  EXPECT_EQ_DOUBLE(2, r->errors);
  OK(row(&t, "@/", "") != NULL);
  OK(row(&t, "shop/web-0-very-long-name~0123456789ab", "") != NULL);
  OK(row(&t, "kube-system/csi-nfs-node-7x2k9", "") != NULL);

  o.exact = true;
  o.per_mount = true;
  top_table_free(&t);
  CHECK_ZERO(top_aggregate(&s, &o, &t));
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  top_print(f, &t, &o);
  fclose(f);
  printf("%s", text);
  OK(strstr(text, "POD ") == text);
  OK(line_with(text, "kube-system/csi-nfs-node-7x2k9 ",
               " [fd00::1]:/exports/team/a/b/c/d/e/f/g/h/i/j ") != NULL);
  OK(strstr(text, "40960") != NULL && strstr(text, "ENOENT") != NULL);
  free(text);
  top_table_free(&t);
  top_sample_free(&s);
  return 0;
}

DEF_TEST(write_prometheus_rates_and_bad_lines) {
  top_sample_t a = {0}, b = {0};
  EXPECT_EQ_INT(
      2, top_parse_prometheus(
             "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"a_b_c\",type="
             "\"read@s:|e\",instance=\"n\"} 10 1000000\n"
             "collectd_nfs_ebpf_duration_seconds{nfs_ebpf=\"a_b_c\",type="
             "\"read@s:|e\",instance=\"n\"} 0.5\n",
             900, &a));
  EXPECT_EQ_DOUBLE(1000, a.values[0].time);
  EXPECT_EQ_DOUBLE(900, a.values[1].time); /* no timestamp: fetch time */
  EXPECT_EQ_INT(
      2, top_parse_prometheus(
             "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"a_b_c\",type="
             "\"read@s:|e\",instance=\"n\"} 30 1002000\n"
             "collectd_nfs_ebpf_duration_seconds{nfs_ebpf=\"a_b_c\",type="
             "\"read@s:|e\",instance=\"n\"} 0.7\n",
             904, &b));
  top_rates(&a, NULL);
  top_rates(&b, &a);
  top_opts_t o = {0};
  top_table_t t = {0};
  CHECK_ZERO(top_aggregate(&b, &o, &t));
  top_row_t *r = row(&t, "a/b", "");
  CHECK_NOT_NULL(r);
  EXPECT_EQ_DOUBLE(10, r->ops);
  EXPECT_EQ_DOUBLE(0.05, r->sum);
  EXPECT_EQ_DOUBLE(0.005, top_row_mean(r));
  top_table_free(&t);

  /* escapes in label values; a broken nfs_ebpf line is an error */
  top_sample_t c = {0};
  EXPECT_EQ_INT(1, top_parse_prometheus(
                       "collectd_nfs_ebpf_errors_total{nfs_ebpf=\"@a\\\"b\","
                       "type=\"read-EIO@s:|e\",instance=\"n\"} 1 5\n",
                       0, &c));
  EXPECT_EQ_STR("@a\"b", c.values[0].who);
  EXPECT_EQ_INT(
      -1, top_parse_prometheus(
              "collectd_nfs_ebpf_errors_total{nfs_ebpf=\"@a} 1\n", 0, &c));
  EXPECT_EQ_INT(
      -1, top_parse_prometheus(
              "collectd_nfs_ebpf_errors_total{nfs_ebpf=\"@a\"} x\n", 0, &c));
  top_sample_free(&a);
  top_sample_free(&b);
  top_sample_free(&c);
  return 0;
}

int main(void) {
  RUN_TEST(unixsock_answers);
  RUN_TEST(unixsock_rates_per_pod_container_mount);
  RUN_TEST(rates_of_counters);
  RUN_TEST(write_prometheus_totals);
  RUN_TEST(write_prometheus_rates_and_bad_lines);
  END_TEST;
}
