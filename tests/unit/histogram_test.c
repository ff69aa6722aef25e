/*
 * Tests for histogram.c: validation messages, exact ns conversion, the
 * shortest round-trip `le` text (checked against Go/Prometheus outputs and
 * by brute force) and cumulative counts.
 */
#include "collectd_compat.h"

#include "histogram.h"

#include <collectd/core/testing.h>
#include <float.h>

static char err[256];

static int init(histogram_t *h, const double *b, size_t n) {
  err[0] = '\0';
  return histogram_init(h, b, n, err, sizeof(err));
}

static const char *le(double v) {
  static char buf[HISTOGRAM_LE_LEN];
  if (histogram_format_le(v, buf, sizeof(buf)) != 0)
    return "(error)";
  return buf;
}

DEF_TEST(default_bounds) {
  const double *b;
  size_t n;
  histogram_t h;
  histogram_default_bounds(&b, &n);
  EXPECT_EQ_INT(16, n);
  CHECK_ZERO(init(&h, b, n));
  EXPECT_EQ_INT(16, h.count);
  const char *want[] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025",
                        "0.005",  "0.01",    "0.025",  "0.05",  "0.1",
                        "0.25",   "0.5",     "1",      "2.5",   "5",
                        "10",     "+Inf"};
  for (size_t i = 0; i <= n; i++)
    EXPECT_EQ_STR(want[i], h.le[i]);
  const uint64_t want_ns[] = {100000,     250000,     500000,     1000000,
                              2500000,    5000000,    10000000,   25000000,
                              50000000,   100000000,  250000000,  500000000,
                              1000000000, 2500000000, 5000000000, 10000000000};
  for (size_t i = 0; i < n; i++)
    EXPECT_EQ_UINT64(want_ns[i], h.bounds_ns[i]);
  /* padding keeps the array sorted */
  EXPECT_EQ_UINT64(UINT64_MAX, h.bounds_ns[16]);
  EXPECT_EQ_UINT64(UINT64_MAX, h.bounds_ns[NFS_EBPF_MAX_BUCKETS - 1]);

  /* histogram_init_default gives the same histogram */
  histogram_t d;
  CHECK_ZERO(histogram_init_default(&d));
  EXPECT_EQ_INT(h.count, d.count);
  for (size_t i = 0; i < NFS_EBPF_MAX_BUCKETS; i++)
    EXPECT_EQ_UINT64(h.bounds_ns[i], d.bounds_ns[i]);
  for (size_t i = 0; i <= h.count; i++)
    EXPECT_EQ_STR(h.le[i], d.le[i]);
  return 0;
}

DEF_TEST(ns_conversion_is_exact) {
  histogram_t h;
  /* 0.0001 * 1e9 is 100000.00000000001 in doubles; ns must be exact */
  double b[] = {1e-9, 2.5e-9, 0.0001, 0.3, 1.0 / 3.0, 18446744072.5};
  CHECK_ZERO(init(&h, b, 6));
  EXPECT_EQ_UINT64(1, h.bounds_ns[0]);
  /* the double 2.5e-9 is 2.50000000000000005e-9: nearest is 3 */
  EXPECT_EQ_UINT64(3, h.bounds_ns[1]);
  EXPECT_EQ_UINT64(100000, h.bounds_ns[2]);
  EXPECT_EQ_UINT64(300000000, h.bounds_ns[3]);
  EXPECT_EQ_UINT64(333333333, h.bounds_ns[4]);
  EXPECT_EQ_UINT64(UINT64_C(18446744072500000000), h.bounds_ns[5]);
  EXPECT_EQ_STR("0.3333333333333333", h.le[4]);
  EXPECT_EQ_STR("1.84467440725e+10", h.le[5]);
  EXPECT_EQ_STR("+Inf", h.le[6]);
  /* the double 1.5e-9 is 1.49999999999999999e-9: nearest is 1, where
   * llround(1.5e-9 * 1e9) would say 2 */
  double b2[] = {1.5e-9};
  CHECK_ZERO(init(&h, b2, 1));
  EXPECT_EQ_UINT64(1, h.bounds_ns[0]);
  EXPECT_EQ_STR("1.5e-09", h.le[0]);
  return 0;
}

