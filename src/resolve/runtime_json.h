/*
 * One runtime state file to one container record: the streaming JSON
 * parser behind runtime_state (see runtime_state.h for the layouts and the
 * threat model). The files are written from data the pod's author
 * controls, so only the few fields needed are kept, every limit is
 * enforced while parsing, and every extracted name is validated
 * (DNS-1123) before it becomes a record.
 *
 * Where each runtime keeps its Kubernetes labels is one row of
 * runtime_json_defs in runtime_json.c (see runtime_kind.h for the other
 * places a new runtime goes).
 */
#ifndef NFS_EBPF_RUNTIME_JSON_H
#define NFS_EBPF_RUNTIME_JSON_H

#include "runtime_state.h"
#include "safe_file.h"

#include <stdbool.h>
#include <stddef.h>

/* JSON limits beyond the file size cap. */
#define RUNTIME_JSON_MAX_DEPTH 64
#define RUNTIME_JSON_MAX_STRING (1024 * 1024)

/* Parses one state file: name (config.json / config.v2.json) in the bundle
 * directory bundle_fd, for a runtime of that kind. Fills out (id is left
 * to the caller) and returns 0, or -errno for a file that could not be
 * read or parsed (logged once, keyed by where). A readable file without
 * Kubernetes metadata, or with invalid names, returns 0 with
 * out->is_pod == false. */
int runtime_json_parse_file(int bundle_fd, const char *name,
                            runtime_kind_t kind,
                            const safe_file_policy_t *policy, const char *where,
                            runtime_container_t *out);

/* The same for a state file already opened and checked (safe_file.h) as
 * fd, read from its current offset; fd stays open. name is the file's name
 * for log lines. */
int runtime_json_parse_fd(int fd, const char *name, runtime_kind_t kind,
                          const safe_file_policy_t *policy, const char *where,
                          runtime_container_t *out);

/* DNS-1123 checks used on extracted names (exposed for tests). */
bool runtime_dns1123_label(const char *s, size_t max_len);
bool runtime_dns1123_subdomain(const char *s, size_t max_len);

#endif /* NFS_EBPF_RUNTIME_JSON_H */
