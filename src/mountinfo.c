/*
 * mountinfo parsing and the device -> NFS mount table. Line format
 * (Documentation/filesystems/proc.rst):
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=..
 *   id parent maj:min root mount-point options [optional...] - fstype source
 *   super-options
 *
 * The kernel escapes ' ', '\t', '\n' and '\\' in paths and the source as
 * \ooo, so fields are separated by single spaces.
 */
#include "collectd_compat.h"

#include "ident.h"
#include "mountinfo.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

/* Largest major and minor the kernel's 32-bit dev_t encoding holds. */
#define KDEV_MAJOR_MAX 0xfffu
#define KDEV_MINOR_MAX 0xfffffu

struct mount_table_s {
  char *path;
  int fd;
  bool is_proc; /* poll() tells changes; otherwise compare stat */
  struct stat last_stat;
  nfs_mount_t *mounts; /* sorted by dev */
  size_t mounts_num;
  uint64_t last_generation;
  bool logged_malformed;
  bool logged_ambiguous;
  bool logged_read_error;
};

/* Decodes \ooo escapes in place. A backslash not followed by three octal
 * digits is kept as it is: better a visible oddity than a guessed byte. */
static void unescape_octal(char *s) {
  char *out = s;
  for (char *in = s; *in != '\0';) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' &&
        in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
      *out++ = (char)(((in[1] - '0') << 6) | ((in[2] - '0') << 3) |
                      (in[3] - '0'));
      in += 4;
    } else {
      *out++ = *in++;
    }
  }
  *out = '\0';
}

/* Strict unsigned decimal: digits only, no sign, no overflow past max. */
static bool parse_uint(const char *s, unsigned long max, unsigned int *out) {
  if (*s == '\0')
    return false;
  unsigned long value = 0;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9')
      return false;
    value = value * 10 + (unsigned long)(*s - '0');
    if (value > max)
      return false;
  }
  *out = (unsigned int)value;
  return true;
}

/* Next space-separated field; NULL at the end of the line. */
static char *next_field(char **cursor) {
  char *start = *cursor;
  if (start == NULL || *start == '\0')
    return NULL;
  char *space = strchr(start, ' ');
  if (space != NULL) {
    *space = '\0';
    *cursor = space + 1;
  } else {
    *cursor = start + strlen(start);
  }
  return start;
}

int mountinfo_parse_line(char *line, mountinfo_line_t *out,
                         const char **why) {
  const char *reason_unused;
  if (why == NULL)
    why = &reason_unused;
  if (line == NULL || out == NULL) {
    *why = "no line";
    return -1;
  }
  memset(out, 0, sizeof(*out));
  line[strcspn(line, "\n")] = '\0';

  char *cursor = line;
  char *fields[6];
  for (size_t i = 0; i < 6; i++) {
    fields[i] = next_field(&cursor);
    if (fields[i] == NULL) {
      *why = "too few fields";
      return -1;
    }
  }
  /* Optional fields ("shared:1 master:2"), any number, end at "-". */
  char *field;
  while ((field = next_field(&cursor)) != NULL && strcmp(field, "-") != 0)
    ;
  if (field == NULL) {
    *why = "no \" - \" separator";
    return -1;
  }
  char *fstype = next_field(&cursor);
  char *source = next_field(&cursor);
  char *super_options = next_field(&cursor);
  if (fstype == NULL || source == NULL || super_options == NULL) {
    *why = "too few fields after the separator";
    return -1;
  }

  if (!parse_uint(fields[0], UINT_MAX, &out->mount_id) ||
      !parse_uint(fields[1], UINT_MAX, &out->parent_id)) {
    *why = "bad mount id";
    return -1;
  }
  char *colon = strchr(fields[2], ':');
  if (colon == NULL) {
    *why = "bad major:minor";
    return -1;
  }
  *colon = '\0';
  if (!parse_uint(fields[2], KDEV_MAJOR_MAX, &out->major) ||
      !parse_uint(colon + 1, KDEV_MINOR_MAX, &out->minor)) {
    *why = "bad major:minor";
    return -1;
  }

  unescape_octal(fields[3]);
  unescape_octal(fields[4]);
  unescape_octal(source);
  out->root = fields[3];
  out->mount_point = fields[4];
  out->mount_options = fields[5];
  out->fstype = fstype;
  out->source = source;
  out->super_options = super_options;
  return 0;
}

