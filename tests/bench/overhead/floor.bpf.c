// SPDX-License-Identifier: GPL-2.0-only
/*
 * The floor of the overhead benchmark: programs that do nothing. Attached
 * to the same functions as nfs_ebpf, they cost what any fentry/fexit or
 * kprobe/kretprobe hook costs there (trampoline or kprobe, program
 * dispatch), so that what nfs_ebpf adds on top is its own work.
 *
 * No attach target in the section names: floor.c loads the instructions
 * once per traced function, with that function as its target.
 */
/* libbpf's bpf_helpers.h would need the kernel's UAPI types for nothing. */
#define SEC(name) __attribute__((section(name), used))

SEC("fentry")
int floor_fentry(void *ctx) { return 0; }

SEC("fexit")
int floor_fexit(void *ctx) { return 0; }

SEC("kprobe")
int floor_kprobe(void *ctx) { return 0; }

SEC("kretprobe")
int floor_kretprobe(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
