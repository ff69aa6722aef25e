/*
 * Tests for nfs-ebpf-top's model (tools/nfs-ebpf-top/top.c) on canned
 * answers of collectd 5.12's unixsock (the text utils/cmds/listval.c and
 * getval.c print) and on a write_prometheus page captured from collectd
 * 5.12 (as tests/prom/capture-fixture.sh does, the buckets as one value
 * list of type nfs_ebpf_buckets_<hex>: docs/identifiers.md, "The bucket
 * type").
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

/* 0.01 0.1 +Inf: not the default bounds, so the type has a hash */
#define BT "nfs_ebpf_buckets_f4d60fe4"

static const char *listval1 =
    "12 Values found\n"
    "100.000 n1/cpu-0/cpu-idle\n"
    "100.000 " W "operations-read" M1 "\n"
    "100.000 " W "operations-write" M2 "\n"
    "100.000 " W "total_bytes-read" M1 "\n"
    "100.000 " W "duration-read" M1 "\n"
    "100.000 " W "duration-write" M2 "\n"
    "100.000 " W BT "-read" M1 "\n"
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
    {W BT "-read" M1, "3 Values found\nle_0_01=6.000000e+00\n"
                      "le_0_1=8.000000e+00\nle_inf=8.000000e+00\n"},
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
  EXPECT_EQ_INT(17, top_parse_status("17 Values found\n"));
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

/* What top_print prints for t with o, echoed to stdout for the test's log.
 * The caller frees it. */
static char *printed(top_table_t *t, const top_opts_t *o) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (f == NULL)
    return strdup("");
  top_print(f, t, o);
  fclose(f);
  printf("%s", text);
  return text;
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
  char *text = printed(&t, &o);
  const char *a = line_with(text, "shop/web-0/nginx ", "/export ");
  const char *b = line_with(text, "shop/web-0/log-shipper ", "/export ");
  const char *c = line_with(text, "shop/web-0/nginx ", "/export-ro ");
  OK(a != NULL && b != NULL && c != NULL && a < b && b < c);
  OK(strstr(text, "5.0ms") != NULL);
  OK(strstr(text, "ESTALE") == NULL); /* no errors in this second sample */
  free(text);

  o.rows = 1;
  o.sort = TOP_SORT_NAME;
  text = printed(&t, &o);
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
                            "read@s:", NULL, 10, 100, false));
  CHECK_ZERO(top_sample_add(&a, "n", "nfs_ebpf", "@x", "operations",
                            "write@s:", NULL, 10, 100, false));
  top_rates(&a, NULL);
  OK(!a.values[0].has_rate);
  CHECK_ZERO(top_sample_add(&b, "n", "nfs_ebpf", "@x", "operations",
                            "write@s:", NULL, 14, 50, false)); /* a restart */
  CHECK_ZERO(top_sample_add(&b, "n", "nfs_ebpf", "@x", "operations",
                            "read@s:", NULL, 12, 130, false));
  top_rates(&b, &a);
  OK(!b.values[0].has_rate);
  OK(b.values[1].has_rate);
  EXPECT_EQ_DOUBLE(15, b.values[1].rate);
  /* not updated by collectd since: the same rate, as collectd's cache */
  CHECK_ZERO(top_sample_add(&c, "n", "nfs_ebpf", "@x", "operations",
                            "read@s:", NULL, 12, 130, false));
  top_rates(&c, &b);
  OK(c.values[0].has_rate);
  EXPECT_EQ_DOUBLE(15, c.values[0].rate);
  /* not ours */
  EXPECT_EQ_INT(
      1, top_sample_add(&c, "n", "cpu", "0", "cpu", "idle", NULL, 1, 1, false));
  EXPECT_EQ_INT(1, top_sample_add(&c, "n", "nfs_ebpf", "@x", "rpc_calls",
                                  "READ@s:", NULL, 1, 1, false));
  EXPECT_EQ_INT(1, top_sample_add(&c, "n", "nfs_ebpf", "", "operations",
                                  "read@s:", NULL, 1, 1, false));
  top_sample_free(&a);
  top_sample_free(&b);
  top_sample_free(&c);
  return 0;
}

