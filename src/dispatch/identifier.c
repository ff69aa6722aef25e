/*
 * Identifier encoding (docs/identifiers.md). A field is a list of pieces:
 * fixed text we control (op, separators) and variable segments from the
 * outside world (pod names, cgroups, mount sources). Variable segments are
 * checked, '/'-mapped, and when the field is too long the longest ones are
 * cut and end in "~" + hash of the whole unshortened field.
 */
#include "collectd_compat.h"

#include "hash.h"
#include "identifier.h"

/* Five pieces at most: "<ns>" "_" "<pod>" "_" "<container>". */
#define MAX_PIECES 8

typedef struct {
  const char *text; /* raw bytes; '/' is written as '|' */
  size_t len;       /* length in the unshortened field */
  bool variable;    /* outside data: may be cut */
  bool hashed;      /* replaced whole by hash_text */
  char hash_text[IDENTIFIER_HASH_LEN + 1];
  size_t out_len; /* length in the output, after any cut */
  bool cut;
} piece_t;

typedef struct {
  piece_t pieces[MAX_PIECES];
  size_t num;
} field_t;

static bool logged_bad_segment;
static bool logged_shortened;

/* "~" + the top 48 bits: FNV's multiply mixes every input byte into the
 * high bits, while bit k of the product only sees bits <= k. */
static void hash_text(uint64_t hash, char out[IDENTIFIER_HASH_LEN + 1]) {
  snprintf(out, IDENTIFIER_HASH_LEN + 1, "~%012" PRIx64, hash >> 16);
}

static char encoded_char(char c) { return c == '/' ? '|' : c; }

/* text for a log line: bytes outside printable ASCII, and backslashes, as
 * \xNN; cut with "..." if it does not fit. */
static void printable(char *out, size_t size, const char *text) {
  size_t o = 0;
  for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
    if (o + 4 + 3 >= size) { /* room for one \xNN and "..." */
      sstrncpy(out + o, "...", size - o);
      return;
    }
    if (*c >= 0x20 && *c <= 0x7e && *c != '\\')
      out[o++] = (char)*c;
    else
      o += (size_t)snprintf(out + o, size - o, "\\x%02x", *c);
  }
  out[o] = '\0';
}

static void add_fixed(field_t *f, const char *text) {
  piece_t *p = &f->pieces[f->num++];
  memset(p, 0, sizeof(*p));
  p->text = text;
  p->len = p->out_len = strlen(text);
}

/* A variable segment. `reserved` lists characters that would make the field
 * ambiguous for this segment (besides '|', '~' and non-printable bytes,
 * which are reserved everywhere); such a segment is replaced whole by
 * "~<hash of the segment>" so the name still says "something odd here"
 * and stays stable and unique. */
static void add_segment(field_t *f, const char *field_name, const char *text,
                        const char *reserved) {
  piece_t *p = &f->pieces[f->num++];
  memset(p, 0, sizeof(*p));
  p->text = text;
  p->len = p->out_len = strlen(text);
  p->variable = true;

  bool bad = false;
  for (size_t i = 0; i < p->len && !bad; i++) {
    unsigned char c = (unsigned char)text[i];
    bad = c < 0x20 || c > 0x7e || c == '|' || c == '~' ||
          (reserved != NULL && strchr(reserved, c) != NULL);
  }
  /* ":/" in a server would be read as the server/export split. */
  if (!bad && strcmp(field_name, "server") == 0 && strstr(text, ":/") != NULL)
    bad = true;
  if (!bad)
    return;

  p->hashed = true;
  hash_text(hash_fnv1a64(text, p->len), p->hash_text);
  p->len = p->out_len = IDENTIFIER_HASH_LEN;
  if (!logged_bad_segment) {
    logged_bad_segment = true;
    char shown[256];
    printable(shown, sizeof(shown), text);
    WARNING("nfs_ebpf plugin: the %s name \"%s\" holds non-printable or "
            "reserved characters; it is reported as \"%s\" (logged once).",
            field_name, shown, p->hash_text);
  }
}

static uint64_t field_hash(const field_t *f) {
  uint64_t hash = HASH_FNV1A64_OFFSET;
  for (size_t i = 0; i < f->num; i++) {
    const piece_t *p = &f->pieces[i];
    if (p->hashed) {
      hash = hash_fnv1a64_update(hash, p->hash_text, IDENTIFIER_HASH_LEN);
      continue;
    }
    for (size_t j = 0; j < p->len; j++) {
      char c = encoded_char(p->text[j]);
      hash = hash_fnv1a64_update(hash, &c, 1);
    }
  }
  return hash;
}

/* The field's length as it would be written now. */
static size_t field_len(const field_t *f) {
  size_t total = 0;
  for (size_t i = 0; i < f->num; i++)
    total += f->pieces[i].out_len;
  return total;
}

/* Cuts variable pieces until the field fits in limit, always taking from
 * the longest one(s), so long pieces end up the same length and each keeps
 * as much of its beginning as possible (a long export does not swallow the
 * whole budget while the server stays intact). Returns 0, or -1 if even
 * cutting every variable piece down to its hash is too long. */
