/*
 * nfs-ebpf-top's model (top.h): no I/O but the table's FILE.
 */
#include "top.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void top_sample_free(top_sample_t *s) {
  free(s->values);
  memset(s, 0, sizeof(*s));
}

static int copy(char *dst, size_t size, const char *src, size_t len) {
  if (len >= size) {
    dst[0] = '\0';
    return -1;
  }
  memcpy(dst, src, len);
  dst[len] = '\0';
  return 0;
}

/* "name[-instance]": split at the first '-', as collectd's
 * parse_identifier does. */
static int split_dash(const char *s, size_t len, char *name, char *inst) {
  const char *dash = memchr(s, '-', len);
  size_t name_len = dash ? (size_t)(dash - s) : len;
  if (copy(name, TOP_NAME_LEN, s, name_len) != 0)
    return -1;
  if (dash == NULL) {
    inst[0] = '\0';
    return 0;
  }
  return copy(inst, TOP_NAME_LEN, dash + 1, len - name_len - 1);
}

int top_split_identifier(const char *id, char *host, char *plugin,
                         char *plugin_instance, char *type,
                         char *type_instance) {
  const char *s1 = strchr(id, '/');
  const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
  if (s2 == NULL || copy(host, TOP_NAME_LEN, id, (size_t)(s1 - id)) != 0 ||
      split_dash(s1 + 1, (size_t)(s2 - s1 - 1), plugin, plugin_instance) ||
      split_dash(s2 + 1, strlen(s2 + 1), type, type_instance))
    return -1;
  return 0;
}

int top_bucket_le(const char *ds, double *le) {
  char text[TOP_NAME_LEN];
  if (ds == NULL ||
      identifier_decode_bucket_source(ds, text, sizeof(text)) != 0)
    return -1;
  char *end;
  double v = strtod(text, &end); /* "+Inf" reads as +INFINITY */
  if (end == text || *end != '\0' || isnan(v) ||
      (isinf(v) && strcmp(text, "+Inf") != 0))
    return -1;
  *le = v;
  return 0;
}

static const struct {
  const char *type;
  top_kind_t kind;
} kinds[] = {
    {"operations", TOP_OPS},    {"duration", TOP_SUM}, {"errors", TOP_ERRORS},
    {"total_bytes", TOP_BYTES}, {"derive", TOP_LOST},
};

int top_sample_add(top_sample_t *s, const char *host, const char *plugin,
                   const char *plugin_instance, const char *type,
                   const char *type_instance, const char *ds, double time,
                   double value, bool is_rate) {
  if (strcmp(plugin, "nfs_ebpf") != 0)
    return 1;
  top_kind_t kind = TOP_BUCKET;
  double le = 0;
  if (identifier_is_bucket_type(type)) {
    if (top_bucket_le(ds, &le) != 0)
      return 1;
  } else {
    size_t k = 0;
    while (k < sizeof(kinds) / sizeof(kinds[0]) &&
           strcmp(kinds[k].type, type) != 0)
      k++;
    if (k == sizeof(kinds) / sizeof(kinds[0]))
      return 1; /* a newer plugin's metric: not shown yet */
    kind = kinds[k].kind;
  }
  /* lost events have no who; anything else without one is not ours */
  if ((kind == TOP_LOST) != (plugin_instance[0] == '\0'))
    return 1;

  if (s->num == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 256;
    top_value_t *v = realloc(s->values, cap * sizeof(*v));
    if (v == NULL)
      return -1;
    s->values = v;
    s->cap = cap;
  }
  top_value_t *v = &s->values[s->num];
  memset(v, 0, sizeof(*v));
  if (copy(v->host, sizeof(v->host), host, strlen(host)) ||
      copy(v->who, sizeof(v->who), plugin_instance, strlen(plugin_instance)) ||
      copy(v->what, sizeof(v->what), type_instance, strlen(type_instance)))
    return 1;
  v->kind = kind;
  v->le = le;
  v->time = time;
  v->value = value;
  v->is_rate = is_rate;
  s->num++;
  s->sorted = false;
  return 0;
}

int top_parse_status(const char *line) {
  char *end;
  errno = 0;
  long n = strtol(line, &end, 10);
  if (end == line || errno != 0 || n < 0 || n > INT32_MAX || *end != ' ')
    return -1;
  return (int)n;
}