DEF_TEST(bucket_type) {
  double le;
  CHECK_ZERO(top_bucket_le("le_0_001", &le));
  EXPECT_EQ_DOUBLE(0.001, le);
  CHECK_ZERO(top_bucket_le("le_0_00025", &le));
  EXPECT_EQ_DOUBLE(0.00025, le);
  CHECK_ZERO(top_bucket_le("le_10", &le));
  EXPECT_EQ_DOUBLE(10, le);
  CHECK_ZERO(top_bucket_le("le_2_5", &le));
  EXPECT_EQ_DOUBLE(2.5, le);
  CHECK_ZERO(top_bucket_le("le_1em05", &le));
  EXPECT_EQ_DOUBLE(1e-05, le);
  CHECK_ZERO(top_bucket_le("le_1ep06", &le));
  EXPECT_EQ_DOUBLE(1e+06, le);
  CHECK_ZERO(top_bucket_le("le_inf", &le));
  OK(isinf(le) && le > 0);
  const char *bad[] = {
      "value",    "le_",      "le",     "LE_1",     "le_Inf",   "le_nan",
      "le_0.001", "le_1e-05", "le_1e",  "le_e5",    "le__5",    "le_m1",
      "le_1_2_3", "le_1emm5", "le_1em", "le_1e999", "le_0x1p3", "le_1 ",
      "xle_1",    "le_inf_",  ""};
  for (size_t i = 0; i < N(bad); i++) {
    le = 42;
    EXPECT_EQ_INT(-1, top_bucket_le(bad[i], &le));
    EXPECT_EQ_DOUBLE(42, le);
  }
  EXPECT_EQ_INT(-1, top_bucket_le(NULL, &le));
  char longer[300]; /* longer than any name: rejected, not overrun */
  memset(longer, '1', sizeof(longer) - 1);
  memcpy(longer, "le_", 3);
  longer[sizeof(longer) - 1] = '\0';
  EXPECT_EQ_INT(-1, top_bucket_le(longer, &le));

  OK(identifier_is_bucket_type("nfs_ebpf_buckets"));
  OK(identifier_is_bucket_type("nfs_ebpf_buckets_1a2b3c4d"));
  OK(!identifier_is_bucket_type("nfs_ebpf_buckets_1A2B3C4D"));
  OK(!identifier_is_bucket_type("nfs_ebpf_buckets_1a2b3c4"));
  OK(!identifier_is_bucket_type("nfs_ebpf_buckets_1a2b3c4d0"));
  OK(!identifier_is_bucket_type("nfs_ebpf_buckets_"));
  OK(!identifier_is_bucket_type("nfs_ebpf_bucket"));
  OK(!identifier_is_bucket_type("total_operations"));

  /* GETVAL of the default bounds: 17 data sources, collectd's rates */
  top_sample_t s = {0};
  const char *id = "n1/nfs_ebpf-a_b_c/nfs_ebpf_buckets-read@s:|e";
  EXPECT_EQ_INT(0, top_add_getval(&s, id, 100,
                                  "17 Values found\n"
                                  "le_0_0001=0.000000e+00\n"
                                  "le_0_00025=0.000000e+00\n"
                                  "le_0_0005=1.000000e+00\n"
                                  "le_0_001=2.000000e+00\n"
                                  "le_0_0025=4.000000e+00\n"
                                  "le_0_005=6.000000e+00\n"
                                  "le_0_01=8.000000e+00\n"
                                  "le_0_025=9.000000e+00\n"
                                  "le_0_05=1.000000e+01\n"
                                  "le_0_1=1.000000e+01\n"
                                  "le_0_25=1.000000e+01\n"
                                  "le_0_5=1.000000e+01\n"
                                  "le_1=1.000000e+01\n"
                                  "le_2_5=1.000000e+01\n"
                                  "le_5=1.000000e+01\n"
                                  "le_10=1.000000e+01\n"
                                  "le_inf=1.000000e+01\n"));
  EXPECT_EQ_INT(17, s.num);
  EXPECT_EQ_STR("read@s:|e", s.values[0].what);
  EXPECT_EQ_DOUBLE(0.0001, s.values[0].le);
  OK(s.values[16].kind == TOP_BUCKET && s.values[16].is_rate);
  OK(isinf(s.values[16].le));
  /* all or nothing: a bad name, a missing line, a non-number */
  EXPECT_EQ_INT(1, top_add_getval(&s, id, 100,
                                  "2 Values found\nle_0_1=1.0\nvalue=2.0\n"));
  EXPECT_EQ_INT(1, top_add_getval(&s, id, 100,
                                  "3 Values found\nle_0_1=1.0\nle_inf=2.0\n"));
  EXPECT_EQ_INT(
      1, top_add_getval(&s, id, 100, "2 Values found\nle_0_1=1.0\nle_inf=x\n"));
  EXPECT_EQ_INT(1, top_add_getval(&s, id, 100, "-1 No such value.\n"));
  EXPECT_EQ_INT(1, top_add_getval(&s, id, 100, "0 Values found\n"));
  /* an unknown hash is still the bucket type; another plugin's is not */
  EXPECT_EQ_INT(0, top_add_getval(&s,
                                  "n1/nfs_ebpf-a_b_c/nfs_ebpf_buckets_0a0b0c0d-"
                                  "write@s:|e",
                                  100, "1 Value found\nle_inf=NaN\n"));
  EXPECT_EQ_INT(1, top_add_getval(&s, "n1/other-a_b_c/nfs_ebpf_buckets-read@s:",
                                  100, "1 Value found\nle_inf=1.0\n"));
  /* a single-source type answers one value */
  EXPECT_EQ_INT(1, top_add_getval(&s, "n1/nfs_ebpf-a_b_c/operations-read@s:|e",
                                  100, "2 Values found\nle_0_1=1\nle_inf=2\n"));
  /* the old form, one value list per bucket, is not read any more */
  EXPECT_EQ_INT(
      1, top_add_getval(&s, "n1/nfs_ebpf-a_b_c/total_operations-read-0.1@s:|e",
                        100, "1 Value found\nvalue=1.000000e+00\n"));
  EXPECT_EQ_INT(18, s.num);
  EXPECT_EQ_INT(1, top_sample_add(&s, "n", "nfs_ebpf", "@x", "nfs_ebpf_buckets",
                                  "read@s:", "value", 1, 1, false));
  EXPECT_EQ_INT(1, top_sample_add(&s, "n", "nfs_ebpf", "@x", "nfs_ebpf_buckets",
                                  "read@s:", NULL, 1, 1, false));

  top_rates(&s, NULL);
  top_opts_t o = {0};
  top_table_t t = {0};
  CHECK_ZERO(top_aggregate(&s, &o, &t));
  top_row_t *r = row(&t, "a/b", "");
  CHECK_NOT_NULL(r);
  EXPECT_EQ_INT(17, r->num_buckets); /* the NaN +Inf of write: no rate */
  /* rank 5 in (2.5 ms, 5 ms] (4 below, 2 in it); rank 9.9 in (25, 50] */
  EXPECT_EQ_DOUBLE(0.0025 + 0.0025 * (5 - 4) / 2, top_row_quantile(r, 0.5));
  EXPECT_EQ_DOUBLE(0.025 + 0.025 * 0.9, top_row_quantile(r, 0.99));
  top_table_free(&t);
  top_sample_free(&s);
  return 0;
}

