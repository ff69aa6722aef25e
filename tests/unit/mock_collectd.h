/*
 * Link-time stand-ins for the collectd daemon symbols nfs_ebpf uses, so the
 * plugin's modules can be unit-tested without a running daemon.
 *
 * Link tests/unit/mock_collectd.c into a test program instead of the daemon.
 * It defines plugin_log, sstrncpy, ssnprintf, sstrerror, escape_slashes,
 * cdtime,
 * plugin_get_interval, the plugin_register_* functions the plugin uses,
 * plugin_dispatch_values and the cf_util_get_* config helpers, and records
 * what the code under test did so the test can assert on it.
 *
 * Behaviour that mirrors the daemon (collectd 5.12):
 *  - plugin_dispatch_values deep-copies the value list, fills host/time/
 *    interval when empty/zero, and runs escape_slashes on all five name
 *    fields (leading '/' dropped, other '/' -> '_', a lone "/" -> "root").
 *  - The dispatched type is checked against /usr/share/collectd/types.db
 *    (plus plugin_register_data_set): an unknown type or a values_len that
 *    differs from the data set's source count is logged at LOG_ERR with
 *    "mock: dataset" in the message, the way the daemon's write path
 *    complains later. The value list is recorded anyway.
 *  - meta data is NOT copied (the recorded copy has meta == NULL);
 *    mock_dispatched_had_meta() tells whether the original had any.
 */
#ifndef NFS_EBPF_MOCK_COLLECTD_H
#define NFS_EBPF_MOCK_COLLECTD_H

#include "collectd_compat.h"

/* How many log messages are retained (the most recent ones). */
#define MOCK_LOG_KEEP 256
#define MOCK_LOG_MSG_LEN 1024

/* Forget every log line, dispatched value list and registration. Calls the
 * free_func of registered read callbacks' user data, as the daemon does on
 * shutdown. Resets host ("mockhost"), interval (10 s) and mocked time. */
void mock_reset(void);

/* ---- plugin_log ---- */
/* Log lines seen since the last reset (may exceed MOCK_LOG_KEEP). */
size_t mock_log_total(void);
/* Retained lines, oldest first; index < mock_log_retained(). */
size_t mock_log_retained(void);
const char *mock_log_message(size_t index);
int mock_log_severity(size_t index);
/* Number of retained lines with that severity (or any, if severity < 0)
 * whose text contains needle. */
size_t mock_log_count(int severity, const char *needle);
/* Echo each line to stderr as it is logged (default: on, prefixed "# "). */
void mock_log_set_echo(bool echo);

/* ---- plugin_dispatch_values ---- */
size_t mock_dispatch_count(void);
/* The recorded (escaped, deep-copied) value list; NULL if out of range. */
const value_list_t *mock_dispatched(size_t index);
bool mock_dispatched_had_meta(size_t index);
/* Most recent recorded list matching the given fields (after escaping);
 * a NULL argument matches anything. */
const value_list_t *mock_dispatch_find(const char *plugin_instance,
                                       const char *type,
                                       const char *type_instance);
/* Drop recorded value lists (log and registrations are kept). */
void mock_dispatch_clear(void);
/* Make plugin_dispatch_values return this status (default 0). */
void mock_dispatch_set_status(int status);

/* ---- data sets ---- */
/* The data sources of a type registered with plugin_register_data_set (and
 * not unregistered since), or NULL with *ds_num = 0. */
const data_source_t *mock_data_sources(const char *type, size_t *ds_num);

/* ---- environment ---- */
void mock_set_hostname(const char *host);
void mock_set_interval(cdtime_t interval);
/* 0 means: cdtime() returns the real clock. */
void mock_set_time(cdtime_t now);

/* ---- registrations ---- */
typedef int (*mock_config_cb)(oconfig_item_t *);
mock_config_cb mock_registered_config(const char *name);
plugin_init_cb mock_registered_init(const char *name);
plugin_shutdown_cb mock_registered_shutdown(const char *name);
plugin_read_cb mock_registered_read(const char *name);
/* Interval the read callback was registered with (0 = default). */
cdtime_t mock_registered_read_interval(const char *name);
/* Calls the named read callback with its registered user data the way a
 * read thread would. Returns the callback's status, or -1 (and a log
 * line) if no such callback is registered. */
int mock_call_read(const char *name);

/* ---- building config trees in tests ---- */
/* Config items as liboconfig would build them: a node "key", values
 * appended in order, children appended under a parent. mock_config_free
 * frees a tree built with mock_config_new. */
oconfig_item_t *mock_config_new(const char *key);
void mock_config_add_string(oconfig_item_t *ci, const char *value);
void mock_config_add_number(oconfig_item_t *ci, double value);
void mock_config_add_boolean(oconfig_item_t *ci, bool value);
oconfig_item_t *mock_config_add_child(oconfig_item_t *parent, const char *key);
void mock_config_free(oconfig_item_t *ci);

#endif /* NFS_EBPF_MOCK_COLLECTD_H */
