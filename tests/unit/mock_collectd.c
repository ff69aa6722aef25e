/*
 * Stand-ins for the collectd daemon's exported symbols; see mock_collectd.h
 * for what is mirrored from the daemon and what is not. Single-threaded by
 * design: unit tests call the code under test from one thread.
 */
#include "collectd_compat.h"

#include "mock_collectd.h"

#include <time.h>

#define MOCK_REGISTRATIONS_MAX 16
#define MOCK_TYPES_DB "/usr/share/collectd/types.db"

cdtime_t cdtime_mock; /* testing.h / utils_time.h declare it under MOCK_TIME */

/* ---- state ---- */

typedef struct {
  int severity;
  char text[MOCK_LOG_MSG_LEN];
} mock_log_line_t;

static mock_log_line_t log_ring[MOCK_LOG_KEEP];
static size_t
    log_total; /* lines logged since reset; ring index = total % KEEP */
static bool log_echo = true;

typedef struct {
  value_list_t vl;
  bool had_meta;
} mock_dispatch_t;

static mock_dispatch_t *dispatched;
static size_t dispatched_num;
static int dispatch_status;

static char mock_hostname[DATA_MAX_NAME_LEN] = "mockhost";
static cdtime_t mock_interval = TIME_T_TO_CDTIME_T_STATIC(10);

typedef enum {
  REG_CONFIG,
  REG_INIT,
  REG_READ,
  REG_SHUTDOWN,
} reg_kind_t;

typedef struct {
  reg_kind_t kind;
  char name[DATA_MAX_NAME_LEN];
  void (*fn)(void); /* cast back to the kind's callback type */
  cdtime_t interval;
  user_data_t user_data;
} mock_reg_t;

static mock_reg_t registrations[MOCK_REGISTRATIONS_MAX];
static size_t registrations_num;

typedef struct {
  char type[DATA_MAX_NAME_LEN];
  size_t ds_num;
  data_source_t *ds; /* copies of registered sets; NULL from types.db */
} mock_type_t;

static mock_type_t *known_types;
static size_t known_types_num;
static bool types_db_loaded;

/* ---- daemon string helpers, same contract as utils/common/common.c ---- */

char *sstrncpy(char *dest, const char *src, size_t n) {
  if (n == 0)
    return dest;
  strncpy(dest, src, n);
  dest[n - 1] = '\0';
  return dest;
}

int ssnprintf(char *str, size_t size, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  int status = vsnprintf(str, size, format, ap);
  va_end(ap);
  if (size > 0 && (status < 0 || (size_t)status >= size))
    str[size - 1] = '\0';
  return status;
}

char *sstrerror(int errnum, char *buf, size_t buflen) {
  if (buf == NULL || buflen == 0)
    return buf;
  /* Tests are single-threaded; strerror_r's GNU/XSI split is not worth
   * it here. */
  sstrncpy(buf, strerror(errnum), buflen);
  return buf;
}

int escape_slashes(char *buffer, size_t buffer_size) {
  size_t len = strlen(buffer);

  /* The daemon turns a lone "/" into "root" and leaves "" alone. */
  if (len <= 1) {
    if (strcmp(buffer, "/") == 0) {
      if (buffer_size < 5)
        return -1;
      sstrncpy(buffer, "root", buffer_size);
    }
    return 0;
  }
  if (buffer[0] == '/') {
    memmove(buffer, buffer + 1, len); /* moves the terminator too */
    len--;
  }
  for (size_t i = 0; i < len; i++)
    if (buffer[i] == '/')
      buffer[i] = '_';
  return 0;
}

/* ---- time ---- */

cdtime_t cdtime(void) {
  if (cdtime_mock != 0)
    return cdtime_mock;
  struct timespec ts = {0};
  clock_gettime(CLOCK_REALTIME, &ts);
  return TIMESPEC_TO_CDTIME_T(&ts);
}