int top_parse_listval_line(const char *line, double *time, char *id,
                           size_t id_size) {
  char *end;
  *time = strtod(line, &end);
  if (end == line || *end != ' ' || !isfinite(*time))
    return -1;
  end++;
  return copy(id, id_size, end, strcspn(end, "\r\n"));
}

/* The i-th (from 0) "<ds>=<value>" line after a GETVAL answer's status
 * line: the data source's name into ds (size TOP_NAME_LEN) and the value.
 * Returns 0 or -1. */
static int getval_line(const char *answer, int i, char *ds, double *value) {
  const char *line = answer;
  for (int k = 0; k <= i && line != NULL; k++) {
    line = strchr(line, '\n');
    if (line != NULL)
      line++;
  }
  if (line == NULL)
    return -1;
  size_t name_len = strcspn(line, "=\n");
  if (line[name_len] != '=' || copy(ds, TOP_NAME_LEN, line, name_len) != 0)
    return -1;
  const char *p = line + name_len + 1;
  char *end;
  *value = strtod(p, &end); /* also reads "NaN" */
  if (end == p || (*end != '\n' && *end != '\0'))
    return -1;
  return 0;
}

int top_parse_getval(const char *answer, double *value) {
  char ds[TOP_NAME_LEN];
  if (top_parse_status(answer) != 1)
    return -1;
  return getval_line(answer, 0, ds, value);
}

bool top_listval_wanted(const char *id) {
  const char *slash = strchr(id, '/');
  return slash != NULL && strncmp(slash + 1, "nfs_ebpf", 8) == 0 &&
         (slash[9] == '-' || slash[9] == '/');
}

int top_add_getval(top_sample_t *s, const char *id, double time,
                   const char *answer) {
  char host[TOP_NAME_LEN], plugin[TOP_NAME_LEN], pinst[TOP_NAME_LEN];
  char type[TOP_NAME_LEN], tinst[TOP_NAME_LEN];
  double value, le;
  if (top_split_identifier(id, host, plugin, pinst, type, tinst) != 0)
    return 1;
  bool is_rate = strcmp(type, "duration") != 0;
  if (!identifier_is_bucket_type(type)) {
    if (top_parse_getval(answer, &value) != 0)
      return 1;
    return top_sample_add(s, host, plugin, pinst, type, tinst, NULL, time,
                          value, is_rate);
  }

  /* A histogram: every bucket, or none (a part would make up quantiles). */
  int n = top_parse_status(answer);
  if (n < 1 || n > TOP_MAX_BUCKETS)
    return 1;
  char sources[TOP_MAX_BUCKETS][TOP_NAME_LEN];
  double values[TOP_MAX_BUCKETS];
  for (int i = 0; i < n; i++)
    if (getval_line(answer, i, sources[i], &values[i]) != 0 ||
        top_bucket_le(sources[i], &le) != 0)
      return 1;
  for (int i = 0; i < n; i++) {
    int status = top_sample_add(s, host, plugin, pinst, type, tinst, sources[i],
                                time, values[i], is_rate);
    if (status != 0)
      return status; /* 1 already for the first bucket: not ours */
  }
  return 0;
}

int top_quote(const char *id, char *out, size_t size) {
  size_t pos = 0;
  if (size < 3)
    return -1;
  out[pos++] = '"';
  for (const char *c = id; *c != '\0'; c++) {
    if (pos + 4 > size)
      return -1;
    if (*c == '"' || *c == '\\')
      out[pos++] = '\\';
    out[pos++] = *c;
  }
  out[pos++] = '"';
  out[pos] = '\0';
  return 0;
}

/* ---- write_prometheus ---- */

static const struct {
  const char *metric;
  const char *type;
} prom_metrics[] = {
    {"collectd_nfs_ebpf_operations_total", "operations"},
    {"collectd_nfs_ebpf_duration_seconds", "duration"},
    {"collectd_nfs_ebpf_errors_total", "errors"},
    {"collectd_nfs_ebpf_total_bytes_total", "total_bytes"},
    {"collectd_nfs_ebpf_derive_total", "derive"},
};

/* A bucket's family, "collectd_nfs_ebpf_<type>_<ds>_total": write_prometheus
 * appends the data source's name to a type of several. Its type and data
 * source (each TOP_NAME_LEN); returns 0, or -1 when it is none. The type
 * ends at the first "_le_": neither bucket type name holds one. */