/* Value of "key=" in a comma-separated option list, copied to buf. */
static void option_value(const char *options, const char *key, char *buf,
                         size_t size) {
  size_t key_len = strlen(key);
  buf[0] = '\0';
  for (const char *p = options; p != NULL && *p != '\0';) {
    size_t len = strcspn(p, ",");
    if (len > key_len && strncmp(p, key, key_len) == 0 && p[key_len] == '=') {
      size_t value_len = len - key_len - 1;
      if (value_len >= size)
        value_len = size - 1;
      memcpy(buf, p + key_len + 1, value_len);
      buf[value_len] = '\0';
      return;
    }
    p += len;
    if (*p == ',')
      p++;
  }
}

static void mount_free(nfs_mount_t *m) {
  sfree(m->source);
  sfree(m->server);
  sfree(m->export_);
  sfree(m->mount_point);
}

static void mounts_free(nfs_mount_t *mounts, size_t num) {
  for (size_t i = 0; i < num; i++)
    mount_free(&mounts[i]);
  free(mounts);
}

static int mount_fill(nfs_mount_t *m, const mountinfo_line_t *l) {
  memset(m, 0, sizeof(*m));
  m->dev = mountinfo_kernel_dev(l->major, l->minor);
  m->lines = 1;
  sstrncpy(m->fstype, l->fstype, sizeof(m->fstype));
  option_value(l->super_options, "vers", m->version, sizeof(m->version));

  size_t source_len = strlen(l->source);
  m->source = strdup(l->source);
  m->mount_point = strdup(l->mount_point);
  m->server = malloc(source_len + 1);
  m->export_ = malloc(source_len + 1);
  if (m->source == NULL || m->mount_point == NULL || m->server == NULL ||
      m->export_ == NULL ||
      ident_split_source(l->source, m->server, source_len + 1, m->export_,
                         source_len + 1) != 0) {
    mount_free(m);
    return -ENOMEM;
  }
  return 0;
}

static int compare_dev(const void *a, const void *b) {
  uint32_t da = ((const nfs_mount_t *)a)->dev;
  uint32_t db = ((const nfs_mount_t *)b)->dev;
  return (da > db) - (da < db);
}

