/*
 * gcc's -finstrument-functions hooks for read_path.sh: one line per call
 * ("E <address>") and return ("X <address>") into $READ_PATH_TRACE.
 */
#include <stdio.h>
#include <stdlib.h>

static FILE *trace_out;

__attribute__((no_instrument_function)) static FILE *trace_file(void) {
  if (trace_out == NULL) {
    const char *path = getenv("READ_PATH_TRACE");
    trace_out = fopen(path != NULL ? path : "/dev/null", "w");
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