static int prom_bucket_metric(const char *name, size_t len, char *type,
                              char *ds) {
  static const char plugin[] = "collectd_nfs_ebpf_";
  static const char suffix[] = "_total";
  size_t pre = sizeof(plugin) - 1, suf = sizeof(suffix) - 1;
  if (len < pre + suf || strncmp(name, plugin, pre) != 0 ||
      strncmp(name + len - suf, suffix, suf) != 0)
    return -1;
  const char *t = name + pre, *end = name + len - suf;
  for (const char *p = t; p + 4 <= end; p++) {
    if (strncmp(p, "_le_", 4) != 0)
      continue;
    double le;
    if (copy(type, TOP_NAME_LEN, t, (size_t)(p - t)) != 0 ||
        copy(ds, TOP_NAME_LEN, p + 1, (size_t)(end - p - 1)) != 0 ||
        !identifier_is_bucket_type(type) || top_bucket_le(ds, &le) != 0)
      return -1;
    return 0;
  }
  return -1;
}

/* Reads label="value" pairs up to '}' (write_prometheus escapes '\\', '"'
 * and newline). Returns a pointer after '}', or NULL. */
static const char *prom_labels(const char *p, char *who, bool *has_who,
                               char *what, bool *has_what, char *host) {
  *has_who = *has_what = false;
  who[0] = what[0] = host[0] = '\0';
  while (*p != '}') {
    size_t name_len = strcspn(p, "=}\n");
    if (p[name_len] != '=' || p[name_len + 1] != '"')
      return NULL;
    char *dst = NULL;
    if (name_len == 8 && strncmp(p, "nfs_ebpf", 8) == 0) {
      dst = who;
      *has_who = true;
    } else if (name_len == 4 && strncmp(p, "type", 4) == 0) {
      dst = what;
      *has_what = true;
    } else if (name_len == 8 && strncmp(p, "instance", 8) == 0) {
      dst = host;
    }
    p += name_len + 2;
    size_t len = 0;
    while (*p != '"') {
      char c = *p;
      if (c == '\0' || c == '\n')
        return NULL;
      if (c == '\\') {
        c = p[1] == 'n' ? '\n' : p[1];
        if (c == '\0')
          return NULL;
        p++;
      }
      if (dst != NULL) {
        if (len + 1 >= TOP_NAME_LEN)
          return NULL;
        dst[len] = c;
      }
      len++;
      p++;
    }
    if (dst != NULL)
      dst[len] = '\0';
    p++;
    if (*p == ',')
      p++;
  }
  return p + 1;
}

int top_parse_prometheus(const char *body, double fetch_time, top_sample_t *s) {
  int added = 0, line_no = 0;
  for (const char *line = body; *line != '\0';) {
    const char *eol = strchr(line, '\n');
    const char *next = eol ? eol + 1 : line + strlen(line);
    line_no++;
    size_t k = 0, name_len = strcspn(line, "{ \n");
    while (k < sizeof(prom_metrics) / sizeof(prom_metrics[0]) &&
           (strlen(prom_metrics[k].metric) != name_len ||
            strncmp(prom_metrics[k].metric, line, name_len) != 0))
      k++;
    char bucket_type[TOP_NAME_LEN], ds[TOP_NAME_LEN];
    const char *type = NULL;
    if (k < sizeof(prom_metrics) / sizeof(prom_metrics[0]))
      type = prom_metrics[k].type;
    else if (prom_bucket_metric(line, name_len, bucket_type, ds) == 0)
      type = bucket_type;
    if (type == NULL) {
      line = next;
      continue;
    }
    char who[TOP_NAME_LEN], what[TOP_NAME_LEN], host[TOP_NAME_LEN];
    bool has_who, has_what;
    const char *p = NULL;
    if (line[name_len] == '{')
      p = prom_labels(line + name_len + 1, who, &has_who, what, &has_what,
                      host);
    char *end = NULL;
    double value = p ? strtod(p, &end) : NAN;
    double time = fetch_time;
    if (end != NULL && end != p && *end == ' ') {
      char *ts_end;
      long long ms = strtoll(end + 1, &ts_end, 10);
      if (ts_end != end + 1)
        time = (double)ms / 1000.0;
      end = ts_end;
    }
    if (p == NULL || end == NULL || end == p ||
        (*end != '\n' && *end != '\0')) {
      fprintf(stderr,
              "nfs-ebpf-top: cannot parse line %d of the "
              "write_prometheus page: %.*s\n",
              line_no, (int)(next - line), line);
      return -1;
    }
    /* Lost events have no plugin instance: write_prometheus then names
     * the reason in the plugin's label and has no type label. */
    if (strcmp(type, "derive") == 0 && !has_what) {
      memcpy(what, who, sizeof(what));
      who[0] = '\0';
    }
    int status =
        top_sample_add(s, host, "nfs_ebpf", who, type, what,
                       type == bucket_type ? ds : NULL, time, value, false);
    if (status < 0)
      return -1;
    added += status == 0;
    line = next;
  }
  return added;
}

