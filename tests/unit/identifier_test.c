/*
 * Tests for identifier.c. Besides the documented examples they prove, over many
 * generated names, that identifiers are unique, stable, untouched by the
 * daemon's escape_slashes, and that the decoder built like the Prometheus
 * relabel rules (identifier_decode.c, see identifier.h) gets the original
 * labels back.
 */
#include "collectd_compat.h"

#include "hash.h"
#include "histogram.h"
#include "identifier.h"
#include "mock_collectd.h"

#include <collectd/core/testing.h>

/* ---- the decoder (identifier_decode.c) mirrors the relabel regexes ---- */

typedef identifier_labels_t labels_t;

static int decode_who(const char *who, labels_t *l) {
  return identifier_decode_who(who, l);
}

static int decode_what(const char *what, labels_t *l) {
  return identifier_decode_what(what, l);
}

/* ---- helpers ---- */

/* A decoded label is right if it is the original, or a shortened one: a
 * beginning of the original followed by "~" and 12 hex digits. */
static bool label_ok(const char *got, const char *orig) {
  if (strcmp(got, orig) == 0)
    return true;
  size_t len = strlen(got);
  if (len < IDENTIFIER_HASH_LEN)
    return false;
  size_t keep = len - IDENTIFIER_HASH_LEN;
  if (got[keep] != '~' || strspn(got + keep + 1, "0123456789abcdef") != 12)
    return false;
  /* the kept beginning, with '/' decoded from '|' like the relabel rules */
  return keep < strlen(orig) && strncmp(got, orig, keep) == 0;
}

static char who[DATA_MAX_NAME_LEN], what[DATA_MAX_NAME_LEN];

/* Dispatches who/what through the mock and returns whether the daemon's
 * escape_slashes left both exactly as they were. */
static bool survives_dispatch(const char *w, const char *t) {
  value_t v = {.derive = 1};
  value_list_t vl = VALUE_LIST_INIT;
  vl.values = &v;
  vl.values_len = 1;
  sstrncpy(vl.plugin, "nfs_ebpf", sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, w, sizeof(vl.plugin_instance));
  sstrncpy(vl.type, "operations", sizeof(vl.type));
  sstrncpy(vl.type_instance, t, sizeof(vl.type_instance));
  plugin_dispatch_values(&vl);
  const value_list_t *got = mock_dispatched(mock_dispatch_count() - 1);
  return got != NULL && strcmp(got->plugin_instance, w) == 0 &&
         strcmp(got->type_instance, t) == 0;
}