DEF_TEST(invalid_bounds_rejected_with_reason) {
  histogram_t h, before;
  double one[] = {0.5};
  CHECK_ZERO(init(&h, one, 1));
  before = h;

  OK(init(&h, one, 0) == -1 && strstr(err, "at least one") != NULL);
  double zero[] = {0.0};
  OK(init(&h, zero, 1) == -1 && strstr(err, "greater than 0") != NULL);
  double neg[] = {0.1, -1};
  OK(init(&h, neg, 2) == -1 && strstr(err, "bound 2 is -1") != NULL);
  double nan_[] = {NAN};
  OK(init(&h, nan_, 1) == -1 && strstr(err, "finite") != NULL);
  double inf[] = {0.1, INFINITY};
  OK(init(&h, inf, 2) == -1 && strstr(err, "+Inf is implied") != NULL);
  double dup[] = {0.1, 0.2, 0.2};
  OK(init(&h, dup, 3) == -1 && strstr(err, "strictly increasing") != NULL);
  double down[] = {1, 0.5};
  OK(init(&h, down, 2) == -1 && strstr(err, "bound 2 (0.5") != NULL);
  double tiny[] = {1e-10};
  OK(init(&h, tiny, 1) == -1 && strstr(err, "half a nanosecond") != NULL);
  double same_ns[] = {1e-9, 1.4e-9};
  OK(init(&h, same_ns, 2) == -1 && strstr(err, "same nanosecond") != NULL);
  double huge[] = {2e10};
  OK(init(&h, huge, 1) == -1 && strstr(err, "below") != NULL);
  double many[NFS_EBPF_MAX_BUCKETS + 1];
  for (size_t i = 0; i < NFS_EBPF_MAX_BUCKETS + 1; i++)
    many[i] = 0.001 * (double)(i + 1);
  OK(init(&h, many, NFS_EBPF_MAX_BUCKETS + 1) == -1 &&
     strstr(err, "at most 32") != NULL);
  printf("# last error: %s\n", err);
  /* a failed init leaves the previous histogram alone */
  OK(memcmp(&h, &before, sizeof(h)) == 0);
  /* exactly the maximum is fine */
  CHECK_ZERO(init(&h, many, NFS_EBPF_MAX_BUCKETS));
  EXPECT_EQ_STR("0.032", h.le[NFS_EBPF_MAX_BUCKETS - 1]);
  EXPECT_EQ_STR("+Inf", h.le[NFS_EBPF_MAX_BUCKETS]);
  /* a NULL err buffer is allowed */
  OK(histogram_init(&h, zero, 1, NULL, 0) == -1);
  return 0;
}

/* Expected strings are what Go's strconv.FormatFloat(v, 'g', -1, 64)
 * (used by Prometheus client libraries) prints. */
DEF_TEST(le_like_prometheus) {
  const struct {
    double value;
    const char *go;
  } cases[] = {
      {0.001, "0.001"},
      {0.25, "0.25"},
      {1, "1"},
      {2.5, "2.5"},
      {10, "10"},
      {100000, "100000"},
      {123456, "123456"},
      {1e6, "1e+06"},
      {1234567, "1.234567e+06"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {0.000025, "2.5e-05"},
      {0.1 + 0.2, "0.30000000000000004"},
      {DBL_MAX, "1.7976931348623157e+308"},
      {4.9406564584124654e-324, "5e-324"},
      {0.0, "0"},
      {INFINITY, "+Inf"},
      {-INFINITY, "-Inf"},
      {NAN, "NaN"},
      {-2.5, "-2.5"},
  };
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(cases); i++)
    EXPECT_EQ_STR(cases[i].go, le(cases[i].value));
  char small[4];
  EXPECT_EQ_INT(-1, histogram_format_le(0.00025, small, sizeof(small)));
  EXPECT_EQ_STR("", small);
  return 0;
}