/* ---- rates ---- */

static int value_cmp(const void *a, const void *b) {
  const top_value_t *x = a, *y = b;
  int c = strcmp(x->host, y->host);
  if (c == 0)
    c = strcmp(x->who, y->who);
  if (c == 0)
    c = (int)x->kind - (int)y->kind;
  if (c == 0)
    c = strcmp(x->what, y->what);
  if (c == 0)
    c = (x->le > y->le) - (x->le < y->le); /* buckets of one histogram */
  return c;
}

static void sort_sample(top_sample_t *s) {
  if (!s->sorted && s->num > 0)
    qsort(s->values, s->num, sizeof(s->values[0]), value_cmp);
  s->sorted = true;
}

void top_rates(top_sample_t *cur, top_sample_t *prev) {
  if (prev != NULL)
    sort_sample(prev);
  for (size_t i = 0; i < cur->num; i++) {
    top_value_t *v = &cur->values[i];
    v->has_rate = false;
    if (v->is_rate) {
      v->rate = v->value;
      v->has_rate = !isnan(v->value);
      continue;
    }
    const top_value_t *p =
        prev && prev->num
            ? bsearch(v, prev->values, prev->num, sizeof(*v), value_cmp)
            : NULL;
    if (p == NULL || isnan(v->value) || isnan(p->value))
      continue;
    if (v->time > p->time) {
      if (v->value >= p->value) {
        v->rate = (v->value - p->value) / (v->time - p->time);
        v->has_rate = true;
      }
    } else if (v->time == p->time && v->value == p->value && p->has_rate) {
      /* not updated since: collectd's rate would not change either */
      v->rate = p->rate;
      v->has_rate = true;
    }
  }
}

/* ---- aggregation ---- */

void top_table_free(top_table_t *t) {
  free(t->rows);
  memset(t, 0, sizeof(*t));
}

static top_row_t *find_row(top_table_t *t, const char *name,
                           const char *mount) {
  for (size_t i = 0; i < t->num; i++)
    if (strcmp(t->rows[i].name, name) == 0 &&
        strcmp(t->rows[i].mount, mount) == 0)
      return &t->rows[i];
  if (t->num == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 32;
    top_row_t *rows = realloc(t->rows, cap * sizeof(*rows));
    if (rows == NULL)
      return NULL;
    t->rows = rows;
    t->cap = cap;
  }
  top_row_t *r = &t->rows[t->num++];
  memset(r, 0, sizeof(*r));
  snprintf(r->name, sizeof(r->name), "%s", name);
  snprintf(r->mount, sizeof(r->mount), "%s", mount);
  return r;
}

/* Buckets of all ops of a row add up: every op has the same bounds. */
static void add_bucket(top_row_t *r, double le, double count) {
  size_t i = 0;
  while (i < r->num_buckets && r->buckets[i].le != le)
    i++;
  if (i == r->num_buckets) {
    if (i == TOP_MAX_BUCKETS)
      return;
    r->num_buckets++;
    r->buckets[i].le = le;
    r->buckets[i].count = 0;
  }
  r->buckets[i].count += count;
}

static void add_errno(top_row_t *r, const char *name, double count) {
  size_t i = 0;
  while (i < r->num_errnos && strcmp(r->errnos[i].name, name) != 0)
    i++;
  if (i == r->num_errnos) {
    if (i == TOP_MAX_ERRNOS)
      return; /* still counted in r->errors */
    r->num_errnos++;
    snprintf(r->errnos[i].name, sizeof(r->errnos[i].name), "%s", name);
    r->errnos[i].count = 0;
  }
  r->errnos[i].count += count;
}