cdtime_t plugin_get_interval(void) { return mock_interval; }

void mock_set_hostname(const char *host) {
  sstrncpy(mock_hostname, host, sizeof(mock_hostname));
}
void mock_set_interval(cdtime_t interval) { mock_interval = interval; }
void mock_set_time(cdtime_t now) { cdtime_mock = now; }

/* ---- plugin_log ---- */

void plugin_log(int level, const char *format, ...) {
  mock_log_line_t *line = &log_ring[log_total % MOCK_LOG_KEEP];
  va_list ap;

  va_start(ap, format);
  vsnprintf(line->text, sizeof(line->text), format, ap);
  va_end(ap);
  line->severity = level;
  log_total++;

  if (log_echo)
    fprintf(stderr, "# log[%d]: %s\n", level, line->text);
}

size_t mock_log_total(void) { return log_total; }

size_t mock_log_retained(void) {
  return log_total < MOCK_LOG_KEEP ? log_total : MOCK_LOG_KEEP;
}

static const mock_log_line_t *log_line_at(size_t index) {
  size_t retained = mock_log_retained();
  if (index >= retained)
    return NULL;
  size_t first = log_total - retained;
  return &log_ring[(first + index) % MOCK_LOG_KEEP];
}

const char *mock_log_message(size_t index) {
  const mock_log_line_t *line = log_line_at(index);
  return line ? line->text : NULL;
}

int mock_log_severity(size_t index) {
  const mock_log_line_t *line = log_line_at(index);
  return line ? line->severity : -1;
}

size_t mock_log_count(int severity, const char *needle) {
  size_t matches = 0;
  for (size_t i = 0; i < mock_log_retained(); i++) {
    const mock_log_line_t *line = log_line_at(i);
    if (severity >= 0 && line->severity != severity)
      continue;
    if (needle != NULL && strstr(line->text, needle) == NULL)
      continue;
    matches++;
  }
  return matches;
}

void mock_log_set_echo(bool echo) { log_echo = echo; }

/* ---- data sets ---- */

/* Adds or (as the daemon does) replaces a type; ds, if given, is copied. */
static void types_add(const char *type, size_t ds_num,
                      const data_source_t *ds) {
  data_source_t *copy = NULL;
  if (ds != NULL) {
    copy = calloc(ds_num, sizeof(*copy));
    if (copy == NULL)
      return;
    memcpy(copy, ds, ds_num * sizeof(*copy));
  }
  for (size_t i = 0; i < known_types_num; i++) {
    if (strcmp(known_types[i].type, type) == 0) {
      free(known_types[i].ds);
      known_types[i].ds_num = ds_num;
      known_types[i].ds = copy;
      return;
    }
  }
  mock_type_t *grown =
      realloc(known_types, (known_types_num + 1) * sizeof(*known_types));
  if (grown == NULL) {
    free(copy);
    return;
  }
  known_types = grown;
  sstrncpy(known_types[known_types_num].type, type, DATA_MAX_NAME_LEN);
  known_types[known_types_num].ds_num = ds_num;
  known_types[known_types_num].ds = copy;
  known_types_num++;
}

/* Reads "<type> <ds>:<kind>:<min>:<max>[, ...]" lines: enough to know how
 * many values each stock type takes. */
static void types_db_load(void) {
  types_db_loaded = true;
  FILE *fh = fopen(MOCK_TYPES_DB, "r");
  if (fh == NULL) {
    fprintf(stderr, "# mock: %s not readable, types are not checked\n",
            MOCK_TYPES_DB);
    return;
  }
  char line[1024];
  while (fgets(line, sizeof(line), fh) != NULL) {
    char type[DATA_MAX_NAME_LEN];
    if (line[0] == '#' || sscanf(line, "%127s", type) != 1)
      continue;
    size_t ds_num = 0;
    for (const char *p = line + strlen(type); *p != '\0'; p++)
      if (*p == ':')
        ds_num++;
    /* every data source has three ':' */
    if (ds_num >= 3)
      types_add(type, ds_num / 3, NULL);
  }
  fclose(fh);
}

