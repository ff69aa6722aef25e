/*
 * Rate-limited logging for problems that repeat every interval (a bad
 * state file, an unparsable cgroup name...). The first occurrence of a
 * problem is logged; repeats of the same key are counted and reported at
 * most once per period, so a hostile or broken input cannot flood the log.
 */
#ifndef NFS_EBPF_LOG_ONCE_H
#define NFS_EBPF_LOG_ONCE_H

#include <stdbool.h>

/* Default time between two log lines for the same key. */
#define LOG_ONCE_DEFAULT_PERIOD_S 3600

/* Logs format at level (LOG_ERR, LOG_WARNING, ...) unless key was logged
 * less than the period ago. When a key is logged again after being
 * suppressed, the line ends with "(N similar messages suppressed)".
 * Returns true if the line was written. Thread-safe. key identifies the
 * problem (for example "runtime_state:oversize:<path>"); keys are hashed,
 * at most LOG_ONCE_SLOTS distinct keys are remembered (oldest forgotten
 * first, which may let one of them log again early). */
bool log_once(int level, const char *key, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_ONCE_SLOTS 512

/* Period in seconds for all keys; 0 restores the default. For tests and
 * for the plugin's configuration. */
void log_once_set_period(unsigned int seconds);

/* Forgets every key (tests; plugin shutdown). */
void log_once_reset(void);

#endif /* NFS_EBPF_LOG_ONCE_H */