static int shorten(field_t *f, size_t limit) {
  size_t total = field_len(f);

  while (total > limit) {
    piece_t *longest = NULL;
    for (size_t i = 0; i < f->num; i++) {
      piece_t *p = &f->pieces[i];
      if (p->variable && !p->hashed && p->out_len > IDENTIFIER_HASH_LEN &&
          (longest == NULL || p->out_len > longest->out_len))
        longest = p;
    }
    if (longest == NULL)
      return -1;
    size_t second = IDENTIFIER_HASH_LEN;
    for (size_t i = 0; i < f->num; i++) {
      piece_t *p = &f->pieces[i];
      if (p != longest && p->variable && !p->hashed && p->out_len > second)
        second = p->out_len;
    }
    size_t step = longest->out_len - second; /* 0 on a tie: take one */
    if (step == 0)
      step = 1;
    if (step > total - limit)
      step = total - limit;
    longest->out_len -= step;
    longest->cut = true;
    total -= step;
  }

  /* A kept prefix ending in ':' followed by "~" would read as the
   * server/export split; give up that ':' too. */
  for (size_t i = 0; i < f->num; i++) {
    piece_t *p = &f->pieces[i];
    while (p->cut && p->out_len > IDENTIFIER_HASH_LEN &&
           p->text[p->out_len - IDENTIFIER_HASH_LEN - 1] == ':')
      p->out_len--;
  }
  return 0;
}

/* Writes the field; buf has room for the total plus the terminator. */
static int write_field(const field_t *f, char *buf) {
  bool any_cut = false;
  for (size_t i = 0; i < f->num; i++)
    any_cut |= f->pieces[i].cut;
  char cut_hash[IDENTIFIER_HASH_LEN + 1] = "";
  if (any_cut)
    hash_text(field_hash(f), cut_hash);

  size_t pos = 0;
  for (size_t i = 0; i < f->num; i++) {
    const piece_t *p = &f->pieces[i];
    if (p->hashed) {
      memcpy(buf + pos, p->hash_text, IDENTIFIER_HASH_LEN);
      pos += IDENTIFIER_HASH_LEN;
      continue;
    }
    size_t keep = p->cut ? p->out_len - IDENTIFIER_HASH_LEN : p->out_len;
    for (size_t j = 0; j < keep; j++)
      buf[pos++] = encoded_char(p->text[j]);
    if (p->cut) {
      memcpy(buf + pos, cut_hash, IDENTIFIER_HASH_LEN);
      pos += IDENTIFIER_HASH_LEN;
    }
  }
  buf[pos] = '\0';

  if (any_cut && !logged_shortened) {
    logged_shortened = true;
    INFO("nfs_ebpf plugin: an identifier longer than %d characters was "
         "shortened to \"%s\" (logged once).",
         IDENTIFIER_MAX_LEN, buf);
  }
  return 0;
}

/* The longest field a buffer of size (> 0) takes. */
static size_t field_limit(size_t size) {
  return size - 1 < IDENTIFIER_MAX_LEN ? size - 1 : IDENTIFIER_MAX_LEN;
}

static int finish(field_t *f, char *buf, size_t size, const char *what) {
  size_t limit = field_limit(size);
  if (shorten(f, limit) != 0) {
    ERROR("nfs_ebpf plugin: cannot fit the %s identifier into %zu "
          "characters.",
          what, limit);
    buf[0] = '\0';
    return -1;
  }
  return write_field(f, buf);
}

/* "@<server>:<export>": what follows the op and qualifier of a what. */
static void add_tail(field_t *f, const char *server, const char *export_) {
  add_fixed(f, "@");
  add_segment(f, "server", server, NULL);
  add_fixed(f, ":");
  /* An export is "/..." (the split keeps the slash), so it starts with
   * '|' once encoded; one that does not cannot be told from the server. */
  if (export_[0] != '\0' && export_[0] != '/') {
    add_segment(f, "export", export_, "");
    piece_t *p = &f->pieces[f->num - 1];
    if (!p->hashed) {
      p->hashed = true;
      hash_text(hash_fnv1a64(export_, strlen(export_)), p->hash_text);
      p->len = p->out_len = IDENTIFIER_HASH_LEN;
    }
  } else {
    add_segment(f, "export", export_, NULL);
  }
}

int identifier_who(char *buf, size_t size, const char *ns, const char *pod,
                   const char *container, const char *cgroup) {
  if (buf == NULL || size == 0)
    return -1;
  buf[0] = '\0';
  field_t f = {.num = 0};

  if (ns != NULL) {
    if (pod == NULL || container == NULL) {
      ERROR("nfs_ebpf plugin: identifier_who: a namespace without pod or "
            "container.");
      return -1;
    }
    /* '_' and '@' split the who; DNS-1123 names never hold them. */
    add_segment(&f, "namespace", ns, "_@");
    add_fixed(&f, "_");
    add_segment(&f, "pod", pod, "_@");
    add_fixed(&f, "_");
    add_segment(&f, "container", container, "_@");
  } else {
    if (cgroup == NULL) {
      ERROR("nfs_ebpf plugin: identifier_who: neither a pod nor a cgroup.");
      return -1;
    }
    /* Everything after the leading '@' is the cgroup: systemd names such
     * as "user@1000.service" keep their '@' and '_'. */
    add_fixed(&f, "@");
    add_segment(&f, "cgroup", cgroup, NULL);
  }
  return finish(&f, buf, size, "who");
}