static const mock_type_t *types_find(const char *type) {
  if (!types_db_loaded)
    types_db_load();
  for (size_t i = 0; i < known_types_num; i++)
    if (strcmp(known_types[i].type, type) == 0)
      return &known_types[i];
  return NULL;
}

int plugin_register_data_set(const data_set_t *ds) {
  if (!types_db_loaded)
    types_db_load();
  types_add(ds->type, ds->ds_num, ds->ds);
  return 0;
}

int plugin_unregister_data_set(const char *name) {
  for (size_t i = 0; i < known_types_num; i++) {
    if (strcmp(known_types[i].type, name) == 0) {
      free(known_types[i].ds);
      known_types[i] = known_types[--known_types_num];
      return 0;
    }
  }
  return -1;
}

const data_source_t *mock_data_sources(const char *type, size_t *ds_num) {
  for (size_t i = 0; i < known_types_num; i++) {
    if (strcmp(known_types[i].type, type) == 0 && known_types[i].ds != NULL) {
      *ds_num = known_types[i].ds_num;
      return known_types[i].ds;
    }
  }
  *ds_num = 0;
  return NULL;
}

/* ---- plugin_dispatch_values ---- */

int plugin_dispatch_values(value_list_t const *vl) {
  if (vl == NULL || vl->values == NULL || vl->values_len == 0) {
    plugin_log(LOG_ERR, "mock: plugin_dispatch_values: empty value list");
    return -1;
  }

  mock_dispatch_t *grown =
      realloc(dispatched, (dispatched_num + 1) * sizeof(*dispatched));
  if (grown == NULL)
    return -1;
  dispatched = grown;
  mock_dispatch_t *rec = &dispatched[dispatched_num];

  rec->vl = *vl;
  rec->had_meta = (vl->meta != NULL);
  rec->vl.meta = NULL;
  rec->vl.values = calloc(vl->values_len, sizeof(*vl->values));
  if (rec->vl.values == NULL)
    return -1;
  memcpy(rec->vl.values, vl->values, vl->values_len * sizeof(*vl->values));
  dispatched_num++;

  if (rec->vl.host[0] == '\0')
    sstrncpy(rec->vl.host, mock_hostname, sizeof(rec->vl.host));
  if (rec->vl.time == 0)
    rec->vl.time = cdtime();
  if (rec->vl.interval == 0)
    rec->vl.interval = plugin_get_interval();

  escape_slashes(rec->vl.host, sizeof(rec->vl.host));
  escape_slashes(rec->vl.plugin, sizeof(rec->vl.plugin));
  escape_slashes(rec->vl.plugin_instance, sizeof(rec->vl.plugin_instance));
  escape_slashes(rec->vl.type, sizeof(rec->vl.type));
  escape_slashes(rec->vl.type_instance, sizeof(rec->vl.type_instance));

  const mock_type_t *type = types_find(rec->vl.type);
  if (type == NULL && known_types_num > 0)
    plugin_log(LOG_ERR, "mock: dataset not found: type \"%s\"", rec->vl.type);
  else if (type != NULL && type->ds_num != rec->vl.values_len)
    plugin_log(LOG_ERR,
               "mock: dataset \"%s\" has %zu sources, value list has %zu",
               rec->vl.type, type->ds_num, rec->vl.values_len);

  return dispatch_status;
}

size_t mock_dispatch_count(void) { return dispatched_num; }

const value_list_t *mock_dispatched(size_t index) {
  return index < dispatched_num ? &dispatched[index].vl : NULL;
}

bool mock_dispatched_had_meta(size_t index) {
  return index < dispatched_num && dispatched[index].had_meta;
}

