/*
 * Latency histogram bounds: validated from the `Bucket` option, converted
 * to the nanoseconds the BPF side compares against, and printed as the
 * Prometheus `le` label; plus the per-bucket -> cumulative conversion.
 */
#ifndef NFS_EBPF_HISTOGRAM_H
#define NFS_EBPF_HISTOGRAM_H

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>

#include "nfs_ebpf.h"

/* Enough for any shortest round-trip double ("2.2250738585072014e-308"). */
#define HISTOGRAM_LE_LEN 32

/* Largest accepted bound, seconds: the nanosecond value must fit a u64 with
 * UINT64_MAX left over as padding. */
#define HISTOGRAM_MAX_BOUND_SECONDS 18446744073.0

typedef struct {
  size_t count; /* finite bounds; 1..NFS_EBPF_MAX_BUCKETS */
  double bounds_seconds[NFS_EBPF_MAX_BUCKETS];
  /* What the kernel compares latency_ns against (<= bound). Entries at and
   * after `count` are UINT64_MAX so the array stays sorted for any search
   * that ignores `count`. */
  uint64_t bounds_ns[NFS_EBPF_MAX_BUCKETS];
  /* le[i] labels bucket i; le[count] is "+Inf". */
  char le[NFS_EBPF_MAX_BUCKETS + 1][HISTOGRAM_LE_LEN];
} histogram_t;

/* The default bounds (0.0001 ... 10 seconds, 16 of them). */
void histogram_default_bounds(const double **bounds, size_t *count);

/* histogram_init with the default bounds: what a configuration without a
 * Buckets option gets. Returns 0 (the defaults are valid; histogram_test
 * checks them). */
int histogram_init_default(histogram_t *h);

/* Validates bounds (seconds) and fills h. Rules, each with its own message
 * in err: 1 <= count <= NFS_EBPF_MAX_BUCKETS; every bound finite, > 0 and
 * below HISTOGRAM_MAX_BOUND_SECONDS; strictly increasing; and still
 * strictly increasing and >= 1 after conversion to nanoseconds.
 *
 * Conversion: bounds_ns[i] is the exact value of the double, in ns, rounded
 * to the nearest integer. There are no ties (a double is a binary fraction,
 * n + 0.5 ns never is), so no tie rule is needed. 0.0001 -> 100000 (the
 * double product 0.0001 * 1e9 is 100000.00000000001); 1.5e-9 -> 1, because
 * that double is 1.4999999999999999e-9 (llround(x * 1e9) would say 2).
 *
 * Returns 0, or -1 with h untouched and a reason in err (which may be NULL). */
int histogram_init(histogram_t *h, const double *bounds, size_t count,
                   char *err, size_t err_size);

/* Formats seconds as Prometheus (Go's strconv 'g', -1) prints a float: the
 * fewest significant digits that read back (strtod) as the same double;
 * plain decimal for exponents -4..5, otherwise 1e+06 / 2.5e-05 style;
 * "+Inf", "-Inf", "NaN" for the special values. Returns 0, or -1 if buf is
 * too small (buf then holds ""). */
int histogram_format_le(double seconds, char *buf, size_t size);

/* Turns the kernel's per-bucket counts (buckets[0..h->count-1], each
 * counting latencies in (bound[i-1], bound[i]]) into Prometheus cumulative
 * counts: cumulative[i] = buckets[0] + ... + buckets[i] for i < h->count,
 * and cumulative[h->count] (+Inf) = count.
 *
 * The kernel adds to count and to a bucket with two separate atomic adds,
 * so a map read can catch the bucket already incremented and count not yet.
 * Then the finite buckets sum to more than count, which Prometheus would
 * see as a non-monotonic histogram. In that case +Inf is raised to that sum
 * and 1 is returned: report cumulative[h->count] as the _count too, so
 * _count == +Inf holds (both stay monotonic: the maximum of two growing
 * counters grows). Returns 0 when the snapshot was consistent. */
int histogram_cumulative(const histogram_t *h, const uint64_t *buckets,
                         uint64_t count, uint64_t *cumulative);

#endif /* NFS_EBPF_HISTOGRAM_H */
