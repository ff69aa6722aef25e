/*
 * Kernel module state (see kmodule.h).
 */
#include "collectd_compat.h"

#include "kmodule.h"

#include <limits.h>
#include <sys/stat.h>

/*
 * ident tells one load of the module from the next: the inode of its
 * /sys/module directory (sysfs gives a new directory a new inode number)
 * and the address of its .text section. The address alone is not enough: a
 * module loaded again can land where it was before, and its kprobes, gone
 * with the old code, would never be attached again.
 */
bool kmodule_state(const char *sys_module_dir, const char *module, char *ident,
                   size_t ident_size, bool *builtin) {
  char path[PATH_MAX + 64];
  char buf[64] = "";
  struct stat st;

  *builtin = false;
  snprintf(path, sizeof(path), "%s/%s", sys_module_dir, module);
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    return false;

  /* Loadable modules have initstate; built-in code only shows up in
   * /sys/module because of its parameters. */
  snprintf(path, sizeof(path), "%s/%s/initstate", sys_module_dir, module);
  FILE *fh = fopen(path, "r");
  if (fh == NULL) {
    *builtin = true;
    sstrncpy(ident, "builtin", ident_size);
    return true;
  }
  if (fgets(buf, sizeof(buf), fh) == NULL)
    buf[0] = '\0';
  fclose(fh);
  /* "coming" or "going": not ready (or being removed); look again
   * next interval. */
  if (strncmp(buf, "live", 4) != 0)
    return false;

  snprintf(path, sizeof(path), "%s/%s/sections/.text", sys_module_dir, module);
  fh = fopen(path, "r");
  buf[0] = '\0';
  if (fh != NULL) {
    if (fgets(buf, sizeof(buf), fh) == NULL)
      buf[0] = '\0';
    fclose(fh);
  }
  buf[strcspn(buf, "\n")] = '\0';
  snprintf(ident, ident_size, "live:%ju:%s", (uintmax_t)st.st_ino, buf);
  return true;
}