int top_aggregate(const top_sample_t *s, const top_opts_t *o, top_table_t *t) {
  const char *first_host = NULL;
  size_t hosts = 0;
  for (size_t i = 0; i < s->num; i++) {
    const top_value_t *v = &s->values[i];
    if (o->host != NULL && strcmp(o->host, v->host) != 0)
      continue;
    if (first_host == NULL || (hosts == 1 && strcmp(first_host, v->host))) {
      hosts++;
      if (first_host == NULL)
        first_host = v->host;
    }
    double x = o->totals ? v->value : v->rate;
    if ((o->totals ? v->is_rate : !v->has_rate) || isnan(x))
      continue;
    if (v->kind == TOP_LOST) {
      t->lost += x;
      t->has_lost = true;
      continue;
    }
    identifier_labels_t l;
    if (identifier_decode_who(v->who, &l) != 0 ||
        identifier_decode_what(v->what, &l) != 0) {
      t->undecoded++;
      continue;
    }
    char name[sizeof(t->rows[0].name)], mount[sizeof(t->rows[0].mount)];
    if (l.cgroup[0] != '\0' || l.ns[0] == '\0')
      snprintf(name, sizeof(name), "@%s", l.cgroup);
    else if (o->per_container)
      snprintf(name, sizeof(name), "%s/%s/%s", l.ns, l.pod, l.container);
    else
      snprintf(name, sizeof(name), "%s/%s", l.ns, l.pod);
    mount[0] = '\0';
    if (o->per_mount)
      snprintf(mount, sizeof(mount), "%s:%s", l.server, l.export_);
    top_row_t *r = find_row(t, name, mount);
    if (r == NULL)
      return -1;
    switch (v->kind) {
    case TOP_OPS:
      r->ops += x;
      break;
    case TOP_BUCKET:
      add_bucket(r, v->le, x);
      break;
    case TOP_SUM:
      r->sum += x;
      r->has_sum = true;
      break;
    case TOP_ERRORS:
      r->errors += x;
      add_errno(r, l.qualifier, x);
      break;
    case TOP_BYTES:
      if (strcmp(l.op, "read") == 0)
        r->read_bytes += x;
      else if (strcmp(l.op, "write") == 0)
        r->write_bytes += x;
      break;
    case TOP_LOST:
      break;
    }
  }
  if (hosts > 1)
    snprintf(t->host, sizeof(t->host), "(%zu hosts)", hosts);
  else
    snprintf(t->host, sizeof(t->host), "%s", first_host ? first_host : "-");
  return 0;
}

double top_row_mean(const top_row_t *r) {
  if (!r->has_sum || !(r->ops > 0))
    return NAN;
  return r->sum / r->ops;
}

static int bucket_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double top_row_quantile(const top_row_t *r, double q) {
  /* le first in each bucket: sort the pairs by le */
  top_row_t c = *r;
  qsort(c.buckets, c.num_buckets, sizeof(c.buckets[0]), bucket_cmp);
  if (c.num_buckets == 0 || !isinf(c.buckets[c.num_buckets - 1].le))
    return NAN;
  double total = c.buckets[c.num_buckets - 1].count;
  if (!(total > 0))
    return NAN;
  double rank = q * total, lower = 0, below = 0;
  for (size_t i = 0; i < c.num_buckets; i++) {
    if (c.buckets[i].count >= rank) {
      if (isinf(c.buckets[i].le))
        return INFINITY;
      double in = c.buckets[i].count - below;
      if (!(in > 0))
        return c.buckets[i].le;
      return lower + (c.buckets[i].le - lower) * (rank - below) / in;
    }
    lower = c.buckets[i].le;
    below = c.buckets[i].count;
  }
  return NAN;
}

/* ---- the table ---- */

static top_sort_t sort_key;

static double sort_value(const top_row_t *r) {
  double v;
  switch (sort_key) {
  case TOP_SORT_BYTES:
    return r->read_bytes + r->write_bytes;
  case TOP_SORT_MEAN:
    v = top_row_mean(r);
    return isnan(v) ? -1 : v;
  case TOP_SORT_P99:
    v = top_row_quantile(r, 0.99);
    return isnan(v) ? -1 : v;
  case TOP_SORT_ERRORS:
    return r->errors;
  case TOP_SORT_NAME:
    return 0;
  case TOP_SORT_OPS:
  default:
    return r->ops;
  }
}

static int row_cmp(const void *a, const void *b) {
  const top_row_t *x = a, *y = b;
  double vx = sort_value(x), vy = sort_value(y);
  if (vx != vy)
    return vx < vy ? 1 : -1;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->mount, y->mount);
}

