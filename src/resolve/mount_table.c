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

#include "identifier.h"
#include "mount_table.h"

#include <dirent.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

/* Rounds between two scans of other mount namespaces that only refresh
 * what an earlier scan found (the host table changed since); a device no
 * scan has seen yet is looked for at once. */
#define ELSEWHERE_RESCAN_ROUNDS 10

struct mount_table_s {
  char *path;
  int fd;
  bool is_proc; /* poll() tells changes; otherwise compare stat */
  struct stat last_stat;
  nfs_mount_t *mounts; /* sorted by dev */
  size_t mounts_num;
  uint64_t last_generation;
  /* NFS mounts the table above lacks, from other mount namespaces (see
   * mount_table_lookup_elsewhere), sorted by dev. */
  char *proc_dir;
  nfs_mount_t *elsewhere;
  size_t elsewhere_num;
  bool elsewhere_stale; /* the host table changed since the last scan */
  bool scanned;         /* a scan ran in this round */
  uint64_t round, last_scan_round;
  bool logged_scan_error;
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
      *out++ =
          (char)(((in[1] - '0') << 6) | ((in[2] - '0') << 3) | (in[3] - '0'));
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

int mountinfo_parse_line(char *line, mountinfo_line_t *out, const char **why) {
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
  /* Larger numbers do not fit the kernel's 32-bit encoding. */
  if (!parse_uint(fields[2], NFS_EBPF_DEV_MAJOR_MAX, &out->major) ||
      !parse_uint(colon + 1, NFS_EBPF_DEV_MINOR_MASK, &out->minor)) {
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
      identifier_split_source(l->source, m->server, source_len + 1, m->export_,
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
                kernel_dev_major(mounts[first].dev),
                kernel_dev_minor(mounts[first].dev), mounts[first].source,
                mounts[j].source, mounts[first].source);
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

/* Reads a whole file from an open descriptor's position. */
static int read_fd(int fd, char **ret_text) {
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
    ssize_t n = read(fd, text + size, capacity - size - 1);
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

/* Reads the whole file from the start of the kept descriptor. */
static int read_all(mount_table_t *t, char **ret_text) {
  if (lseek(t->fd, 0, SEEK_SET) < 0)
    return -errno;
  return read_fd(t->fd, ret_text);
}

/* A device keeps its generation while the previous table had it from the
 * same source; anything else is a new mount on that number. A umount and a
 * mount of the same source between two reads is not seen, and need not be:
 * its operations carry the same server and export. */
static const nfs_mount_t *find_dev(const nfs_mount_t *mounts, size_t num,
                                   uint32_t dev) {
  if (num == 0)
    return NULL;
  nfs_mount_t key = {.dev = dev};
  return bsearch(&key, mounts, num, sizeof(*mounts), compare_dev);
}

static void assign_generations(mount_table_t *t, nfs_mount_t *mounts,
                               size_t num, const nfs_mount_t *previous,
                               size_t previous_num) {
  for (size_t i = 0; i < num; i++) {
    const nfs_mount_t *before = find_dev(previous, previous_num, mounts[i].dev);
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
  assign_generations(t, mounts, num, t->mounts, t->mounts_num);
  mounts_free(t->mounts, t->mounts_num);
  t->mounts = mounts;
  t->mounts_num = num;
  t->elsewhere_stale = true;
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
  return st.st_ino != t->last_stat.st_ino || st.st_dev != t->last_stat.st_dev ||
         st.st_size != t->last_stat.st_size ||
         st.st_mtim.tv_sec != t->last_stat.st_mtim.tv_sec ||
         st.st_mtim.tv_nsec != t->last_stat.st_mtim.tv_nsec;
}

int mount_table_refresh(mount_table_t *t, bool force) {
  if (t == NULL)
    return -EINVAL;
  if (!force) { /* a new round (see mount_table_lookup_elsewhere) */
    t->scanned = false;
    t->round++;
  }
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
  if (t == NULL)
    return NULL;
  return find_dev(t->mounts, t->mounts_num, dev);
}

/* The mount namespace of a process, as the number in "mnt:[4026531840]";
 * 0 if it cannot be read (the process is gone, or no permission). */
static uint64_t mount_ns_of(const char *proc_dir, const char *pid) {
  char path[PATH_MAX], link[64];
  ssnprintf(path, sizeof(path), "%s/%s/ns/mnt", proc_dir, pid);
  ssize_t n = readlink(path, link, sizeof(link) - 1);
  if (n <= 0)
    return 0;
  link[n] = '\0';
  const char *open = strchr(link, '[');
  return open != NULL ? strtoull(open + 1, NULL, 10) : 0;
}

static bool is_pid(const char *name) {
  if (*name == '\0')
    return false;
  for (; *name != '\0'; name++)
    if (*name < '0' || *name > '9')
      return false;
  return true;
}

/* Adds the NFS mounts of one process's mountinfo that the host table and
 * `found` lack to `found`. */
static int add_namespace_mounts(mount_table_t *t, const char *pid,
                                nfs_mount_t **found, size_t *num, size_t *cap) {
  char path[PATH_MAX];
  ssnprintf(path, sizeof(path), "%s/%s/mountinfo", t->proc_dir, pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0; /* gone meanwhile */
  char *text = NULL;
  int status = read_fd(fd, &text);
  close(fd);
  if (status != 0)
    return 0;
  nfs_mount_t *mounts = NULL;
  size_t n = 0;
  status = table_build(t, text, &mounts, &n);
  free(text);
  if (status != 0)
    return status;
  for (size_t i = 0; i < n; i++) {
    bool known = mount_table_lookup(t, mounts[i].dev) != NULL;
    for (size_t j = 0; j < *num && !known; j++)
      known = (*found)[j].dev == mounts[i].dev;
    if (known) {
      mount_free(&mounts[i]);
      continue;
    }
    if (*num == *cap) {
      size_t grown_cap = *cap ? *cap * 2 : 8;
      nfs_mount_t *grown = realloc(*found, grown_cap * sizeof(*grown));
      if (grown == NULL) {
        for (size_t j = i; j < n; j++)
          mount_free(&mounts[j]);
        free(mounts);
        return -ENOMEM;
      }
      *found = grown;
      *cap = grown_cap;
    }
    (*found)[(*num)++] = mounts[i];
  }
  free(mounts);
  return 0;
}

/* Reads the mount table of every mount namespace but the host's (one
 * process each) for NFS devices the host's table does not have. */
static int scan_namespaces(mount_table_t *t) {
  DIR *dir = opendir(t->proc_dir);
  if (dir == NULL)
    return -errno;
  uint64_t host_ns = mount_ns_of(t->proc_dir, "1");
  uint64_t *seen = NULL;
  size_t n_seen = 0, seen_cap = 0;
  nfs_mount_t *found = NULL;
  size_t num = 0, cap = 0;
  int status = 0;
  struct dirent *e;
  while (status == 0 && (e = readdir(dir)) != NULL) {
    if (!is_pid(e->d_name))
      continue;
    uint64_t ns = mount_ns_of(t->proc_dir, e->d_name);
    if (ns == 0 || ns == host_ns)
      continue;
    bool known = false;
    for (size_t i = 0; i < n_seen && !known; i++)
      known = seen[i] == ns;
    if (known)
      continue;
    if (n_seen == seen_cap) {
      size_t grown_cap = seen_cap ? seen_cap * 2 : 64;
      uint64_t *grown = realloc(seen, grown_cap * sizeof(*grown));
      if (grown == NULL) {
        status = -ENOMEM;
        break;
      }
      seen = grown;
      seen_cap = grown_cap;
    }
    seen[n_seen++] = ns;
    status = add_namespace_mounts(t, e->d_name, &found, &num, &cap);
  }
  closedir(dir);
  free(seen);
  if (status != 0) {
    mounts_free(found, num);
    return status;
  }
  if (num > 1)
    qsort(found, num, sizeof(*found), compare_dev);
  assign_generations(t, found, num, t->elsewhere, t->elsewhere_num);
  mounts_free(t->elsewhere, t->elsewhere_num);
  t->elsewhere = found;
  t->elsewhere_num = num;
  t->elsewhere_stale = false;
  return 0;
}

int mount_table_search_namespaces(mount_table_t *t, const char *proc_dir) {
  if (t == NULL || proc_dir == NULL)
    return -EINVAL;
  char *copy = strdup(proc_dir);
  if (copy == NULL)
    return -ENOMEM;
  free(t->proc_dir);
  t->proc_dir = copy;
  t->elsewhere_stale = true;
  return 0;
}

const nfs_mount_t *mount_table_lookup_elsewhere(mount_table_t *t, uint32_t dev,
                                                bool search) {
  if (t == NULL || t->proc_dir == NULL)
    return NULL;
  const nfs_mount_t *m = find_dev(t->elsewhere, t->elsewhere_num, dev);
  if (t->scanned)
    return m;
  bool wanted = m == NULL && search;
  bool due = t->elsewhere_stale &&
             t->round - t->last_scan_round >= ELSEWHERE_RESCAN_ROUNDS;
  if (!wanted && !due)
    return m;
  t->scanned = true;
  t->last_scan_round = t->round;
  int status = scan_namespaces(t);
  if (status != 0) {
    if (!t->logged_scan_error) {
      t->logged_scan_error = true;
      WARNING("nfs_ebpf plugin: looking for NFS mounts in other mount "
              "namespaces under %s failed: %s; devices missing from %s "
              "stay unknown (logged once).",
              t->proc_dir, STRERROR(-status), t->path);
    }
    return m;
  }
  return find_dev(t->elsewhere, t->elsewhere_num, dev);
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
  mounts_free(t->elsewhere, t->elsewhere_num);
  free(t->proc_dir);
  free(t->path);
  free(t);
}