/* Significant digits of a formatted number: leading zeros never count,
 * trailing zeros of an integer without a point ("100000") neither. */
static int significant_digits(const char *s) {
  int n = 0, trailing_zeros = 0;
  bool leading = true, point = false;
  for (; *s != '\0' && *s != 'e'; s++) {
    if (*s == '.')
      point = true;
    if (!isdigit((unsigned char)*s))
      continue;
    if (leading && *s == '0')
      continue;
    leading = false;
    n++;
    trailing_zeros = (*s == '0') ? trailing_zeros + 1 : 0;
  }
  return point ? n : n - trailing_zeros;
}

DEF_TEST(le_round_trips_and_is_shortest) {
  uint64_t state = 0x9e3779b97f4a7c15u;
  int not_round_trip = 0, not_shortest = 0;
  for (int i = 0; i < 200000; i++) {
    /* xorshift: random bit patterns cover every exponent */
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    double v;
    if (i % 2 == 0) {
      memcpy(&v, &state, sizeof(v));
      if (!isfinite(v))
        continue;
    } else {
      /* and plausible bucket bounds with few digits */
      v = (double)(state % 100000) / pow(10, (double)(state >> 60));
    }
    const char *text = le(v);
    if (strtod(text, NULL) != v) {
      if (not_round_trip++ < 5)
        printf("# %.17g -> %s does not read back\n", v, text);
    }
    int digits = significant_digits(text);
    char shorter[64];
    if (digits > 1 && v != 0) {
      snprintf(shorter, sizeof(shorter), "%.*e", digits - 2, v);
      if (strtod(shorter, NULL) == v && not_shortest++ < 5)
        printf("# %.17g -> %s but %s is shorter\n", v, text, shorter);
    }
  }
  EXPECT_EQ_INT(0, not_round_trip);
  EXPECT_EQ_INT(0, not_shortest);
  return 0;
}

DEF_TEST(cumulative_counts) {
  histogram_t h;
  double b[] = {0.001, 0.01, 0.1};
  CHECK_ZERO(init(&h, b, 3));
  static const struct {
    uint64_t per_bucket[3], count;
    int status;
    uint64_t cumulative[4];
  } cases[] = {
      /* +Inf == count, 8 slower than 0.1 s */
      {{5, 0, 7}, 20, 0, {5, 5, 12, 20}},
      /* all slower than the last bound */
      {{0, 0, 0}, 9, 0, {0, 0, 0, 9}},
      /* torn snapshot: bucket incremented, count not yet */
      {{3, 4, 5}, 11, 1, {3, 7, 12, 12}},
      /* saturate instead of wrapping */
      {{UINT64_MAX - 1, 5, 0},
       UINT64_MAX,
       0,
       {UINT64_MAX - 1, UINT64_MAX, UINT64_MAX, UINT64_MAX}},
  };
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(cases); i++) {
    uint64_t out[4];
    EXPECT_EQ_INT(cases[i].status, histogram_cumulative(&h, cases[i].per_bucket,
                                                        cases[i].count, out));
    for (size_t k = 0; k < 4; k++)
      EXPECT_EQ_UINT64(cases[i].cumulative[k], out[k]);
  }
  return 0;
}

int main(void) {
  RUN_TEST(default_bounds);
  RUN_TEST(ns_conversion_is_exact);
  RUN_TEST(invalid_bounds_rejected_with_reason);
  RUN_TEST(le_like_prometheus);
  RUN_TEST(le_round_trips_and_is_shortest);
  RUN_TEST(cumulative_counts);
  END_TEST;
}