/* A page captured from collectd 5.12's write_prometheus with an earlier
 * version of tests/prom/capture-fixture.sh (most "# HELP" lines, load and
 * all but one cpu line left out): the buckets 1e-05 0.001 0.01 0.1 1 2.5
 * +Inf travelling as type nfs_ebpf_buckets_4655ed0b. */
static const char *prom_page =
    "# HELP collectd_cpu_total write_prometheus plugin: 'cpu' Type: 'cpu', "
    "Dstype: 'derive', Dsname: 'value'\n"
    "# TYPE collectd_cpu_total counter\n"
    "collectd_cpu_total{cpu=\"0\",type=\"idle\",instance=\"node1\"} 15137 "
    "1796224954708\n"
    "# TYPE collectd_nfs_ebpf_derive_total counter\n"
    "collectd_nfs_ebpf_derive_total{nfs_ebpf=\"missed_return\",instance="
    "\"node1\"} 0 1796224954722\n"
    "collectd_nfs_ebpf_derive_total{nfs_ebpf=\"stats_map_full\",instance="
    "\"node1\"} 12 1796224954722\n"
    "# TYPE collectd_nfs_ebpf_duration_seconds gauge\n"
    "collectd_nfs_ebpf_duration_seconds{nfs_ebpf=\"shop_web-0_nginx\",type="
    "\"read@10.0.0.5:|vol|data\",instance=\"node1\"} 0.125 1796224954722\n"
    "# TYPE collectd_nfs_ebpf_errors_total counter\n"
    "collectd_nfs_ebpf_errors_total{nfs_ebpf=\"@kubelet.service\",type="
    "\"lookup-EACCES@nfs.example.com:|srv|nfs_share.v2\",instance=\"node1\"} 2 "
    "1796224954722\n"
    "collectd_nfs_ebpf_errors_total{nfs_ebpf=\"@user.slice\",type=\"write-EIO@"
    "10.0.0.5:|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|"
    "x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x\",instance=\"node1\"} 1 "
    "1796224954722\n"
    "collectd_nfs_ebpf_errors_total{nfs_ebpf=\"kube-system_csi-nfs-node-7x2k9_"
    "liveness-probe\",type=\"getattr-ESTALE@[fd00::1]:|exports|team|a|b|c|d|e|"
    "f|g|h|i|j\",instance=\"node1\"} 1 1796224954722\n"
    "collectd_nfs_ebpf_errors_total{nfs_ebpf=\"shop_web-0_nginx\",type=\"open-"
    "ENOENT@10.0.0.5:|vol|data\",instance=\"node1\"} 4 1796224954722\n"
    "# HELP collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_0_001_total "
    "write_prometheus plugin: 'nfs_ebpf' Type: 'nfs_ebpf_buckets_4655ed0b', "
    "Dstype: 'derive', Dsname: 'le_0_001'\n"
    "# TYPE collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_0_001_total "
    "counter\n"
    "collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_0_001_total{nfs_ebpf="
    "\"shop_web-0_nginx\",type=\"read@10.0.0.5:|vol|data\",instance=\"node1\"} "
    "3 1796224954722\n"
    "# TYPE collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_0_01_total counter\n"
    "collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_0_01_total{nfs_ebpf=\"shop_"
    "web-0_nginx\",type=\"read@10.0.0.5:|vol|data\",instance=\"node1\"} 7 "
    "1796224954722\n"
    "# TYPE collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_0_1_total counter\n"
    "collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_0_1_total{nfs_ebpf=\"shop_"
    "web-0_nginx\",type=\"read@10.0.0.5:|vol|data\",instance=\"node1\"} 9 "
    "1796224954722\n"
    "# TYPE collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_1_total counter\n"
    "collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_1_total{nfs_ebpf=\"shop_"
    "web-0_nginx\",type=\"read@10.0.0.5:|vol|data\",instance=\"node1\"} 10 "
    "1796224954722\n"
    "# TYPE collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_1em05_total "
    "counter\n"
    "collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_1em05_total{nfs_ebpf="
    "\"shop_web-0_nginx\",type=\"read@10.0.0.5:|vol|data\",instance=\"node1\"} "
    "0 1796224954722\n"
    "# TYPE collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_2_5_total counter\n"
    "collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_2_5_total{nfs_ebpf=\"shop_"
    "web-0_nginx\",type=\"read@10.0.0.5:|vol|data\",instance=\"node1\"} 10 "
    "1796224954722\n"
    "# TYPE collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_inf_total counter\n"
    "collectd_nfs_ebpf_nfs_ebpf_buckets_4655ed0b_le_inf_total{nfs_ebpf=\"shop_"
    "web-0_nginx\",type=\"read@10.0.0.5:|vol|data\",instance=\"node1\"} 10 "
    "1796224954722\n"
    "# TYPE collectd_nfs_ebpf_operations_total counter\n"
    "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"@kubelet.service\",type="
    "\"lookup@nfs.example.com:|srv|nfs_share.v2\",instance=\"node1\"} 7 "
    "1796224954722\n"
    "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"@system.slice|backup."
    "service\",type=\"read@10.0.0.5:~0123456789ab\",instance=\"node1\"} 9 "
    "1796224954722\n"
    "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"@system.slice|backup."
    "service\",type=\"write@fileserver:vol:\",instance=\"node1\"} 6 "
    "1796224954722\n"
    "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"@|\",type=\"fsync@"
    "fileserver:|\",instance=\"node1\"} 3 1796224954722\n"
    "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"@~656ce3a8fd56\",type="
    "\"read@10.0.0.5:|vol|data\",instance=\"node1\"} 13 1796224954722\n"
    "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"argo_data-pipeline-nightly-"
    "ingest-data-pipeline-nightly-ingest-data-pipeline-nightly-ingest-data-"
    "pipeline-nig~020ffc47d5db_main\",type=\"read@10.0.0.5:|vol|data\","
    "instance=\"node1\"} 11 1796224954722\n"
    "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"kube-system_csi-nfs-node-"
    "7x2k9_liveness-probe\",type=\"getattr@[fd00::1]:|exports|team|a|b|c|d|e|f|"
    "g|h|i|j\",instance=\"node1\"} 5 1796224954722\n"
    "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"shop_web-0-very-long-name~"
    "0123456789ab_nginx\",type=\"readdir@10.0.0.5:|vol|data\",instance="
    "\"node1\"} 1 1796224954722\n"
    "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"shop_web-0_nginx\",type="
    "\"read@10.0.0.5:|vol|data\",instance=\"node1\"} 10 1796224954722\n"
    "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"shop_web-0_nginx\",type="
    "\"write@10.0.0.5:|vol|data\",instance=\"node1\"} 2 1796224954722\n"
    "# TYPE collectd_nfs_ebpf_total_bytes_total counter\n"
    "collectd_nfs_ebpf_total_bytes_total{nfs_ebpf=\"shop_web-0_nginx\",type="
    "\"read@10.0.0.5:|vol|data\",instance=\"node1\"} 40960 1796224954722\n"
    "collectd_nfs_ebpf_total_bytes_total{nfs_ebpf=\"shop_web-0_nginx\",type="
    "\"write@10.0.0.5:|vol|data\",instance=\"node1\"} 8192 1796224954722\n"
    "# TYPE collectd_nfs_nfs_procedure_total counter\n"
    "collectd_nfs_nfs_procedure_total{nfs=\"v3client\",type=\"read\",instance="
    "\"node1\"} 42 1796224954722\n"
    "\n"
    "# collectd/write_prometheus 5.12.0.git at node1\n";

