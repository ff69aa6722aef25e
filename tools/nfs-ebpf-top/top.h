/*
 * nfs-ebpf-top's model, without any I/O so that the unit tests can feed it
 * canned answers: parsing collectd's unixsock answers (LISTVAL, GETVAL) and
 * write_prometheus' text format into a sample of nfs_ebpf values, rates
 * between two samples, aggregation per pod (or container, or mount) and
 * the table.
 */
#ifndef NFS_EBPF_TOP_H
#define NFS_EBPF_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "identifier.h"

/* collectd's name fields (DATA_MAX_NAME_LEN). */
#define TOP_NAME_LEN 128

/* What a value is, from its collectd type (docs/identifiers.md). */
typedef enum {
  TOP_OPS,    /* operations: count */
  TOP_BUCKET, /* nfs_ebpf_buckets[_<hex>]: one value per data source
               * le_<le>, count with latency <= le */
  TOP_SUM,    /* duration: cumulative seconds (a gauge) */
  TOP_ERRORS, /* errors: count per errno */
  TOP_BYTES,  /* total_bytes: read or write */
  TOP_LOST,   /* derive with an empty who: lost events per reason */
} top_kind_t;

typedef struct {
  char host[TOP_NAME_LEN];
  char who[TOP_NAME_LEN];  /* plugin_instance */
  char what[TOP_NAME_LEN]; /* type_instance */
  top_kind_t kind;
  double le;    /* TOP_BUCKET: the bucket's bound (+INFINITY last); else 0 */
  double time;  /* collectd's last update, seconds since the epoch */
  double value; /* a rate per second if is_rate, else cumulative */
  bool is_rate; /* unixsock's GETVAL of a DERIVE answers collectd's rate */
  double rate;  /* set by top_rates() when has_rate */
  bool has_rate;
} top_value_t;

typedef struct {
  top_value_t *values;
  size_t num, cap;
  bool sorted;
} top_sample_t;

void top_sample_free(top_sample_t *s);

/* Splits collectd's "host/plugin[-plugin_instance]/type[-type_instance]"
 * (each buffer TOP_NAME_LEN). Returns 0 or -1. */
int top_split_identifier(const char *id, char *host, char *plugin,
                         char *plugin_instance, char *type,
                         char *type_instance);

/* The bound of a bucket type's data source: "le_0_001" -> 0.001,
 * "le_1em05" -> 1e-05, "le_1ep06" -> 1e+06, "le_inf" -> +INFINITY.
 * Returns 0, or -1 for any other name. */
int top_bucket_le(const char *ds, double *le);

/* Adds the value of one identifier if it is one of nfs_ebpf's (other
 * plugins and unknown nfs_ebpf types are ignored: returns 1). type is the
 * collectd type, ds the value's data source name: only the bucket type
 * reads it (its bound, top_bucket_le; others may pass NULL). Returns 0
 * when added, 1 when ignored, -1 on no memory. */
int top_sample_add(top_sample_t *s, const char *host, const char *plugin,
                   const char *plugin_instance, const char *type,
                   const char *type_instance, const char *ds, double time,
                   double value, bool is_rate);

/* The first line of a unixsock answer, "<n> Value(s) found" or "-1 error":
 * returns n (>= 0) or -1. */
int top_parse_status(const char *line);

/* One line after LISTVAL's status: "<time> <identifier>". Writes the
 * identifier (without its newline) into id (size TOP_NAME_LEN * 4).
 * Returns 0 or -1. */
int top_parse_listval_line(const char *line, double *time, char *id,
                           size_t id_size);

/* A whole GETVAL answer (status line and "<ds>=<value>" lines) of a
 * single-source type. Returns 0 and the value (NaN for "NaN"), or -1. */
int top_parse_getval(const char *answer, double *value);

/* Whether a LISTVAL identifier is nfs_ebpf's ("host/nfs_ebpf[-...]/..."). */
bool top_listval_wanted(const char *id);