static uint64_t rng_state = 0x2545f4914f6cdd1du;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void random_text(char *out, size_t len, const char *alphabet) {
  size_t n = strlen(alphabet);
  for (size_t i = 0; i < len; i++)
    out[i] = alphabet[rng() % n];
  out[len] = '\0';
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- tests ---- */

DEF_TEST(documented_examples) {
  EXPECT_EQ_INT(
      0, identifier_who(who, sizeof(who), "shop", "web-0", "nginx", NULL));
  EXPECT_EQ_STR("shop_web-0_nginx", who);
  char server[64], export_[64];
  CHECK_ZERO(identifier_split_source("10.0.0.5:/vol/data", server,
                                     sizeof(server), export_, sizeof(export_)));
  EXPECT_EQ_STR("10.0.0.5", server);
  EXPECT_EQ_STR("/vol/data", export_);
  EXPECT_EQ_INT(
      0, identifier_what(what, sizeof(what), "read", NULL, server, export_));
  EXPECT_EQ_STR("read@10.0.0.5:|vol|data", what);
  OK(survives_dispatch(who, what));

  EXPECT_EQ_INT(
      0, identifier_who(who, sizeof(who), NULL, NULL, NULL, "kubelet.service"));
  EXPECT_EQ_STR("@kubelet.service", who);
  EXPECT_EQ_INT(0, identifier_who(who, sizeof(who), NULL, NULL, NULL, "/"));
  EXPECT_EQ_STR("@|", who);
  /* a lone "/" would become "root" in the daemon; ours never is one */
  OK(survives_dispatch(who, what));
  EXPECT_EQ_INT(0, identifier_who(who, sizeof(who), NULL, NULL, NULL,
                                  "user@1000.service"));
  EXPECT_EQ_STR("@user@1000.service", who);

  identifier_what(what, sizeof(what), "read", "0.001", "10.0.0.5", "/vol/data");
  EXPECT_EQ_STR("read-0.001@10.0.0.5:|vol|data", what);
  identifier_what(what, sizeof(what), "read", "+Inf", "10.0.0.5", "/vol/data");
  EXPECT_EQ_STR("read-+Inf@10.0.0.5:|vol|data", what);
  identifier_what(what, sizeof(what), "write", "ESTALE", "10.0.0.5", "/");
  EXPECT_EQ_STR("write-ESTALE@10.0.0.5:|", what);
  return 0;
}

DEF_TEST(split_source) {
  char s[64], e[64];
  CHECK_ZERO(
      identifier_split_source("[fd00::1]:/export", s, sizeof(s), e, sizeof(e)));
  EXPECT_EQ_STR("[fd00::1]", s);
  EXPECT_EQ_STR("/export", e);
  CHECK_ZERO(
      identifier_split_source("nfs.example:/a:/b", s, sizeof(s), e, sizeof(e)));
  EXPECT_EQ_STR("nfs.example", s);
  EXPECT_EQ_STR("/a:/b", e);
  CHECK_ZERO(
      identifier_split_source("nfsserver:vol", s, sizeof(s), e, sizeof(e)));
  EXPECT_EQ_STR("nfsserver:vol", s);
  EXPECT_EQ_STR("", e);
  CHECK_ZERO(identifier_split_source("srv:/", s, sizeof(s), e, sizeof(e)));
  EXPECT_EQ_STR("srv", s);
  EXPECT_EQ_STR("/", e);
  /* too small: nothing, never a truncated name */
  char tiny[4];
  EXPECT_EQ_INT(-1, identifier_split_source("10.0.0.5:/v", tiny, sizeof(tiny),
                                            e, sizeof(e)));
  EXPECT_EQ_STR("", tiny);
  EXPECT_EQ_STR("", e);
  EXPECT_EQ_INT(-1, identifier_split_source(NULL, s, sizeof(s), e, sizeof(e)));
  return 0;
}

DEF_TEST(decodes_tricky_mounts) {
  labels_t l;
  struct {
    const char *source, *qualifier;
  } cases[] = {
      {"[fd00::1]:/export", NULL},
      {"nfsserver:vol", NULL},   /* no ":/": export empty */
      {"host::/exp", "0.00025"}, /* server ends in ':' */
      {"10.1.2.3:/srv/my share", "1e-05"},
      {"fs@corp:/a@b/c-d:e", "ENOENT"},
      {"srv:/", "+Inf"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char s[128], e[128];
    CHECK_ZERO(
        identifier_split_source(cases[i].source, s, sizeof(s), e, sizeof(e)));
    EXPECT_EQ_INT(0, identifier_what(what, sizeof(what), "getattr",
                                     cases[i].qualifier, s, e));
    memset(&l, 0, sizeof(l));
    CHECK_ZERO(decode_what(what, &l));
    EXPECT_EQ_STR("getattr", l.op);
    EXPECT_EQ_STR(cases[i].qualifier ? cases[i].qualifier : "", l.qualifier);
    EXPECT_EQ_STR(s, l.server);
    EXPECT_EQ_STR(e, l.export_);
    OK(survives_dispatch("x", what));
  }
  return 0;
}

DEF_TEST(bad_segments_hashed_and_logged_once) {
  mock_reset();
  mock_log_set_echo(false);
  /* the log names the first one, escaped, with what it is reported as */
  EXPECT_EQ_INT(0, identifier_who(who, sizeof(who), NULL, NULL, NULL,
                                  "caf\xc3\xa9\\x|y.service"));
  char line[128];
  snprintf(line, sizeof(line),
           "the cgroup name \"caf\\xc3\\xa9\\x5cx|y.service\" holds "
           "non-printable or reserved characters; it is reported as \"%s\"",
           who + 1);
  EXPECT_EQ_INT(1, mock_log_count(LOG_WARNING, line));
  EXPECT_EQ_INT(0,
                identifier_who(who, sizeof(who), "ns", "bad_pod", "c", NULL));
  /* "bad_pod" would split the who wrongly: replaced by its hash */
  char expect[64];
  snprintf(expect, sizeof(expect), "ns_~%012" PRIx64 "_c",
           hash_fnv1a64("bad_pod", 7) >> 16);
  EXPECT_EQ_STR(expect, who);
  labels_t l;
  CHECK_ZERO(decode_who(who, &l));
  EXPECT_EQ_STR("ns", l.ns);
  EXPECT_EQ_STR("c", l.container);

  EXPECT_EQ_INT(0, identifier_what(what, sizeof(what), "read", NULL, "srv",
                                   "/caf\xc3\xa9"));
  OK(strncmp(what, "read@srv:~", 10) == 0 && strlen(what) == 10 + 12);
  CHECK_ZERO(decode_what(what, &l));
  EXPECT_EQ_STR("srv", l.server);
  OK(l.export_[0] == '~');
  EXPECT_EQ_INT(0, identifier_who(who, sizeof(who), NULL, NULL, NULL, "a|b"));
  OK(who[0] == '@' && who[1] == '~');
  EXPECT_EQ_INT(0,
                identifier_what(what, sizeof(what), "read", NULL, "s~x", "/e"));
  OK(strncmp(what, "read@~", 6) == 0);
  EXPECT_EQ_INT(
      0, identifier_what(what, sizeof(what), "read", NULL, "tab\there", "/e"));
  OK(strncmp(what, "read@~", 6) == 0);
  /* logged, and only once for all of the above */
  EXPECT_EQ_INT(1, mock_log_count(LOG_WARNING, "reserved characters"));
  OK(survives_dispatch(who, what));

  /* our own vocabulary is checked, not hashed */
  EXPECT_EQ_INT(-1,
                identifier_what(what, sizeof(what), "re-ad", NULL, "s", "/e"));
  EXPECT_EQ_STR("", what);
  EXPECT_EQ_INT(-1,
                identifier_what(what, sizeof(what), "read", "a@b", "s", "/e"));
  EXPECT_EQ_INT(-1, identifier_who(who, sizeof(who), "ns", NULL, "c", NULL));
  EXPECT_EQ_INT(-1, identifier_who(who, sizeof(who), NULL, NULL, NULL, NULL));
  OK(mock_log_count(LOG_ERR, "nfs_ebpf plugin: ") >= 4);
  mock_log_set_echo(true);
  return 0;
}

DEF_TEST(long_names_shortened_with_hash_of_whole_field) {
  mock_reset();
  mock_log_set_echo(false);
  char pod[254];
  memset(pod, 'p', 253);
  pod[253] = '\0';
  EXPECT_EQ_INT(0,
                identifier_who(who, sizeof(who), "team-a", pod, "app", NULL));
  EXPECT_EQ_INT(IDENTIFIER_MAX_LEN, strlen(who));
  /* the hash is FNV-1a of the whole unshortened field */
  char full[512];
  snprintf(full, sizeof(full), "team-a_%s_app", pod);
  char suffix[32];
  snprintf(suffix, sizeof(suffix), "~%012" PRIx64 "_app",
           hash_fnv1a64(full, strlen(full)) >> 16);
  OK(strncmp(who, "team-a_ppp", 10) == 0);
  OK(strcmp(who + strlen(who) - strlen(suffix), suffix) == 0);
  printf("# %s\n", who);
  EXPECT_EQ_INT(1, mock_log_count(LOG_INFO, "shortened"));

  /* stability: same input, same identifier */
  char again[DATA_MAX_NAME_LEN];
  identifier_who(again, sizeof(again), "team-a", pod, "app", NULL);
  EXPECT_EQ_STR(who, again);
  /* a difference past the cut still gives another identifier */
  pod[252] = 'q';
  identifier_who(again, sizeof(again), "team-a", pod, "app", NULL);
  OK(strcmp(who, again) != 0);

  /* long server and export: both stay decodable */
  char server[200], export_[300];
  memset(server, 'a', 150);
  server[150] = '\0';
  strcpy(export_, "/");
  for (int i = 0; i < 30; i++)
    strcat(export_, "dir-long/");
  EXPECT_EQ_INT(0, identifier_what(what, sizeof(what), "readdir", "2.5", server,
                                   export_));
  EXPECT_EQ_INT(IDENTIFIER_MAX_LEN, strlen(what));
  labels_t l;
  CHECK_ZERO(decode_what(what, &l));
  EXPECT_EQ_STR("readdir", l.op);
  EXPECT_EQ_STR("2.5", l.qualifier);
  OK(strchr(l.server, '~') != NULL && strncmp(l.server, "aaa", 3) == 0);
  OK(l.export_[0] == '/' && strchr(l.export_, '~') != NULL);
  printf("# %s\n", what);
  OK(survives_dispatch(who, what));

  /* an IPv6 server cut right after a ':' must not fake the split */
  char v6[256] = "[";
  for (int i = 0; i < 40; i++)
    strcat(v6, "fd00:");
  strcat(v6, "1]");
  for (size_t cut = 0; cut < 20; cut++) {
    char exp2[64];
    snprintf(exp2, sizeof(exp2), "/%.*s", (int)cut, "xxxxxxxxxxxxxxxxxxxx");
    identifier_what(what, sizeof(what), "read", "ESTALE", v6, exp2);
    CHECK_ZERO(decode_what(what, &l));
    if (strcmp(l.export_, exp2) != 0) {
      printf("not ok %d - %s decodes export \"%s\"\n", ++check_count__, what,
             l.export_);
      return -1;
    }
  }
  OK(1); /* all 20 cut positions decoded their export */

  /* a small buffer limits the length too */
  char small[40];
  EXPECT_EQ_INT(
      0, identifier_who(small, sizeof(small), "team-a", pod, "app", NULL));
  EXPECT_EQ_INT(39, strlen(small));
  OK(strchr(small, '~') != NULL);
  /* too small to hold even the hashes: error, empty */
  char tiny[10];
  EXPECT_EQ_INT(-1,
                identifier_who(tiny, sizeof(tiny), "team-a", pod, "app", NULL));
  EXPECT_EQ_STR("", tiny);
  mock_log_set_echo(true);
  return 0;
}

#define UNIQUE_N 20000

/* The hashes are part of metric names: literal values, so that a change of
 * the hash function (or of what it is fed) cannot pass unnoticed. */
DEF_TEST(hash_values_pinned) {
  mock_reset();
  mock_log_set_echo(false);
  EXPECT_EQ_INT(0,
                identifier_who(who, sizeof(who), "ns", "bad_pod", "c", NULL));
  EXPECT_EQ_STR("ns_~1a1a976d664f_c", who);
  char pod[254];
  memset(pod, 'p', 253);
  pod[253] = '\0';
  EXPECT_EQ_INT(0,
                identifier_who(who, sizeof(who), "team-a", pod, "app", NULL));
  const char *suffix = "~880b8b979348_app";
  OK(strcmp(who + strlen(who) - strlen(suffix), suffix) == 0);
  mock_log_set_echo(true);
  return 0;
}

/* identifier_what_join (what dispatch uses, with the tail each series
 * keeps) writes exactly what identifier_what writes: short and long
 * mounts, odd servers and exports, every qualifier, small buffers. */
DEF_TEST(what_join_matches_what) {
  mock_reset();
  mock_log_set_echo(false);
  static const char *const ops[] = {"read", "getattr", "x"};
  static const char *const qualifiers[] = {
      NULL, "", "0.001", "+Inf", "ESTALE", "2.2250738585072014e-308", "a@b"};
  static const size_t sizes[] = {DATA_MAX_NAME_LEN, 60, 30, 1};
  int differ = 0, tails = 0, cases = 0;
  for (int i = 0; i < 400; i++) {
    char server[200], export_[200];
    /* lengths from nothing to past the whole field; i % 7 == 0 gets an
     * odd server, i % 3 == 0 a '|' in the export (both hashed whole),
     * i % 5 == 0 an export without its slash, i % 11 == 0 none */
    random_text(server, rng() % (i < 200 ? 40 : 180), "abc.-:[]0123");
    random_text(export_ + 1, rng() % (i < 200 ? 40 : 180),
                i % 3 == 0 ? "/ab_c.:|" : "/ab_c.:");
    export_[0] = i % 5 == 0 ? 'e' : '/';
    if (i % 7 == 0)
      server[0] = '~';
    if (i % 11 == 0)
      export_[0] = '\0';
    char *tail = identifier_what_tail(server, export_);
    tails += tail != NULL;
    for (size_t o = 0; o < STATIC_ARRAY_SIZE(ops); o++)
      for (size_t q = 0; q < STATIC_ARRAY_SIZE(qualifiers); q++)
        for (size_t z = 0; z < STATIC_ARRAY_SIZE(sizes); z++) {
          char a[DATA_MAX_NAME_LEN], b[DATA_MAX_NAME_LEN];
          int ra = identifier_what(a, sizes[z], ops[o], qualifiers[q], server,
                                   export_);
          int rb = identifier_what_join(b, sizes[z], ops[o], qualifiers[q],
                                        tail, server, export_);
          if (ra != rb || strcmp(a, b) != 0) {
            if (differ++ < 5)
              printf("# differ: \"%s\" vs \"%s\"\n", a, b);
          }
          cases++;
        }
    free(tail);
  }
  EXPECT_EQ_INT(0, differ);
  printf("# %d cases, %d of 400 mounts with a tail\n", cases, tails);
  OK(tails > 100 && tails < 400); /* both paths were taken */

  /* the tail is the encoded "@<server>:<export>" */
  char *tail = identifier_what_tail("10.0.0.5", "/srv/nfs");
  EXPECT_EQ_STR("@10.0.0.5:|srv|nfs", tail);
  EXPECT_EQ_INT(0, identifier_what_join(what, sizeof(what), "read", "+Inf",
                                        tail, "10.0.0.5", "/srv/nfs"));
  EXPECT_EQ_STR("read-+Inf@10.0.0.5:|srv|nfs", what);
  free(tail);
  /* too long for any what to keep it whole: no tail */
  char server[130];
  memset(server, 's', 125);
  server[125] = '\0';
  EXPECT_EQ_PTR(NULL, identifier_what_tail(server, ""));
  server[124] = '\0';
  tail = identifier_what_tail(server, "");
  CHECK_NOT_NULL(tail);
  EXPECT_EQ_INT(
      0, identifier_what_join(what, sizeof(what), "r", NULL, tail, server, ""));
  EXPECT_EQ_INT(IDENTIFIER_MAX_LEN, strlen(what));
  free(tail);
  EXPECT_EQ_PTR(NULL, identifier_what_tail(NULL, "/e"));
  mock_log_set_echo(true);
  return 0;
}

DEF_TEST(unique_stable_escape_proof_and_round_trip) {
  mock_reset();
  mock_log_set_echo(false);
  static char names[UNIQUE_N][2 * DATA_MAX_NAME_LEN];
  static char *sorted[UNIQUE_N];
  int round_trip_fail = 0, escape_fail = 0, unstable = 0, decoded_fail = 0;

  for (int i = 0; i < UNIQUE_N; i++) {
    char ns[64], pod[300], container[64], server[200], export_[400];
    /* long, nearly identical names: most of them get shortened */
    random_text(ns, 3 + rng() % 20, "abc-");
    size_t pod_len = 1 + rng() % 250;
    memset(pod, 'w', pod_len);
    pod[pod_len] = '\0';
    random_text(pod + pod_len - (pod_len > 6 ? 6 : pod_len),
                pod_len > 6 ? 6 : pod_len, "0123456789abcdef-.");
    random_text(container, 1 + rng() % 30, "xyz0-");
    random_text(server, 1 + rng() % 120, "0123456789.:[]abc-@");
    if (strstr(server, ":/") != NULL)
      continue;
    export_[0] = '/';
    random_text(export_ + 1, rng() % 200, "/abc .:@-_");

    char w[DATA_MAX_NAME_LEN], t[DATA_MAX_NAME_LEN];
    int sw = identifier_who(w, sizeof(w), ns, pod, container, NULL);
    int st = identifier_what(t, sizeof(t), "write", (i % 3) ? "0.005" : NULL,
                             server, export_);
    if (sw < 0 || st < 0 || strlen(w) > IDENTIFIER_MAX_LEN ||
        strlen(t) > IDENTIFIER_MAX_LEN) {
      printf("not ok %d - encoding failed for #%d\n", ++check_count__, i);
      return -1;
    }
    snprintf(names[i], sizeof(names[i]), "%s/%s", w, t);
    char w2[DATA_MAX_NAME_LEN], t2[DATA_MAX_NAME_LEN];
    identifier_who(w2, sizeof(w2), ns, pod, container, NULL);
    identifier_what(t2, sizeof(t2), "write", (i % 3) ? "0.005" : NULL, server,
                    export_);
    unstable += strcmp(w, w2) != 0 || strcmp(t, t2) != 0;

    if (i % 50 == 0 && !survives_dispatch(w, t))
      escape_fail++;
    if (strchr(w, '/') != NULL || strchr(t, '/') != NULL)
      escape_fail++;

    labels_t l;
    memset(&l, 0, sizeof(l));
    if (decode_who(w, &l) != 0 || decode_what(t, &l) != 0) {
      decoded_fail++;
      continue;
    }
    /* every label comes back whole, or as its own beginning + "~hash" */
    if (!label_ok(l.ns, ns) || !label_ok(l.pod, pod) ||
        !label_ok(l.container, container) || strcmp(l.op, "write") != 0 ||
        !label_ok(l.server, server) || !label_ok(l.export_, export_))
      round_trip_fail++;
    /* unaltered fields (no '~') round-trip exactly */
    if (strchr(w, '~') == NULL && (strcmp(l.ns, ns) || strcmp(l.pod, pod) ||
                                   strcmp(l.container, container)))
      round_trip_fail++;
    if (strchr(t, '~') == NULL &&
        (strcmp(l.server, server) || strcmp(l.export_, export_)))
      round_trip_fail++;
  }
  EXPECT_EQ_INT(0, unstable);
  EXPECT_EQ_INT(0, escape_fail);
  EXPECT_EQ_INT(0, decoded_fail);
  EXPECT_EQ_INT(0, round_trip_fail);

  /* uniqueness of the full (who, what) pair: compare whole identifiers */
  int n = 0;
  for (int i = 0; i < UNIQUE_N; i++)
    if (names[i][0] != '\0')
      sorted[n++] = names[i];
  qsort(sorted, n, sizeof(sorted[0]), cmp_str);
  int dups = 0;
  for (int i = 1; i < n; i++)
    dups += strcmp(sorted[i - 1], sorted[i]) == 0;
  printf("# %d identifiers, %d duplicates\n", n, dups);
  EXPECT_EQ_INT(0, dups);
  mock_log_set_echo(true);
  return 0;
}

/* What the relabel regexes do not match, the decoder refuses too (and
 * leaves no half-filled labels behind). */
DEF_TEST(decoder_refuses_non_matching_fields) {
  identifier_labels_t l;
  const char *bad_who[] = {"", "nounderscore", "ns_pod"};
  for (size_t i = 0; i < sizeof(bad_who) / sizeof(bad_who[0]); i++) {
    EXPECT_EQ_INT(-1, identifier_decode_who(bad_who[i], &l));
    OK(l.ns[0] == '\0' && l.pod[0] == '\0' && l.cgroup[0] == '\0');
  }
  const char *bad_what[] = {"", "missed_return", "-1@s:|e", "read-0.1"};
  for (size_t i = 0; i < sizeof(bad_what) / sizeof(bad_what[0]); i++) {
    EXPECT_EQ_INT(-1, identifier_decode_what(bad_what[i], &l));
    OK(l.op[0] == '\0' && l.server[0] == '\0' && l.qualifier[0] == '\0');
  }
  /* the root cgroup, an empty export, a le holding '-' */
  CHECK_ZERO(identifier_decode_who("@|", &l));
  EXPECT_EQ_STR("/", l.cgroup);
  CHECK_ZERO(identifier_decode_what("read-1e-05@nfsserver:vol:", &l));
  EXPECT_EQ_STR("read", l.op);
  EXPECT_EQ_STR("1e-05", l.qualifier);
  EXPECT_EQ_STR("nfsserver:vol", l.server);
  EXPECT_EQ_STR("", l.export_);
  /* no split at all: all server, as the relabel rules have it */
  CHECK_ZERO(identifier_decode_what("write@fileserver:vol", &l));
  EXPECT_EQ_STR("fileserver:vol", l.server);
  EXPECT_EQ_STR("", l.export_);
  /* a field longer than collectd allows is not one of ours */
  char longer[IDENTIFIER_MAX_LEN + 3];
  memset(longer, 'a', sizeof(longer) - 1);
  longer[0] = '@';
  longer[sizeof(longer) - 1] = '\0';
  EXPECT_EQ_INT(-1, identifier_decode_who(longer, &l));
  return 0;
}

/* Bucket data source names: only [a-z0-9_] (they become part of
 * write_prometheus' metric family names), and decoding gives back the le
 * text exactly, for every shape histogram_format_le prints. */
DEF_TEST(bucket_source_names_round_trip) {
  static const double seconds[] = {
      0.0001, 0.00025, 0.001, 0.25,       1,       2.5,          10,
      1e-05,  2.5e-07, 1e+06, 123456.789, 1.5e-09, 18446744073.0};
  char le[HISTOGRAM_LE_LEN], source[DATA_MAX_NAME_LEN], back[HISTOGRAM_LE_LEN];
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(seconds); i++) {
    OK(histogram_format_le(seconds[i], le, sizeof(le)) == 0);
    EXPECT_EQ_INT(0, identifier_bucket_source(source, sizeof(source), le));
    EXPECT_EQ_INT(0, strncmp(source, "le_", 3));
    EXPECT_EQ_INT(strlen(source),
                  strspn(source, "abcdefghijklmnopqrstuvwxyz0123456789_"));
    EXPECT_EQ_INT(0,
                  identifier_decode_bucket_source(source, back, sizeof(back)));
    EXPECT_EQ_STR(le, back);
  }
  EXPECT_EQ_INT(0, identifier_bucket_source(source, sizeof(source), "1e-05"));
  EXPECT_EQ_STR("le_1em05", source);
  EXPECT_EQ_INT(0, identifier_bucket_source(source, sizeof(source), "1e+06"));
  EXPECT_EQ_STR("le_1ep06", source);
  EXPECT_EQ_INT(0, identifier_bucket_source(source, sizeof(source), "+Inf"));
  EXPECT_EQ_STR("le_inf", source);
  EXPECT_EQ_INT(0,
                identifier_decode_bucket_source("le_inf", back, sizeof(back)));
  EXPECT_EQ_STR("+Inf", back);

  /* Not ours: refused, buffer empty, no crash. */
  static const char *bad_le[] = {"", "NaN", "-Inf", "0,5", "1/2", "a"};
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(bad_le); i++) {
    EXPECT_EQ_INT(-1,
                  identifier_bucket_source(source, sizeof(source), bad_le[i]));
    EXPECT_EQ_STR("", source);
  }
  EXPECT_EQ_INT(-1, identifier_bucket_source(source, 5, "0.001"));
  EXPECT_EQ_STR("", source);
  static const char *bad_source[] = {"",         "le_",      "value",
                                     "le_0_0_1", "le_1emm5", "le_x",
                                     "le_Inf",   "le__1",    "0_001"};
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(bad_source); i++) {
    EXPECT_EQ_INT(
        -1, identifier_decode_bucket_source(bad_source[i], back, sizeof(back)));
    EXPECT_EQ_STR("", back);
  }
  EXPECT_EQ_INT(-1, identifier_decode_bucket_source(NULL, back, sizeof(back)));
  EXPECT_EQ_INT(-1, identifier_decode_bucket_source("le_0_001", back, 4));
  return 0;
}

int main(void) {
  RUN_TEST(documented_examples);
  RUN_TEST(split_source);
  RUN_TEST(decodes_tricky_mounts);
  RUN_TEST(bad_segments_hashed_and_logged_once);
  RUN_TEST(long_names_shortened_with_hash_of_whole_field);
  RUN_TEST(hash_values_pinned);
  RUN_TEST(what_join_matches_what);
  RUN_TEST(unique_stable_escape_proof_and_round_trip);
  RUN_TEST(decoder_refuses_non_matching_fields);
  RUN_TEST(bucket_source_names_round_trip);
  END_TEST;
}