/* Builds the NFS table from the whole file's text. */
static int table_build(mount_table_t *t, char *text, nfs_mount_t **ret,
                       size_t *ret_num) {
  nfs_mount_t *mounts = NULL;
  size_t num = 0, capacity = 0;
  size_t line_number = 0, malformed = 0;

  for (char *line = text; line != NULL && *line != '\0';) {
    char *newline = strchr(line, '\n');
    if (newline != NULL)
      *newline = '\0';
    char *next = newline ? newline + 1 : NULL;
    line_number++;

    mountinfo_line_t parsed;
    const char *why = NULL;
    if (strlen(line) > MOUNTINFO_MAX_LINE) {
      why = "line too long";
    } else if (mountinfo_parse_line(line, &parsed, &why) == 0) {
      why = NULL;
    }
    if (why != NULL) {
      malformed++;
      if (!t->logged_malformed) {
        t->logged_malformed = true;
        WARNING("nfs_ebpf plugin: %s line %zu: %s; skipping it (further odd "
                "lines are skipped silently).",
                t->path, line_number, why);
      }
      line = next;
      continue;
    }
    if (strcmp(parsed.fstype, "nfs") != 0 &&
        strcmp(parsed.fstype, "nfs4") != 0) {
      line = next;
      continue;
    }

    if (num == capacity) {
      size_t grown_cap = capacity ? capacity * 2 : 16;
      nfs_mount_t *grown = realloc(mounts, grown_cap * sizeof(*mounts));
      if (grown == NULL) {
        mounts_free(mounts, num);
        return -ENOMEM;
      }
      mounts = grown;
      capacity = grown_cap;
    }
    if (mount_fill(&mounts[num], &parsed) != 0) {
      mounts_free(mounts, num);
      return -ENOMEM;
    }
    num++;
    line = next;
  }

  /* One entry per device, the one listed first (mounted first). qsort is
   * not stable, so remember each line's file position in `lines` until the
   * duplicates are merged, when it becomes the line count. */
  for (size_t i = 0; i < num; i++)
    mounts[i].lines = (unsigned int)i;
  if (num > 1)
    qsort(mounts, num, sizeof(*mounts), compare_dev);
  size_t kept = 0;
  for (size_t i = 0; i < num;) {
    size_t first = i, end = i + 1;
    while (end < num && mounts[end].dev == mounts[i].dev)
      end++;
    for (size_t j = i + 1; j < end; j++)
      if (mounts[j].lines < mounts[first].lines)
        first = j;
    /* Same device, other source: NFS shares one superblock between mounts
     * of paths on the same server filesystem, so the device alone cannot
     * say which export an operation used. Report the first-mounted one. */
    for (size_t j = i; j < end; j++) {
      if (j != first && strcmp(mounts[j].source, mounts[first].source) != 0 &&
          !t->logged_ambiguous) {
        t->logged_ambiguous = true;
        WARNING("nfs_ebpf plugin: device %u:%u is mounted from \"%s\" and "
                "\"%s\" (a shared NFS superblock); its operations are "
                "reported under \"%s\" (logged once).",
                mounts[first].dev >> 20, mounts[first].dev & KDEV_MINOR_MAX,
                mounts[first].source, mounts[j].source, mounts[first].source);
      }
    }
    nfs_mount_t chosen = mounts[first];
    chosen.lines = (unsigned int)(end - i);
    for (size_t j = i; j < end; j++)
      if (j != first)
        mount_free(&mounts[j]);
    mounts[kept++] = chosen;
    i = end;
  }

  if (malformed > 0) {
    DEBUG("nfs_ebpf plugin: %s: %zu malformed lines skipped.", t->path,
          malformed);
  }
  *ret = mounts;
  *ret_num = kept;
  return 0;
}

/* Reads the whole file from the start of the kept descriptor. */
static int read_all(mount_table_t *t, char **ret_text) {
  if (lseek(t->fd, 0, SEEK_SET) < 0)
    return -errno;
  size_t size = 0, capacity = 64 * 1024;
  char *text = malloc(capacity);
  if (text == NULL)
    return -ENOMEM;
  for (;;) {
    if (capacity - size < 4096) {
      /* mountinfo of a big node is a few MiB; bound it anyway */
      if (capacity >= (size_t)256 * 1024 * 1024) {
        free(text);
        return -EFBIG;
      }
      char *grown = realloc(text, capacity * 2);
      if (grown == NULL) {
        free(text);
        return -ENOMEM;
      }
      text = grown;
      capacity *= 2;
    }
    ssize_t n = read(t->fd, text + size, capacity - size - 1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int err = errno;
      free(text);
      return -err;
    }
    if (n == 0)
      break;
    size += (size_t)n;
  }
  /* A NUL inside would end the text early; make it a line break instead so
   * the lines after it are still seen (and the odd one is skipped). */
  for (size_t i = 0; i < size; i++)
    if (text[i] == '\0')
      text[i] = '\n';
  text[size] = '\0';
  *ret_text = text;
  return 0;
}

/* A device keeps its generation while the previous table had it from the
 * same source; anything else is a new mount on that number. A umount and a
 * mount of the same source between two reads is not seen, and need not be:
 * its operations carry the same server and export. */
static void assign_generations(mount_table_t *t, nfs_mount_t *mounts,
                               size_t num) {
  for (size_t i = 0; i < num; i++) {
    const nfs_mount_t *before = mount_table_lookup(t, mounts[i].dev);
    if (before != NULL && strcmp(before->source, mounts[i].source) == 0)
      mounts[i].generation = before->generation;
    else
      mounts[i].generation = ++t->last_generation;
  }
}

