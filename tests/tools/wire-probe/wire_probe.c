/*
 * Loads wire_probe.bpf.o, attaches its programs, creates READY_FILE, waits
 * for a line (or end of file) on stdin, then prints the `charged` map, one
 * line per key: cgroup_id version source counted_in_kthread proc ops
 * ntrans timeouts bytes_sent bytes_recv errors (tab-separated).
 *
 *   wire_probe BPF_OBJECT READY_FILE
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/types.h>
#include <stdio.h>
#include <string.h>

#include "wire_probe.h"

static void print_charged(int fd) {
  struct wire_key key, next;
  struct wire_val val;
  void *prev = NULL;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (bpf_map_lookup_elem(fd, &next, &val) == 0)
      printf("%llu\t%u\t%u\t%u\t%.*s\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\n",
             next.cgroup_id, next.version, next.source, next.counted_in_kthread,
             WIRE_PROBE_PROC_LEN, next.proc, val.ops, val.ntrans, val.timeouts,
             val.bytes_sent, val.bytes_recv, val.errors);
    key = next;
    prev = &key;
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s BPF_OBJECT READY_FILE\n", argv[0]);
    return 2;
  }
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (obj == NULL || bpf_object__load(obj) != 0) {
    fprintf(stderr, "wire_probe: cannot load %s (needs module BTF: 6.1+)\n",
            argv[1]);
    return 1;
  }
  struct bpf_program *prog;
  bpf_object__for_each_program(prog, obj) {
    if (bpf_program__attach(prog) == NULL) {
      fprintf(stderr, "wire_probe: cannot attach %s: %s\n",
              bpf_program__name(prog), strerror(errno));
      return 1;
    }
  }
  FILE *ready = fopen(argv[2], "w");
  if (ready == NULL || fclose(ready) != 0) {
    fprintf(stderr, "wire_probe: cannot create %s\n", argv[2]);
    return 1;
  }
  char line[64];
  if (fgets(line, sizeof(line), stdin) == NULL && ferror(stdin))
    return 1;
  print_charged(bpf_object__find_map_fd_by_name(obj, "charged"));
  return 0;
}
