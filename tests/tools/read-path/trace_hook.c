/*
 * gcc's -finstrument-functions hooks for read_path.sh: this hook's own
 * address first ("B <address>"), then one line per call ("E <address>") and
 * return ("X <address>") into $READ_PATH_TRACE.
 */
#include <stdio.h>
#include <stdlib.h>

void __cyg_profile_func_enter(void *fn, void *site);
void __cyg_profile_func_exit(void *fn, void *site);

static FILE *trace_out;

__attribute__((no_instrument_function)) static FILE *trace_file(void) {
  if (trace_out == NULL) {
    const char *path = getenv("READ_PATH_TRACE");
    trace_out = fopen(path != NULL ? path : "/dev/null", "w");
    /* Where this hook was loaded: read_path.py finds the load address of
     * the (position-independent) binary from it. */
    if (trace_out != NULL)
      fprintf(trace_out, "B %p\n", (void *)__cyg_profile_func_enter);
  }
  return trace_out;
}

__attribute__((no_instrument_function)) void
__cyg_profile_func_enter(void *fn, void *site) {
  (void)site;
  FILE *f = trace_file();
  if (f != NULL)
    fprintf(f, "E %p\n", fn);
}

__attribute__((no_instrument_function)) void
__cyg_profile_func_exit(void *fn, void *site) {
  (void)site;
  FILE *f = trace_file();
  if (f != NULL)
    fprintf(f, "X %p\n", fn);
}
