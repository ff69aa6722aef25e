/*
 * The collectd identifier encoding of docs/identifiers.md: the "who"
 * (plugin_instance) and "what" (type_instance) fields, built so that
 * collectd's escape_slashes leaves them unchanged and the shipped
 * Prometheus relabel rules can split them again.
 *
 *   who  = "<ns>_<pod>_<container>"  |  "@<cgroup>"
 *   what = "<op>[-<qualifier>]@<server>:<export>"
 *
 * Decoding (what the relabel rules do; tests/unit/identifier_test.c mirrors
 * it): who:  ^@(.*)$ -> cgroup;  ^([^_]*)_([^_]*)_(.*)$ -> namespace, pod,
 *         container
 *   what: ^([^-@]+)(-([^@]*))?@(.*?):([|~].*)?$ -> op, qualifier, server,
 *         export (RE2, lazy server: the split is the first ':' followed by
 *         '|' or '~', or the final ':' when the export is empty)
 *   then every '|' -> '/'.
 */
#ifndef NFS_EBPF_IDENT_H
#define NFS_EBPF_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* collectd's name fields hold 127 characters. */
#define IDENTIFIER_MAX_LEN 127

/* Length of "~" + 12 hex digits. */
#define IDENTIFIER_HASH_LEN 13

/* The hashes are FNV-1a 64 (hash.h's hash_fnv1a64): "~" + the top 48 bits
 * in hex, of the odd segment or of the whole unshortened field. */

/* who of a pod process (ns, pod, container non-NULL, cgroup ignored) or of
 * a process outside pods (ns == NULL: "@" + cgroup; "/" becomes "@|").
 * Writes at most min(size - 1, IDENTIFIER_MAX_LEN) characters. Returns 0 when
 * buf holds the identifier, shortened or hashed ones included: they are
 * the encoding of long or odd names, not a failure, and a '~' in buf (never
 * part of a name we copy) marks them. Returns -1 on bad arguments or a buf
 * too small for even the hashes (logged; buf then holds ""). */
int identifier_who(char *buf, size_t size, const char *ns, const char *pod,
                   const char *container, const char *cgroup);

/* what of a series: op (e.g. "read"), optional qualifier ("0.001", "+Inf",
 * "ESTALE"; NULL or "" for none), server and export as split by
 * identifier_split_source. Returns 0 or -1 as identifier_who. op must not
 * contain
 * '-', '@', '/', and the qualifier no '@' or '/': they are ours, not user
 * data, so a bad one is a bug and returns -1. */
int identifier_what(char *buf, size_t size, const char *op,
                    const char *qualifier, const char *server,
                    const char *export_);

/* The whats of one series (a few per latency bucket and errno per read)
 * differ only in their qualifier. identifier_what_tail builds their common
 * end, "@<server>:<export>" encoded as identifier_what encodes it, once:
 * a malloc'd string, or NULL (a NULL argument, no memory, or a mount whose
 * whats are all too long to go unshortened). */
char *identifier_what_tail(const char *server, const char *export_);

/* identifier_what(buf, size, op, qualifier, server, export_), byte for
 * byte, with tail = identifier_what_tail(server, export_) (may be NULL):
 * a what that fits unshortened is op ["-" qualifier] tail, copied; any
 * other (too long, bad op or qualifier) is left to identifier_what. */
int identifier_what_join(char *buf, size_t size, const char *op,
                         const char *qualifier, const char *tail,
                         const char *server, const char *export_);

/* How le's punctuation is spelled in a bucket's data source name, one
 * character each way: digits and 'e' are kept, from[i] becomes to[i]
 * (".-+" <-> "_mp"), anything else is 0. */
static inline char identifier_bucket_char(char c, const char *from,
                                          const char *to) {
  if ((c >= '0' && c <= '9') || c == 'e')
    return c;
  for (size_t i = 0; from[i] != '\0'; i++)
    if (c == from[i])
      return to[i];
  return '\0';
}