/* op and qualifier are ours (op_names.c, histogram.c, errno_names.c): a
 * character of the encoding's in them is a bug, not outside data to hash. */
static bool what_vocabulary_ok(const char *op, const char *qualifier) {
  return op != NULL && op[0] != '\0' && strpbrk(op, "-@/|~:") == NULL &&
         (qualifier == NULL || strpbrk(qualifier, "@/|~") == NULL);
}

int identifier_what(char *buf, size_t size, const char *op,
                    const char *qualifier, const char *server,
                    const char *export_) {
  if (buf == NULL || size == 0)
    return -1;
  buf[0] = '\0';
  if (!what_vocabulary_ok(op, qualifier) || server == NULL || export_ == NULL) {
    ERROR("nfs_ebpf plugin: identifier_what: invalid op \"%s\" or qualifier "
          "\"%s\".",
          op ? op : "(null)", qualifier ? qualifier : "(null)");
    return -1;
  }

  field_t f = {.num = 0};
  add_fixed(&f, op);
  if (qualifier != NULL && qualifier[0] != '\0') {
    add_fixed(&f, "-");
    add_fixed(&f, qualifier);
  }
  add_tail(&f, server, export_);
  return finish(&f, buf, size, "what");
}

char *identifier_what_tail(const char *server, const char *export_) {
  if (server == NULL || export_ == NULL)
    return NULL;
  field_t f = {.num = 0};
  add_tail(&f, server, export_);
  /* Even a one-letter op would make the what too long: every what of
   * this mount is shortened, which needs the whole field. */
  if (field_len(&f) + 1 > IDENTIFIER_MAX_LEN)
    return NULL;
  char buf[IDENTIFIER_MAX_LEN + 1];
  write_field(&f, buf); /* nothing is cut: it only copies */
  return strdup(buf);
}

int identifier_what_join(char *buf, size_t size, const char *op,
                         const char *qualifier, const char *tail,
                         const char *server, const char *export_) {
  /* Anything but the plain case (bad arguments, which identifier_what
   * logs, or a what to shorten, which cuts the server and export and
   * hashes the whole field, qualifier included) is identifier_what's. */
  if (tail == NULL || buf == NULL || size == 0 ||
      !what_vocabulary_ok(op, qualifier))
    return identifier_what(buf, size, op, qualifier, server, export_);
  bool qualified = qualifier != NULL && qualifier[0] != '\0';
  size_t op_len = strlen(op), qualifier_len = qualified ? strlen(qualifier) : 0;
  size_t tail_len = strlen(tail);
  if (op_len + (qualified ? 1 + qualifier_len : 0) + tail_len >
      field_limit(size))
    return identifier_what(buf, size, op, qualifier, server, export_);
  char *pos = buf;
  memcpy(pos, op, op_len);
  pos += op_len;
  if (qualified) {
    *pos++ = '-';
    memcpy(pos, qualifier, qualifier_len);
    pos += qualifier_len;
  }
  memcpy(pos, tail, tail_len + 1);
  return 0;
}

int identifier_bucket_source(char *buf, size_t size, const char *le) {
  static const char prefix[] = "le_";
  if (buf == NULL || size == 0)
    return -1;
  buf[0] = '\0';
  if (le == NULL || le[0] == '\0')
    return -1;
  if (strcmp(le, "+Inf") == 0) {
    if (size < sizeof("le_inf"))
      return -1;
    sstrncpy(buf, "le_inf", size);
    return 0;
  }

  size_t len = sizeof(prefix) - 1;
  if (len >= size)
    return -1;
  memcpy(buf, prefix, len);
  for (const char *c = le; *c != '\0'; c++) {
    char out = identifier_bucket_char(*c, ".-+", "_mp");
    if (out == '\0' || len + 1 >= size) {
      buf[0] = '\0';
      return -1;
    }
    buf[len++] = out;
  }
  buf[len] = '\0';
  return 0;
}

int identifier_split_source(const char *source, char *server,
                            size_t server_size, char *export_,
                            size_t export_size) {
  if (server == NULL || export_ == NULL || server_size == 0 || export_size == 0)
    return -1;
  server[0] = export_[0] = '\0';
  if (source == NULL)
    return -1;

  const char *split = strstr(source, ":/");
  size_t server_len = split ? (size_t)(split - source) : strlen(source);
  const char *export_start = split ? split + 1 : "";
  if (server_len >= server_size || strlen(export_start) >= export_size)
    return -1;

  memcpy(server, source, server_len);
  server[server_len] = '\0';
  sstrncpy(export_, export_start, export_size);
  return 0;
}