const value_list_t *mock_dispatch_find(const char *plugin_instance,
                                       const char *type,
                                       const char *type_instance) {
  for (size_t i = dispatched_num; i-- > 0;) {
    const value_list_t *vl = &dispatched[i].vl;
    if (plugin_instance != NULL &&
        strcmp(vl->plugin_instance, plugin_instance) != 0)
      continue;
    if (type != NULL && strcmp(vl->type, type) != 0)
      continue;
    if (type_instance != NULL && strcmp(vl->type_instance, type_instance) != 0)
      continue;
    return vl;
  }
  return NULL;
}

void mock_dispatch_clear(void) {
  for (size_t i = 0; i < dispatched_num; i++)
    free(dispatched[i].vl.values);
  free(dispatched);
  dispatched = NULL;
  dispatched_num = 0;
}

void mock_dispatch_set_status(int status) { dispatch_status = status; }

/* ---- registrations ---- */

static mock_reg_t *reg_find(reg_kind_t kind, const char *name) {
  for (size_t i = 0; i < registrations_num; i++)
    if (registrations[i].kind == kind &&
        strcmp(registrations[i].name, name) == 0)
      return &registrations[i];
  return NULL;
}

static mock_reg_t *reg_add(reg_kind_t kind, const char *name,
                           void (*fn)(void)) {
  mock_reg_t *reg = reg_find(kind, name);
  if (reg != NULL) {
    plugin_log(LOG_WARNING, "mock: callback \"%s\" registered twice", name);
  } else {
    if (registrations_num >= MOCK_REGISTRATIONS_MAX) {
      plugin_log(LOG_ERR, "mock: too many registrations");
      return NULL;
    }
    reg = &registrations[registrations_num++];
  }
  memset(reg, 0, sizeof(*reg));
  reg->kind = kind;
  sstrncpy(reg->name, name, sizeof(reg->name));
  reg->fn = fn;
  return reg;
}

int plugin_register_complex_config(const char *type,
                                   int (*callback)(oconfig_item_t *)) {
  return reg_add(REG_CONFIG, type, (void (*)(void))callback) ? 0 : -1;
}

int plugin_register_init(const char *name, plugin_init_cb callback) {
  return reg_add(REG_INIT, name, (void (*)(void))callback) ? 0 : -1;
}

int plugin_register_shutdown(const char *name, plugin_shutdown_cb callback) {
  return reg_add(REG_SHUTDOWN, name, (void (*)(void))callback) ? 0 : -1;
}

int plugin_register_complex_read(const char *group, const char *name,
                                 plugin_read_cb callback, cdtime_t interval,
                                 user_data_t const *user_data) {
  (void)group;
  mock_reg_t *reg = reg_add(REG_READ, name, (void (*)(void))callback);
  if (reg == NULL)
    return -1;
  reg->interval = interval;
  /* The daemon keeps a copy of the struct and owns it from here on. */
  if (user_data != NULL)
    reg->user_data = *user_data;
  return 0;
}

mock_config_cb mock_registered_config(const char *name) {
  mock_reg_t *reg = reg_find(REG_CONFIG, name);
  return reg ? (mock_config_cb)reg->fn : NULL;
}

plugin_init_cb mock_registered_init(const char *name) {
  mock_reg_t *reg = reg_find(REG_INIT, name);
  return reg ? (plugin_init_cb)reg->fn : NULL;
}

plugin_shutdown_cb mock_registered_shutdown(const char *name) {
  mock_reg_t *reg = reg_find(REG_SHUTDOWN, name);
  return reg ? (plugin_shutdown_cb)reg->fn : NULL;
}

plugin_read_cb mock_registered_read(const char *name) {
  mock_reg_t *reg = reg_find(REG_READ, name);
  return reg ? (plugin_read_cb)reg->fn : NULL;
}

cdtime_t mock_registered_read_interval(const char *name) {
  mock_reg_t *reg = reg_find(REG_READ, name);
  return reg ? reg->interval : 0;
}

