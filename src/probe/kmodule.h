/*
 * Kernel module state, from /sys/module: whether a module is loaded and
 * ready, and an identity that changes when it is loaded again (its probes
 * are gone with its old code then). Shared by the two loaders, tracer.c
 * (nfs, nfsv4) and wire.c (sunrpc, nfs).
 */
#ifndef NFS_EBPF_KMODULE_H
#define NFS_EBPF_KMODULE_H

#include <stdbool.h>
#include <stddef.h>

/* False when `module` is not loaded (or still coming, or going). Else fills
 * ident ("builtin" for code in the kernel image) and *builtin. */
bool kmodule_state(const char *sys_module_dir, const char *module, char *ident,
                   size_t ident_size, bool *builtin);

#endif /* NFS_EBPF_KMODULE_H */
