/*
 * Decoding of the identifiers identifier.c writes: the relabel rules' regexes
 * (identifier.h) in C, for the unit tests and for nfs-ebpf-top. libc only: the
 * tools that link this run outside collectd.
 */
#include "identifier.h"

#include <ctype.h>
#include <string.h>

/* Copies len bytes, '|' -> '/'; fails if they do not fit. */
static int unbar(char *dst, size_t size, const char *src, size_t len) {
  if (len >= size) {
    dst[0] = '\0';
    return -1;
  }
  for (size_t i = 0; i < len; i++)
    dst[i] = src[i] == '|' ? '/' : src[i];
  dst[len] = '\0';
  return 0;
}

/* ^@(.*)$ | ^([^_]*)_([^_]*)_(.*)$ */
int identifier_decode_who(const char *who, identifier_labels_t *l) {
  l->ns[0] = l->pod[0] = l->container[0] = l->cgroup[0] = '\0';
  if (who == NULL)
    return -1;
  if (who[0] == '@')
    return unbar(l->cgroup, sizeof(l->cgroup), who + 1, strlen(who + 1));
  const char *u1 = strchr(who, '_');
  const char *u2 = u1 ? strchr(u1 + 1, '_') : NULL;
  if (u2 == NULL)
    return -1;
  if (unbar(l->ns, sizeof(l->ns), who, (size_t)(u1 - who)) != 0 ||
      unbar(l->pod, sizeof(l->pod), u1 + 1, (size_t)(u2 - u1 - 1)) != 0 ||
      unbar(l->container, sizeof(l->container), u2 + 1, strlen(u2 + 1)) != 0) {
    l->ns[0] = l->pod[0] = l->container[0] = '\0';
    return -1;
  }
  return 0;
}

/* ^([^-@]+)(-([^@]*))?@(.*?):([|~].*)?$ */
int identifier_decode_what(const char *what, identifier_labels_t *l) {
  l->op[0] = l->qualifier[0] = l->server[0] = l->export_[0] = '\0';
  if (what == NULL)
    return -1;
  size_t op_len = strcspn(what, "-@");
  if (op_len == 0 || unbar(l->op, sizeof(l->op), what, op_len) != 0)
    return -1;
  const char *p = what + op_len;
  if (*p == '-') {
    size_t q_len = strcspn(p + 1, "@");
    if (unbar(l->qualifier, sizeof(l->qualifier), p + 1, q_len) != 0)
      return -1;
    p += 1 + q_len;
  }
  if (*p == '@') {
    p++;
    /* lazy (.*?): the first ':' followed by '|', '~' or the end */
    for (const char *c = p; *c != '\0'; c++) {
      if (*c != ':' || (c[1] != '\0' && c[1] != '|' && c[1] != '~'))
        continue;
      if (unbar(l->server, sizeof(l->server), p, (size_t)(c - p)) == 0 &&
          unbar(l->export_, sizeof(l->export_), c + 1, strlen(c + 1)) == 0)
        return 0;
      goto fail;
    }
    /* No split (identifier_what always writes one, but a value from elsewhere
     * may not): the whole mount is the server, as the shipped relabel
     * rules make it ("a source without ':/' is all server"). */
    if (unbar(l->server, sizeof(l->server), p, strlen(p)) == 0)
      return 0;
  }
fail:
  l->op[0] = l->qualifier[0] = l->server[0] = l->export_[0] = '\0';
  return -1;
}

int identifier_decode_bucket_source(const char *source, char *buf,
                                    size_t size) {
  static const char prefix[] = "le_";
  if (buf == NULL || size == 0)
    return -1;
  buf[0] = '\0';
  if (source == NULL || strncmp(source, prefix, sizeof(prefix) - 1) != 0)
    return -1;
  const char *code = source + sizeof(prefix) - 1;
  if (strcmp(code, "inf") == 0) {
    if (size < sizeof("+Inf"))
      return -1;
    memcpy(buf, "+Inf", sizeof("+Inf"));
    return 0;
  }

  /* At most one of each of '.', '-', '+' (what histogram_format_le
   * prints), digits and 'e' otherwise, and a digit first. */
  size_t len = 0;
  for (const char *c = code; *c != '\0'; c++) {
    char out = identifier_bucket_char(*c, "_mp", ".-+");
    if (out == '\0' ||
        (out != 'e' && !isdigit((unsigned char)out) &&
         memchr(buf, out, len) != NULL) ||
        len + 1 >= size) {
      buf[0] = '\0';
      return -1;
    }
    buf[len++] = out;
  }
  if (len == 0 || buf[0] < '0' || buf[0] > '9') {
    buf[0] = '\0';
    return -1;
  }
  buf[len] = '\0';
  return 0;
}

bool identifier_is_bucket_type(const char *type) {
  size_t len = sizeof(IDENTIFIER_BUCKET_TYPE) - 1;
  if (type == NULL || strncmp(type, IDENTIFIER_BUCKET_TYPE, len) != 0)
    return false;
  const char *hex = type + len;
  if (*hex == '\0')
    return true;
  if (*hex++ != '_' || strlen(hex) != IDENTIFIER_BUCKET_HASH_LEN)
    return false;
  return strspn(hex, "0123456789abcdef") == IDENTIFIER_BUCKET_HASH_LEN;
}