DEF_TEST(write_prometheus_totals) {
  top_sample_t s = {0};
  /* 26 nfs_ebpf lines (a shortened pod, a hashed cgroup, a hashed
   * export), 7 of them buckets; cpu and the nfs plugin are not ours */
  EXPECT_EQ_INT(26, top_parse_prometheus(prom_page, 0, &s));
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
  char *text = printed(&t, &o);
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
  /* buckets: one family per data source, ordered by name, not by le */
  EXPECT_EQ_INT(
      3, top_parse_prometheus(
             "collectd_nfs_ebpf_nfs_ebpf_buckets_le_0_001_total{nfs_ebpf="
             "\"a_b_c\",type=\"read@s:|e\",instance=\"n\"} 4 1000000\n"
             "collectd_nfs_ebpf_nfs_ebpf_buckets_le_1em05_total{nfs_ebpf="
             "\"a_b_c\",type=\"read@s:|e\",instance=\"n\"} 1 1000000\n"
             "collectd_nfs_ebpf_nfs_ebpf_buckets_le_inf_total{nfs_ebpf="
             "\"a_b_c\",type=\"read@s:|e\",instance=\"n\"} 10 1000000\n",
             900, &a));
  EXPECT_EQ_DOUBLE(0.001, a.values[2].le);
  EXPECT_EQ_DOUBLE(1e-05, a.values[3].le);
  EXPECT_EQ_DOUBLE(1000, a.values[0].time);
  EXPECT_EQ_DOUBLE(900, a.values[1].time); /* no timestamp: fetch time */
  EXPECT_EQ_INT(
      2, top_parse_prometheus(
             "collectd_nfs_ebpf_operations_total{nfs_ebpf=\"a_b_c\",type="
             "\"read@s:|e\",instance=\"n\"} 30 1002000\n"
             "collectd_nfs_ebpf_duration_seconds{nfs_ebpf=\"a_b_c\",type="
             "\"read@s:|e\",instance=\"n\"} 0.7\n",
             904, &b));
  EXPECT_EQ_INT(
      3, top_parse_prometheus(
             "collectd_nfs_ebpf_nfs_ebpf_buckets_le_inf_total{nfs_ebpf="
             "\"a_b_c\",type=\"read@s:|e\",instance=\"n\"} 30 1002000\n"
             "collectd_nfs_ebpf_nfs_ebpf_buckets_le_0_001_total{nfs_ebpf="
             "\"a_b_c\",type=\"read@s:|e\",instance=\"n\"} 14 1002000\n"
             "collectd_nfs_ebpf_nfs_ebpf_buckets_le_1em05_total{nfs_ebpf="
             "\"a_b_c\",type=\"read@s:|e\",instance=\"n\"} 1 1002000\n",
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
  /* per second: 0 <= 10 us, 5 <= 1 ms, 10 in all; rank 5 is 1 ms, rank
   * 9.9 in (1 ms, +Inf]: beyond the last bound */
  EXPECT_EQ_INT(3, r->num_buckets);
  EXPECT_EQ_DOUBLE(0.001, top_row_quantile(r, 0.5));
  EXPECT_EQ_DOUBLE(1e-05 + (0.001 - 1e-05) / 5 * 2.5,
                   top_row_quantile(r, 0.25));
  OK(isinf(top_row_quantile(r, 0.99)));
  top_table_free(&t);

  /* not buckets: the old per-bucket family, a bad le, an unknown type,
   * no _total; ignored like any family that is not nfs_ebpf's */
  top_sample_t d = {0};
  EXPECT_EQ_INT(
      0, top_parse_prometheus(
             "collectd_nfs_ebpf_total_operations_total{nfs_ebpf=\"a_b_c\","
             "type=\"read-0.001@s:|e\",instance=\"n\"} 1 5\n"
             "collectd_nfs_ebpf_nfs_ebpf_buckets_le_0_0_1_total{nfs_ebpf="
             "\"a_b_c\",type=\"read@s:|e\",instance=\"n\"} 1 5\n"
             "collectd_nfs_ebpf_nfs_ebpf_buckets_le_total{nfs_ebpf="
             "\"a_b_c\",type=\"read@s:|e\",instance=\"n\"} 1 5\n"
             "collectd_nfs_ebpf_nfs_ebpf_buckets_xyz_le_1_total{nfs_ebpf="
             "\"a_b_c\",type=\"read@s:|e\",instance=\"n\"} 1 5\n"
             "collectd_nfs_ebpf_nfs_ebpf_buckets_1A2B3C4D_le_1_total{nfs_ebpf="
             "\"a_b_c\",type=\"read@s:|e\",instance=\"n\"} 1 5\n"
             "collectd_nfs_ebpf_nfs_ebpf_buckets_le_1{nfs_ebpf="
             "\"a_b_c\",type=\"read@s:|e\",instance=\"n\"} 1 5\n"
             "collectd_nfs_ebpf_nfs_ebpf_buckets_le_inf_total_total{nfs_ebpf="
             "\"a_b_c\",type=\"read@s:|e\",instance=\"n\"} 1 5\n",
             0, &d));
  EXPECT_EQ_INT(1, top_parse_prometheus(
                       "collectd_nfs_ebpf_nfs_ebpf_buckets_1a2b3c4d_le_1ep06_"
                       "total{nfs_ebpf=\"a_b_c\",type=\"read@s:|e\","
                       "instance=\"n\"} 1 5\n",
                       0, &d));
  EXPECT_EQ_DOUBLE(1e+06, d.values[0].le);
  OK(d.values[0].kind == TOP_BUCKET);
  EXPECT_EQ_STR("read@s:|e", d.values[0].what);
  /* a broken bucket line is an error like any nfs_ebpf line */
  EXPECT_EQ_INT(
      -1, top_parse_prometheus("collectd_nfs_ebpf_nfs_ebpf_buckets_le_1_total{"
                               "nfs_ebpf=\"a_b_c\"} x\n",
                               0, &d));
  top_sample_free(&d);

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
  RUN_TEST(bucket_type);
  RUN_TEST(write_prometheus_totals);
  RUN_TEST(write_prometheus_rates_and_bad_lines);
  END_TEST;
}