int mock_call_read(const char *name) {
  mock_reg_t *reg = reg_find(REG_READ, name);
  if (reg == NULL || reg->fn == NULL) {
    plugin_log(LOG_ERR, "mock: no read callback \"%s\"", name);
    return -1;
  }
  return ((plugin_read_cb)reg->fn)(&reg->user_data);
}

/* ---- reset ---- */

void mock_reset(void) {
  for (size_t i = 0; i < registrations_num; i++) {
    user_data_t *ud = &registrations[i].user_data;
    if (ud->free_func != NULL && ud->data != NULL)
      ud->free_func(ud->data);
  }
  memset(registrations, 0, sizeof(registrations));
  registrations_num = 0;

  mock_dispatch_clear();
  dispatch_status = 0;

  log_total = 0;
  memset(log_ring, 0, sizeof(log_ring));

  sstrncpy(mock_hostname, "mockhost", sizeof(mock_hostname));
  mock_interval = TIME_T_TO_CDTIME_T_STATIC(10);
  cdtime_mock = 0;
}

/* ---- config helpers, same checks and messages as daemon/configfile.c ---- */

static bool one_value_of(const oconfig_item_t *ci, int type) {
  return ci != NULL && ci->values_num == 1 && ci->values[0].type == type;
}

int cf_util_get_string(const oconfig_item_t *ci, char **ret_string) {
  if (ret_string == NULL || !one_value_of(ci, OCONFIG_TYPE_STRING)) {
    plugin_log(LOG_ERR,
               "cf_util_get_string: The %s option requires "
               "exactly one string argument.",
               ci ? ci->key : "(null)");
    return -1;
  }
  char *copy = strdup(ci->values[0].value.string);
  if (copy == NULL)
    return -1;
  free(*ret_string);
  *ret_string = copy;
  return 0;
}

int cf_util_get_string_buffer(const oconfig_item_t *ci, char *buffer,
                              size_t buffer_size) {
  if (buffer == NULL || buffer_size == 0 ||
      !one_value_of(ci, OCONFIG_TYPE_STRING)) {
    plugin_log(LOG_ERR,
               "cf_util_get_string_buffer: The %s option requires "
               "exactly one string argument.",
               ci ? ci->key : "(null)");
    return -1;
  }
  sstrncpy(buffer, ci->values[0].value.string, buffer_size);
  return 0;
}

int cf_util_get_int(const oconfig_item_t *ci, int *ret_value) {
  if (ret_value == NULL || !one_value_of(ci, OCONFIG_TYPE_NUMBER)) {
    plugin_log(LOG_ERR,
               "cf_util_get_int: The %s option requires "
               "exactly one numeric argument.",
               ci ? ci->key : "(null)");
    return -1;
  }
  *ret_value = (int)ci->values[0].value.number;
  return 0;
}

int cf_util_get_double(const oconfig_item_t *ci, double *ret_value) {
  if (ret_value == NULL || !one_value_of(ci, OCONFIG_TYPE_NUMBER)) {
    plugin_log(LOG_ERR,
               "cf_util_get_double: The %s option requires "
               "exactly one numeric argument.",
               ci ? ci->key : "(null)");
    return -1;
  }
  *ret_value = ci->values[0].value.number;
  return 0;
}

int cf_util_get_boolean(const oconfig_item_t *ci, bool *ret_bool) {
  if (ret_bool == NULL || ci == NULL || ci->values_num != 1 ||
      (ci->values[0].type != OCONFIG_TYPE_BOOLEAN &&
       ci->values[0].type != OCONFIG_TYPE_STRING)) {
    plugin_log(LOG_ERR,
               "cf_util_get_boolean: The %s option requires "
               "exactly one boolean argument.",
               ci ? ci->key : "(null)");
    return -1;
  }
  if (ci->values[0].type == OCONFIG_TYPE_BOOLEAN) {
    *ret_bool = ci->values[0].value.boolean != 0;
    return 0;
  }
  const char *s = ci->values[0].value.string;
  if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
      strcasecmp(s, "on") == 0) {
    *ret_bool = true;
  } else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
             strcasecmp(s, "off") == 0) {
    *ret_bool = false;
  } else {
    plugin_log(LOG_ERR,
               "cf_util_get_boolean: Cannot parse string value `%s' of the "
               "`%s' option as a boolean value.",
               s, ci->key);
    return -1;
  }
  return 0;
}