static int table_reload(mount_table_t *t) {
  char *text = NULL;
  int status = read_all(t, &text);
  if (status != 0) {
    if (!t->logged_read_error) {
      t->logged_read_error = true;
      ERROR("nfs_ebpf plugin: reading %s failed: %s; keeping the previous "
            "mount table.",
            t->path, STRERROR(-status));
    }
    return status;
  }
  nfs_mount_t *mounts = NULL;
  size_t num = 0;
  status = table_build(t, text, &mounts, &num);
  free(text);
  if (status != 0) {
    ERROR("nfs_ebpf plugin: out of memory parsing %s; keeping the previous "
          "mount table.",
          t->path);
    return status;
  }
  assign_generations(t, mounts, num);
  mounts_free(t->mounts, t->mounts_num);
  t->mounts = mounts;
  t->mounts_num = num;
  t->logged_read_error = false;
  return 0;
}

static int table_open(mount_table_t *t) {
  int fd = open(t->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  struct statfs sfs;
  t->is_proc = fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
  if (fstat(fd, &t->last_stat) != 0)
    memset(&t->last_stat, 0, sizeof(t->last_stat));
  if (t->fd >= 0)
    close(t->fd);
  t->fd = fd;
  return 0;
}

mount_table_t *mount_table_create(const char *path) {
  if (path == NULL) {
    ERROR("nfs_ebpf plugin: no mountinfo path given.");
    return NULL;
  }
  mount_table_t *t = calloc(1, sizeof(*t));
  if (t == NULL || (t->path = strdup(path)) == NULL) {
    ERROR("nfs_ebpf plugin: out of memory creating the mount table.");
    free(t);
    return NULL;
  }
  t->fd = -1;
  int status = table_open(t);
  if (status != 0) {
    ERROR("nfs_ebpf plugin: cannot open %s: %s. Set MountInfo (or HostRoot) "
          "to the host's mountinfo.",
          path, STRERROR(-status));
    mount_table_destroy(t);
    return NULL;
  }
  if (table_reload(t) != 0) {
    mount_table_destroy(t);
    return NULL;
  }
  return t;
}

/* True when the mount table may have changed since the last read. */
static bool table_changed(mount_table_t *t) {
  if (t->is_proc) {
    /* The kernel reports POLLPRI|POLLERR once per change of the mount
     * namespace (fs/proc_namespace.c, mounts_poll), and resets it by the
     * poll itself. */
    struct pollfd pfd = {.fd = t->fd, .events = POLLPRI};
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLPRI | POLLERR));
  }
  /* A plain file (tests, a copy): replaced or rewritten. */
  struct stat st;
  if (stat(t->path, &st) != 0)
    return false;
  return st.st_ino != t->last_stat.st_ino ||
         st.st_dev != t->last_stat.st_dev ||
         st.st_size != t->last_stat.st_size ||
         st.st_mtim.tv_sec != t->last_stat.st_mtim.tv_sec ||
         st.st_mtim.tv_nsec != t->last_stat.st_mtim.tv_nsec;
}

int mount_table_refresh(mount_table_t *t, bool force) {
  if (t == NULL)
    return -EINVAL;
  if (!force && !table_changed(t))
    return 0;
  if (!t->is_proc) {
    /* Follow a replaced file; a rewritten one is read through the old
     * descriptor just as well. */
    struct stat st;
    if (stat(t->path, &st) == 0 && (st.st_ino != t->last_stat.st_ino ||
                                     st.st_dev != t->last_stat.st_dev)) {
      int status = table_open(t);
      if (status != 0)
        return status;
    } else if (stat(t->path, &st) == 0) {
      t->last_stat = st;
    }
  }
  int status = table_reload(t);
  return status == 0 ? 1 : status;
}

const nfs_mount_t *mount_table_lookup(const mount_table_t *t, uint32_t dev) {
  if (t == NULL || t->mounts_num == 0)
    return NULL;
  nfs_mount_t key = {.dev = dev};
  return bsearch(&key, t->mounts, t->mounts_num, sizeof(*t->mounts),
                 compare_dev);
}

size_t mount_table_count(const mount_table_t *t) {
  return t ? t->mounts_num : 0;
}

void mount_table_destroy(mount_table_t *t) {
  if (t == NULL)
    return;
  if (t->fd >= 0)
    close(t->fd);
  mounts_free(t->mounts, t->mounts_num);
  free(t->path);
  free(t);
}
