/*
 * Bucket bounds: validation, seconds -> ns, `le` text, cumulative counts.
 * See histogram.h for the rules; the comments here say how they are met.
 */
#include "collectd_compat.h"

#include "histogram.h"

#include <math.h>

static const double default_bounds[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10,
};

void histogram_default_bounds(const double **bounds, size_t *count) {
  *bounds = default_bounds;
  *count = sizeof(default_bounds) / sizeof(default_bounds[0]);
}

int histogram_init_default(histogram_t *h) {
  const double *bounds;
  size_t count;
  histogram_default_bounds(&bounds, &count);
  return histogram_init(h, bounds, count, NULL, 0);
}

/* Exact nanoseconds of a double in (0, HISTOGRAM_MAX_BOUND_SECONDS).
 * printf's %f prints the correctly rounded decimal expansion of the
 * double's exact binary value, so 9 decimals are its nearest nanosecond;
 * multiplying by 1e9 in double arithmetic would round twice. */
static int seconds_to_ns(double seconds, uint64_t *ns) {
  char text[64];
  int len = snprintf(text, sizeof(text), "%.9f", seconds);
  if (len < 0 || (size_t)len >= sizeof(text))
    return -1;
  const char *dot = strchr(text, '.');
  if (dot == NULL || strlen(dot + 1) != 9)
    return -1;

  uint64_t whole = 0;
  for (const char *p = text; p < dot; p++) {
    if (!isdigit((unsigned char)*p) ||
        __builtin_mul_overflow(whole, 10, &whole) ||
        __builtin_add_overflow(whole, (uint64_t)(*p - '0'), &whole))
      return -1;
  }
  uint64_t fraction = strtoull(dot + 1, NULL, 10);
  uint64_t result;
  if (__builtin_mul_overflow(whole, UINT64_C(1000000000), &result) ||
      __builtin_add_overflow(result, fraction, &result))
    return -1;
  *ns = result;
  return 0;
}

/* Sets err (if any) and returns -1, so every check is one statement. */
__attribute__((format(printf, 3, 4))) static int
fail(char *err, size_t err_size, const char *format, ...) {
  if (err != NULL && err_size > 0) {
    va_list ap;
    va_start(ap, format);
    vsnprintf(err, err_size, format, ap);
    va_end(ap);
  }
  return -1;
}

int histogram_init(histogram_t *h, const double *bounds, size_t count,
                   char *err, size_t err_size) {
  if (h == NULL || (bounds == NULL && count > 0))
    return fail(err, err_size, "no histogram or bounds given");
  if (count == 0)
    return fail(err, err_size, "at least one bucket bound is needed");
  if (count > NFS_EBPF_MAX_BUCKETS)
    return fail(err, err_size,
                "%zu bucket bounds given, at most %d are supported", count,
                NFS_EBPF_MAX_BUCKETS);

  /* Fill a copy so h stays as it was when a bound is bad. */
  histogram_t next = {.count = count};
  for (size_t i = 0; i < count; i++) {
    double s = bounds[i];
    if (!isfinite(s))
      return fail(err, err_size,
                  "bound %zu is %g; bounds must be finite (+Inf is implied)",
                  i + 1, s);
    if (s <= 0.0)
      return fail(err, err_size,
                  "bound %zu is %g; bounds must be greater than 0 seconds",
                  i + 1, s);
    if (s >= HISTOGRAM_MAX_BOUND_SECONDS)
      return fail(err, err_size,
                  "bound %zu is %g; bounds must be below %.0f seconds", i + 1,
                  s, HISTOGRAM_MAX_BOUND_SECONDS);
    if (i > 0 && s <= bounds[i - 1])
      return fail(err, err_size,
                  "bound %zu (%.17g) is not greater than bound %zu (%.17g); "
                  "bounds must be strictly increasing",
                  i + 1, s, i, bounds[i - 1]);

    uint64_t ns = 0;
    if (seconds_to_ns(s, &ns) != 0)
      return fail(err, err_size,
                  "bound %zu (%.17g) cannot be converted to "
                  "nanoseconds",
                  i + 1, s);
    if (ns == 0)
      return fail(err, err_size,
                  "bound %zu (%g s) is below half a nanosecond, the kernel's "
                  "resolution",
                  i + 1, s);
    if (i > 0 && ns <= next.bounds_ns[i - 1])
      return fail(err, err_size,
                  "bounds %zu and %zu (%.17g and %.17g s) are the same "
                  "nanosecond (%" PRIu64 "); the kernel could not tell them "
                  "apart",
                  i, i + 1, bounds[i - 1], s, ns);

    next.bounds_seconds[i] = s;
    next.bounds_ns[i] = ns;
    if (histogram_format_le(s, next.le[i], sizeof(next.le[i])) != 0)
      return fail(err, err_size, "bound %zu (%.17g) cannot be formatted", i + 1,
                  s);
  }
  for (size_t i = count; i < NFS_EBPF_MAX_BUCKETS; i++)
    next.bounds_ns[i] = UINT64_MAX;
  sstrncpy(next.le[count], "+Inf", sizeof(next.le[count]));

  *h = next;
  return 0;
}

int histogram_format_le(double seconds, char *buf, size_t size) {
  if (buf == NULL || size == 0)
    return -1;
  buf[0] = '\0';

  char text[HISTOGRAM_LE_LEN + 8];
  if (isnan(seconds)) {
    sstrncpy(text, "NaN", sizeof(text));
  } else if (isinf(seconds)) {
    sstrncpy(text, seconds > 0 ? "+Inf" : "-Inf", sizeof(text));
  } else {
    /* Fewest significant digits that survive strtod: 17 always do. */
    char sci[HISTOGRAM_LE_LEN + 8];
    int digits = 1;
    for (; digits <= 17; digits++) {
      snprintf(sci, sizeof(sci), "%.*e", digits - 1, seconds);
      if (strtod(sci, NULL) == seconds)
        break;
    }
    const char *e = strchr(sci, 'e');
    int exponent = (e != NULL) ? atoi(e + 1) : 0;

    /* Go's shortest 'g': exponent form when exp < -4 or exp >= 6 (the
     * precision it uses for that decision when printing shortest). */
    if (seconds == 0.0) {
      sstrncpy(text, signbit(seconds) ? "-0" : "0", sizeof(text));
    } else if (exponent < -4 || exponent >= 6) {
      sstrncpy(text, sci, sizeof(text));
    } else {
      /* Same digits, positional: decimals = significant digits after the
       * point, never negative. */
      int decimals = digits - 1 - exponent;
      if (decimals < 0)
        decimals = 0;
      snprintf(text, sizeof(text), "%.*f", decimals, seconds);
    }
  }

  if (strlen(text) >= size)
    return -1;
  sstrncpy(buf, text, size);
  return 0;
}

int histogram_cumulative(const histogram_t *h, const uint64_t *buckets,
                         uint64_t count, uint64_t *cumulative) {
  uint64_t running = 0;
  for (size_t i = 0; i < h->count; i++) {
    /* Saturate rather than wrap: a wrapped counter looks like a reset. */
    if (__builtin_add_overflow(running, buckets[i], &running))
      running = UINT64_MAX;
    cumulative[i] = running;
  }
  if (running > count) {
    cumulative[h->count] = running;
    return 1;
  }
  cumulative[h->count] = count;
  return 0;
}