/* 1536 -> "1.5K" (binary units, as nfsiostat's kB); exact: "1536". */
static void fmt_amount(char *buf, size_t size, double v, const top_opts_t *o,
                       bool integral) {
  if (o->exact || v < 1000) {
    snprintf(buf, size,
             (integral || o->exact) && v == floor(v) ? "%.0f" : "%.1f", v);
    return;
  }
  const char *units = "KMGTP";
  double x = v / 1024;
  size_t u = 0;
  while (x >= 1000 && u + 1 < strlen(units)) {
    x /= 1024;
    u++;
  }
  snprintf(buf, size, "%.1f%c", x, units[u]);
}

static void fmt_latency(char *buf, size_t size, double s, const top_opts_t *o,
                        double largest) {
  if (isnan(s))
    snprintf(buf, size, "-");
  else if (isinf(s))
    snprintf(buf, size, ">%g%s", largest, o->exact ? "" : "s");
  else if (o->exact)
    snprintf(buf, size, "%.6f", s);
  else if (s < 0.001)
    snprintf(buf, size, "%.0fus", s * 1e6);
  else if (s < 1)
    snprintf(buf, size, "%.1fms", s * 1e3);
  else
    snprintf(buf, size, "%.2fs", s);
}

static double largest_bound(const top_row_t *r) {
  double m = 0;
  for (size_t i = 0; i < r->num_buckets; i++)
    if (!isinf(r->buckets[i].le) && r->buckets[i].le > m)
      m = r->buckets[i].le;
  return m;
}

void top_print(FILE *out, top_table_t *t, const top_opts_t *o) {
  sort_key = o->sort;
  if (t->num > 0)
    qsort(t->rows, t->num, sizeof(t->rows[0]), row_cmp);
  size_t name_w = 4, mount_w = 0;
  size_t shown = o->rows && o->rows < t->num ? o->rows : t->num;
  for (size_t i = 0; i < shown; i++) {
    size_t n = strlen(t->rows[i].name), m = strlen(t->rows[i].mount);
    name_w = n > name_w ? n : name_w;
    mount_w = m > mount_w ? m : mount_w;
  }
  if (o->per_mount && mount_w < 5)
    mount_w = 5;
  const char *per = o->totals ? "" : "/s";
  char h_ops[16], h_rd[16], h_wr[16], h_err[16];
  snprintf(h_ops, sizeof(h_ops), "OPS%s", per);
  snprintf(h_rd, sizeof(h_rd), "READ%s", per);
  snprintf(h_wr, sizeof(h_wr), "WRITE%s", per);
  snprintf(h_err, sizeof(h_err), "ERR%s", per);
  fprintf(out, "%-*s", (int)name_w, o->per_container ? "POD/CONTAINER" : "POD");
  if (o->per_mount)
    fprintf(out, "  %-*s", (int)mount_w, "MOUNT");
  fprintf(out, " %10s %10s %10s %9s %9s %9s  %s\n", h_ops, h_rd, h_wr, "MEAN",
          "P99", h_err, "ERRNO");
  for (size_t i = 0; i < shown; i++) {
    const top_row_t *r = &t->rows[i];
    char ops[32], rd[32], wr[32], mean[32], p99[32], err[32];
    fmt_amount(ops, sizeof(ops), r->ops, o, o->totals);
    fmt_amount(rd, sizeof(rd), r->read_bytes, o, true);
    fmt_amount(wr, sizeof(wr), r->write_bytes, o, true);
    fmt_amount(err, sizeof(err), r->errors, o, o->totals);
    fmt_latency(mean, sizeof(mean), top_row_mean(r), o, 0);
    fmt_latency(p99, sizeof(p99), top_row_quantile(r, 0.99), o,
                largest_bound(r));
    /* the most frequent errno */
    const char *top_errno = "-";
    double most = 0;
    for (size_t e = 0; e < r->num_errnos; e++)
      if (r->errnos[e].count > most) {
        most = r->errnos[e].count;
        top_errno = r->errnos[e].name;
      }
    fprintf(out, "%-*s", (int)name_w, r->name);
    if (o->per_mount)
      fprintf(out, "  %-*s", (int)mount_w, r->mount);
    fprintf(out, " %10s %10s %10s %9s %9s %9s  %s\n", ops, rd, wr, mean, p99,
            err, top_errno);
  }
  if (shown < t->num)
    fprintf(out, "(%zu more)\n", t->num - shown);
}
