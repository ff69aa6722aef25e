/*
 * Symbolic names of the error codes the NFS client returns, for the
 * `errno` label (ENOENT, EIO, ESTALE, ...). The table is the Linux
 * asm-generic numbering (x86, arm64, riscv, s390, ...) plus the
 * kernel-internal codes 512-531 (include/linux/errno.h) that NFS client
 * functions can leak to their callers (EBADHANDLE, ENOTSUPP, EJUKEBOX...).
 */
#ifndef NFS_EBPF_ERRNO_NAMES_H
#define NFS_EBPF_ERRNO_NAMES_H

#include <stddef.h>

/* Longest name plus terminator; "E-2147483648" also fits. */
#define ERRNO_NAME_LEN 24

/* The symbolic name of a positive errno, or NULL if the table has none. */
const char *errno_name_lookup(int err);

/* Writes the name of err into buf and returns buf. A code without a name
 * (including 0 and negative numbers) is written as "E<number>", so the
 * result is never empty and never a wrong name. size >= ERRNO_NAME_LEN
 * guarantees no truncation. */
const char *errno_name(int err, char *buf, size_t size);

/* Inverse of errno_name for positive codes: a table name or "E<digits>"
 * -> the number; -1 for anything else (including "E0" and "E-5", which
 * errno_name writes for 0 and negative input but which are no errno). */
int errno_from_name(const char *name);

#endif /* NFS_EBPF_ERRNO_NAMES_H */