int cf_util_get_cdtime(const oconfig_item_t *ci, cdtime_t *ret_value) {
  if (ret_value == NULL || !one_value_of(ci, OCONFIG_TYPE_NUMBER)) {
    plugin_log(LOG_ERR,
               "cf_util_get_cdtime: The %s option requires "
               "exactly one numeric argument.",
               ci ? ci->key : "(null)");
    return -1;
  }
  if (ci->values[0].value.number < 0.0) {
    plugin_log(LOG_ERR,
               "cf_util_get_cdtime: The numeric argument of the %s "
               "option must not be negative.",
               ci->key);
    return -1;
  }
  *ret_value = DOUBLE_TO_CDTIME_T(ci->values[0].value.number);
  return 0;
}

/* ---- config trees for tests ---- */

oconfig_item_t *mock_config_new(const char *key) {
  oconfig_item_t *ci = calloc(1, sizeof(*ci));
  if (ci == NULL)
    return NULL;
  ci->key = strdup(key);
  return ci;
}

static oconfig_value_t *config_value_add(oconfig_item_t *ci) {
  oconfig_value_t *grown =
      realloc(ci->values, (ci->values_num + 1) * sizeof(*ci->values));
  if (grown == NULL)
    return NULL;
  ci->values = grown;
  oconfig_value_t *v = &ci->values[ci->values_num++];
  memset(v, 0, sizeof(*v));
  return v;
}

void mock_config_add_string(oconfig_item_t *ci, const char *value) {
  oconfig_value_t *v = config_value_add(ci);
  if (v == NULL)
    return;
  v->type = OCONFIG_TYPE_STRING;
  v->value.string = strdup(value);
}

void mock_config_add_number(oconfig_item_t *ci, double value) {
  oconfig_value_t *v = config_value_add(ci);
  if (v == NULL)
    return;
  v->type = OCONFIG_TYPE_NUMBER;
  v->value.number = value;
}

void mock_config_add_boolean(oconfig_item_t *ci, bool value) {
  oconfig_value_t *v = config_value_add(ci);
  if (v == NULL)
    return;
  v->type = OCONFIG_TYPE_BOOLEAN;
  v->value.boolean = value ? 1 : 0;
}

oconfig_item_t *mock_config_add_child(oconfig_item_t *parent, const char *key) {
  oconfig_item_t *grown = realloc(
      parent->children, (parent->children_num + 1) * sizeof(*parent->children));
  if (grown == NULL)
    return NULL;
  parent->children = grown;
  /* realloc may have moved the children: re-point their own children. */
  for (int i = 0; i < parent->children_num; i++)
    for (int j = 0; j < grown[i].children_num; j++)
      grown[i].children[j].parent = &grown[i];
  oconfig_item_t *child = &grown[parent->children_num++];
  memset(child, 0, sizeof(*child));
  child->key = strdup(key);
  child->parent = parent;
  return child;
}

static void config_free_contents(oconfig_item_t *ci) {
  for (int i = 0; i < ci->values_num; i++)
    if (ci->values[i].type == OCONFIG_TYPE_STRING)
      free(ci->values[i].value.string);
  free(ci->values);
  for (int i = 0; i < ci->children_num; i++)
    config_free_contents(&ci->children[i]);
  free(ci->children);
  free(ci->key);
}

void mock_config_free(oconfig_item_t *ci) {
  if (ci == NULL)
    return;
  config_free_contents(ci);
  free(ci);
}