/* Adds the GETVAL answer for identifier id (updated at time): collectd
 * answers the rate of a DERIVE and the value of a gauge, and duration is
 * nfs_ebpf's only gauge. The bucket type answers one "le_<le>=<rate>" line
 * per bucket: all of them are added, or none if one does not read. Returns
 * 0 added, 1 ignored (not ours, or an error answer such as "-1 No such
 * value." for a value that expired since LISTVAL), -1 on no memory. */
int top_add_getval(top_sample_t *s, const char *id, double time,
                   const char *answer);

/* Quotes an identifier for a unixsock command ("..." with '"' and '\'
 * escaped by '\'). Returns 0, or -1 if it does not fit. */
int top_quote(const char *id, char *out, size_t size);

/* write_prometheus' text format: adds every collectd_nfs_ebpf_* line (a
 * bucket's family is collectd_nfs_ebpf_nfs_ebpf_buckets[_<hex>]_le_<le>_total).
 * Lines carry collectd's time in ms; fetch_time is used for those that do
 * not. Returns the number of values added or -1 on a malformed nfs_ebpf
 * line (logged to stderr with its line number). */
int top_parse_prometheus(const char *body, double fetch_time, top_sample_t *s);

/* Sets rate on every value of cur: collectd's rate for values that are
 * one; otherwise the increase between the last two different updates seen
 * (cur against prev, or prev's rate when collectd has not updated the value
 * since). A counter that went down (collectd restarted) has no rate. */
void top_rates(top_sample_t *cur, top_sample_t *prev);

typedef enum {
  TOP_SORT_OPS,
  TOP_SORT_BYTES,
  TOP_SORT_MEAN,
  TOP_SORT_P99,
  TOP_SORT_ERRORS,
  TOP_SORT_NAME,
} top_sort_t;

typedef struct {
  bool per_container; /* else per pod (cgroups stay as they are) */
  bool per_mount;     /* split rows by server:export */
  bool totals;        /* cumulative values since the plugin started */
  bool exact;         /* plain numbers, no units */
  top_sort_t sort;
  size_t rows;      /* 0: all */
  const char *host; /* only this host's values (NULL: all) */
} top_opts_t;

#define TOP_MAX_BUCKETS 64
#define TOP_MAX_ERRNOS 8

typedef struct {
  char name[3 * TOP_NAME_LEN];  /* ns/pod[/container] or @cgroup */
  char mount[2 * TOP_NAME_LEN]; /* server:export, "" unless per_mount */
  double ops, read_bytes, write_bytes, errors, sum;
  bool has_sum;
  size_t num_buckets;
  struct {
    double le, count;
  } buckets[TOP_MAX_BUCKETS];
  size_t num_errnos;
  struct {
    char name[TOP_NAME_LEN];
    double count;
  } errnos[TOP_MAX_ERRNOS];
} top_row_t;

typedef struct {
  top_row_t *rows;
  size_t num, cap;
  double lost; /* lost events, all reasons */
  bool has_lost;
  size_t undecoded;        /* values whose identifier does not decode */
  char host[TOP_NAME_LEN]; /* the host, or "(n hosts)" */
} top_table_t;

/* Adds up the sample's rates (or values, with totals) into rows. A value
 * without a rate is left out. Returns 0 or -1 on no memory. */
int top_aggregate(const top_sample_t *s, const top_opts_t *o, top_table_t *t);
void top_table_free(top_table_t *t);

/* Mean latency (seconds) of a row: sum / ops; NAN without. */
double top_row_mean(const top_row_t *r);
/* Quantile q (0..1) from the row's buckets, interpolated linearly inside
 * the bucket as Prometheus' histogram_quantile does; +INFINITY when it
 * falls into the +Inf bucket; NAN without operations. */
double top_row_quantile(const top_row_t *r, double q);

/* Sorts (descending, name ascending on ties) and prints the table. */
void top_print(FILE *out, top_table_t *t, const top_opts_t *o);

#endif /* NFS_EBPF_TOP_H */