/* The data source name of one histogram bucket (docs/identifiers.md, "The
 * bucket type"): "le_" + le with '.', '-' and '+' written '_', 'm' and 'p'
 * ("0.001" -> "le_0_001", "1e-05" -> "le_1em05"); "+Inf" is "le_inf".
 * Data source names end up in write_prometheus' metric family names, which
 * allow [a-zA-Z0-9_] only. Returns 0, or -1 (buf "") for an le holding
 * anything but digits, one '.', 'e' and a sign, or a buf too small. */
int identifier_bucket_source(char *buf, size_t size, const char *le);

/* The bucket type's name (docs/identifiers.md, "The bucket type"): this
 * for the default bounds, this + "_" + IDENTIFIER_BUCKET_HASH_LEN lowercase
 * hex digits for others. */
#define IDENTIFIER_BUCKET_TYPE "nfs_ebpf_buckets"
/* The wire level's RTT histogram: the same data sources (same bounds) under
 * a type of its own, hashed the same way for other bounds. */
#define IDENTIFIER_RTT_BUCKET_TYPE "nfs_ebpf_rtt_buckets"
/* The wire level's mountstats columns: one value list per series, one data
 * source per column (docs/identifiers.md, "Wire level"). */
#define IDENTIFIER_RPC_TYPE "nfs_ebpf_rpc"
#define IDENTIFIER_BUCKET_HASH_LEN 8

/* Whether type is a bucket type, of the default bounds or of others. */
bool identifier_is_bucket_type(const char *type);

/* The inverse, for readers of the identifiers (nfs-ebpf-top): 0 and the le
 * text in buf, or -1 (buf "") for a name identifier_bucket_source does not
 * write. */
int identifier_decode_bucket_source(const char *source, char *buf, size_t size);

/* Splits a mount source at its first ":/": "10.0.0.5:/vol" -> "10.0.0.5",
 * "/vol"; "[fd00::1]:/x" -> "[fd00::1]", "/x"; no ":/" -> whole source as
 * server, "" as export. Returns 0, or -1 if a buffer is too small (both
 * buffers then hold ""; never a truncated name). */
int identifier_split_source(const char *source, char *server,
                            size_t server_size, char *export_,
                            size_t export_size);

/* ---- Decoding (src/dispatch/identifier_decode.c: libc only, so tools outside
 * the daemon, such as nfs-ebpf-top, link it without collectd) ---- */

/* Labels of one identifier, '|' already turned back into '/'. A field that
 * does not apply is "" (cgroup for a pod, namespace/pod/container outside
 * pods, qualifier without le or errno). Sizes hold any 127-character
 * field. */
typedef struct {
  char ns[IDENTIFIER_MAX_LEN + 1], pod[IDENTIFIER_MAX_LEN + 1];
  char container[IDENTIFIER_MAX_LEN + 1], cgroup[IDENTIFIER_MAX_LEN + 1];
  char op[IDENTIFIER_MAX_LEN + 1], qualifier[IDENTIFIER_MAX_LEN + 1];
  char server[IDENTIFIER_MAX_LEN + 1], export_[IDENTIFIER_MAX_LEN + 1];
} identifier_labels_t;

/* Splits a who as the relabel rules do (see the top of this file) into
 * l->ns, pod, container or l->cgroup (the others are cleared). Returns 0,
 * or -1 if it matches neither form or is longer than IDENTIFIER_MAX_LEN. */
int identifier_decode_who(const char *who, identifier_labels_t *l);

/* Splits a what into l->op, qualifier, server and export_. A mount part
 * without the server/export split is all server (as the relabel rules
 * make it). Returns 0, or -1 without op or '@' (a lost-event reason, say)
 * or with a field too long. */
int identifier_decode_what(const char *what, identifier_labels_t *l);

#endif /* NFS_EBPF_IDENT_H */
