/*
 * Tests for mount_table.c: the line parser on each odd shape, the device ->
 * NFS table on fixtures taken from real node shapes, change detection on
 * plain files, and (as root, in a private mount namespace) the kernel's
 * poll() notification on /proc/self/mountinfo.
 */
#define _GNU_SOURCE /* unshare() */
#include "collectd_compat.h"

#include "mock_collectd.h"
#include "mount_table.h"

#include <collectd/core/testing.h>
#include <sched.h>
#include <sys/mount.h>

/* short, so "<dir>/<name>" always fits a PATH_MAX buffer */
static char fixtures[1024];
static char tmpdir[1024];

static const char *fixture(const char *name) {
  static char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/mountinfo/%s", fixtures, name);
  return path;
}

static int write_file(const char *path, const char *text) {
  FILE *fh = fopen(path, "w");
  if (fh == NULL)
    return -1;
  fputs(text, fh);
  return fclose(fh);
}

static uint32_t kdev(unsigned int major, unsigned int minor) {
  return mountinfo_kernel_dev(major, minor);
}

DEF_TEST(parse_line_shapes) {
  mountinfo_line_t l;
  const char *why = NULL;
  char ok_line[] = "70 26 0:53 / /mnt/a\\040b rw,relatime shared:280 master:3 "
                   "- nfs 10.0.0.5:/vol/my\\040data\\134x rw,vers=3\n";
  CHECK_ZERO(mountinfo_parse_line(ok_line, &l, &why));
  EXPECT_EQ_INT(70, l.mount_id);
  EXPECT_EQ_INT(26, l.parent_id);
  EXPECT_EQ_INT(0, l.major);
  EXPECT_EQ_INT(53, l.minor);
  EXPECT_EQ_STR("/", l.root);
  EXPECT_EQ_STR("/mnt/a b", l.mount_point);
  EXPECT_EQ_STR("rw,relatime", l.mount_options);
  EXPECT_EQ_STR("nfs", l.fstype);
  EXPECT_EQ_STR("10.0.0.5:/vol/my data\\x", l.source);
  EXPECT_EQ_STR("rw,vers=3", l.super_options);

  char no_optional[] = "1 0 8:1 / / rw - ext4 /dev/sda1 rw";
  CHECK_ZERO(mountinfo_parse_line(no_optional, &l, &why));
  EXPECT_EQ_INT(8, l.major);
  EXPECT_EQ_STR("ext4", l.fstype);

  char tab_nl[] = "1 0 0:9 / /x\\011y\\012z rw - nfs4 s:/e rw";
  CHECK_ZERO(mountinfo_parse_line(tab_nl, &l, &why));
  /* compared, not printed: a raw newline would break the TAP line */
  OK(strcmp(l.mount_point, "/x\ty\nz") == 0);

  /* bad shapes: each rejected with its own reason */
  struct {
    const char *line, *reason;
  } bad[] = {
      {"", "too few fields"},
      {"1 0 0:9 / /x rw", "no \" - \" separator"},
      {"1 0 0:9 / /x rw shared:1 nfs s:/e rw", "no \" - \" separator"},
      {"1 0 0:9 / /x rw - nfs s:/e", "too few fields after the separator"},
      {"1 0 0:9 / /x rw -", "too few fields after the separator"},
      {"1 0 09 / /x rw - nfs s:/e rw", "bad major:minor"},
      {"1 0 :9 / /x rw - nfs s:/e rw", "bad major:minor"},
      {"1 0 0: / /x rw - nfs s:/e rw", "bad major:minor"},
      {"1 0 0:-9 / /x rw - nfs s:/e rw", "bad major:minor"},
      {"1 0 4096:0 / /x rw - nfs s:/e rw", "bad major:minor"},
      {"1 0 0:1048576 / /x rw - nfs s:/e rw", "bad major:minor"},
      {"1 0 0:99999999999999999999 / /x rw - nfs s:/e rw", "bad major:minor"},
      {"x 0 0:9 / /x rw - nfs s:/e rw", "bad mount id"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char buf[256];
    sstrncpy(buf, bad[i].line, sizeof(buf));
    why = NULL;
    EXPECT_EQ_INT(-1, mountinfo_parse_line(buf, &l, &why));
    EXPECT_EQ_STR(bad[i].reason, why ? why : "(none)");
  }
  /* the largest valid device */
  char max_dev[] = "1 0 4095:1048575 / /x rw - nfs s:/e rw";
  CHECK_ZERO(mountinfo_parse_line(max_dev, &l, &why));
  EXPECT_EQ_UINT64(0xffffffffu, kdev(l.major, l.minor));
  EXPECT_EQ_INT(-1, mountinfo_parse_line(NULL, &l, &why));
  return 0;
}

/* The split the log lines and unknown-dev-<major>-<minor> names use is the
 * inverse of the encoding, at the edges of both fields too. */
DEF_TEST(kernel_dev_split) {
  static const struct {
    unsigned int major, minor;
  } devs[] = {{0, 0},    {0, 53},      {259, 2},
              {4095, 0}, {0, 1048575}, {4095, 1048575}};
  for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
    uint32_t dev = kdev(devs[i].major, devs[i].minor);
    EXPECT_EQ_UINT64(devs[i].major, kernel_dev_major(dev));
    EXPECT_EQ_UINT64(devs[i].minor, kernel_dev_minor(dev));
  }
  /* the kernel's own encoding (MINORBITS 20), written out rather than taken
   * from nfs_ebpf.h: it is what the BPF side reads from s_dev */
  EXPECT_EQ_UINT64(53, kdev(0, 53));
  EXPECT_EQ_UINT64(259u << 20 | 2, kdev(259, 2));
  return 0;
}

DEF_TEST(kubernetes_node) {
  mock_reset();
  mount_table_t *t = mount_table_create(fixture("k8s-node.mountinfo"));
  OK(t != NULL);
  /* 0:53 (twice), 0:54 (twice), 0:55, 0:56; fuse.sshfs is not NFS */
  EXPECT_EQ_INT(4, mount_table_count(t));
  EXPECT_EQ_INT(0, mock_log_count(LOG_WARNING, NULL));

  /* each NFS device: the first line that mounted it names it */
  static const struct {
    unsigned int minor;
    const char *fstype, *version, *source, *server, *export_, *mount_point;
    int lines;
  } nfs[] = {
      {53, "nfs", "3", "10.0.0.5:/vol/data", "10.0.0.5", "/vol/data",
       "/var/lib/kubelet/pods/7f0c2a4e-1b2c-4d5e-8f90-a1b2c3d4e5f6/volumes/"
       "kubernetes.io~nfs/pv-data",
       2 /* same export mounted for two pods */},
      {54, "nfs4", "4.2",
       "nfs-server.storage.svc.cluster.local:/exports/pvc-1a2b3c4d",
       "nfs-server.storage.svc.cluster.local", "/exports/pvc-1a2b3c4d",
       "/var/lib/kubelet/plugins/kubernetes.io/csi/nfs.csi.k8s.io/0c1d2e3f/"
       "globalmount",
       2},
      {55, "nfs4", "4.1", "[fd00::1]:/srv/team share", "[fd00::1]",
       "/srv/team share", "/mnt/team share", 1},
      {56, "nfs4", "4.0", "filer01:/", "filer01", "/", "/mnt/home", 1},
  };
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(nfs); i++) {
    const nfs_mount_t *m = mount_table_lookup(t, kdev(0, nfs[i].minor));
    OK(m != NULL);
    EXPECT_EQ_STR(nfs[i].fstype, m->fstype);
    EXPECT_EQ_STR(nfs[i].version, m->version);
    EXPECT_EQ_STR(nfs[i].source, m->source);
    EXPECT_EQ_STR(nfs[i].server, m->server);
    EXPECT_EQ_STR(nfs[i].export_, m->export_);
    EXPECT_EQ_STR(nfs[i].mount_point, m->mount_point);
    EXPECT_EQ_INT(nfs[i].lines, m->lines);
  }
  /* tmpfs, the ext4 root, overlay, fuse.sshfs, nothing */
  static const struct {
    unsigned int major, minor;
  } not_nfs[] = {{0, 45}, {259, 2}, {0, 48}, {0, 58}, {0, 999}};
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(not_nfs); i++)
    OK(mount_table_lookup(t, kdev(not_nfs[i].major, not_nfs[i].minor)) == NULL);
  /* a regular file that did not change */
  EXPECT_EQ_INT(0, mount_table_refresh(t, false));
  EXPECT_EQ_INT(1, mount_table_refresh(t, true));
  EXPECT_EQ_INT(4, mount_table_count(t));
  mount_table_destroy(t);
  return 0;
}

DEF_TEST(malformed_lines_skipped_and_logged_once) {
  mock_reset();
  mock_log_set_echo(false);
  mount_table_t *t = mount_table_create(fixture("malformed.mountinfo"));
  OK(t != NULL);
  EXPECT_EQ_INT(1, mock_log_count(LOG_WARNING, "nfs_ebpf plugin: "));
  EXPECT_EQ_INT(1, mock_log_count(LOG_WARNING, "line 2: no \" - \" separator"));
  /* the good lines around the bad ones are all there */
  EXPECT_EQ_INT(3, mount_table_count(t));
  const nfs_mount_t *m = mount_table_lookup(t, kdev(0, 65));
  OK(m != NULL);
  EXPECT_EQ_STR("/good", m->export_);
  m = mount_table_lookup(t, kdev(0, 66)); /* last line, no newline */
  OK(m != NULL);
  EXPECT_EQ_STR("", m->version);
  m = mount_table_lookup(t, kdev(0, 64)); /* "\\" not an escape: kept */
  OK(m != NULL);
  EXPECT_EQ_STR("/trailing\\", m->export_);
  OK(mount_table_lookup(t, kdev(0, 61)) == NULL);
  OK(mount_table_lookup(t, kdev(0, 63)) == NULL);
  /* a re-read does not log the same problem again */
  EXPECT_EQ_INT(1, mount_table_refresh(t, true));
  EXPECT_EQ_INT(1, mock_log_count(LOG_WARNING, NULL));
  mount_table_destroy(t);
  mock_log_set_echo(true);
  return 0;
}

DEF_TEST(shared_superblock) {
  mock_reset();
  mock_log_set_echo(false);
  mount_table_t *t = mount_table_create(fixture("shared-superblock.mountinfo"));
  OK(t != NULL);
  EXPECT_EQ_INT(1, mount_table_count(t));
  const nfs_mount_t *m = mount_table_lookup(t, kdev(0, 70));
  OK(m != NULL);
  EXPECT_EQ_STR("/projects", m->export_); /* the first mounted */
  EXPECT_EQ_STR("/mnt/projects", m->mount_point);
  EXPECT_EQ_INT(3, m->lines);
  EXPECT_EQ_INT(1, mock_log_count(LOG_WARNING, "shared NFS superblock"));
  mount_table_destroy(t);
  mock_log_set_echo(true);
  return 0;
}

DEF_TEST(change_detection_on_files) {
  mock_reset();
  char path[PATH_MAX], other[PATH_MAX];
  snprintf(path, sizeof(path), "%s/mountinfo", tmpdir);
  snprintf(other, sizeof(other), "%s/mountinfo.new", tmpdir);
  CHECK_ZERO(write_file(path, "1 0 0:40 / /a rw - nfs s1:/a rw,vers=3\n"));
  mount_table_t *t = mount_table_create(path);
  OK(t != NULL);
  EXPECT_EQ_INT(1, mount_table_count(t));
  EXPECT_EQ_INT(0, mount_table_refresh(t, false));

  /* rewritten in place */
  CHECK_ZERO(write_file(path, "1 0 0:40 / /a rw - nfs s1:/a rw,vers=3\n"
                              "2 0 0:41 / /b rw - nfs4 s2:/b rw,vers=4.1\n"));
  EXPECT_EQ_INT(1, mount_table_refresh(t, false));
  OK(mount_table_lookup(t, kdev(0, 41)) != NULL);
  EXPECT_EQ_INT(0, mount_table_refresh(t, false));

  /* replaced by rename (a new inode) */
  CHECK_ZERO(write_file(other, "3 0 0:42 / /c rw - nfs s3:/c rw,vers=3\n"));
  CHECK_ZERO(rename(other, path));
  EXPECT_EQ_INT(1, mount_table_refresh(t, false));
  EXPECT_EQ_INT(1, mount_table_count(t));
  OK(mount_table_lookup(t, kdev(0, 42)) != NULL);
  OK(mount_table_lookup(t, kdev(0, 40)) == NULL);

  /* gone: the previous table stays (the open descriptor still reads) */
  CHECK_ZERO(unlink(path));
  OK(mount_table_refresh(t, false) <= 0);
  OK(mount_table_lookup(t, kdev(0, 42)) != NULL);
  mount_table_destroy(t);

  /* a missing file: NULL and a log line saying what to set */
  mock_log_set_echo(false);
  OK(mount_table_create(path) == NULL);
  EXPECT_EQ_INT(1, mock_log_count(LOG_ERR, "MountInfo"));
  OK(mount_table_create(NULL) == NULL);
  OK(mount_table_lookup(NULL, 1) == NULL);
  EXPECT_EQ_INT(-EINVAL, mount_table_refresh(NULL, true));
  mount_table_destroy(NULL);
  mock_log_set_echo(true);
  return 0;
}

/* The generation of a device: kept while the same source has it, new when
 * another source took the number or it was gone in between. */
static uint64_t generation_of(mount_table_t *t, unsigned int minor) {
  const nfs_mount_t *m = mount_table_lookup(t, kdev(0, minor));
  return m != NULL ? m->generation : 0;
}

DEF_TEST(device_generations) {
  mock_reset();
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/mountinfo.gen", tmpdir);
  CHECK_ZERO(write_file(path, "1 0 0:40 / /a rw - nfs s1:/a rw,vers=3\n"
                              "2 0 0:41 / /b rw - nfs s2:/b rw,vers=3\n"));
  mount_table_t *t = mount_table_create(path);
  OK(t != NULL);
  uint64_t a = generation_of(t, 40), b = generation_of(t, 41);
  OK(a != 0 && b != 0 && a != b);
  /* another line of the same mount: nothing changes */
  CHECK_ZERO(write_file(path, "1 0 0:40 / /a rw - nfs s1:/a rw,vers=3\n"
                              "2 0 0:41 / /b rw - nfs s2:/b rw,vers=3\n"
                              "3 0 0:41 / /b2 rw - nfs s2:/b rw,vers=3\n"));
  EXPECT_EQ_INT(1, mount_table_refresh(t, true));
  EXPECT_EQ_UINT64(a, generation_of(t, 40));
  EXPECT_EQ_UINT64(b, generation_of(t, 41));
  /* 0:41 umounted and reused by another export in one step */
  CHECK_ZERO(write_file(path, "1 0 0:40 / /a rw - nfs s1:/a rw,vers=3\n"
                              "4 0 0:41 / /c rw - nfs4 s3:/c rw,vers=4.2\n"));
  EXPECT_EQ_INT(1, mount_table_refresh(t, true));
  EXPECT_EQ_UINT64(a, generation_of(t, 40));
  uint64_t c = generation_of(t, 41);
  OK(c != 0 && c != a && c != b);
  /* 0:40 gone, then back from the same source: a new mount all the same */
  CHECK_ZERO(write_file(path, "4 0 0:41 / /c rw - nfs4 s3:/c rw,vers=4.2\n"));
  EXPECT_EQ_INT(1, mount_table_refresh(t, true));
  EXPECT_EQ_UINT64(0, generation_of(t, 40));
  CHECK_ZERO(write_file(path, "5 0 0:40 / /a rw - nfs s1:/a rw,vers=3\n"
                              "4 0 0:41 / /c rw - nfs4 s3:/c rw,vers=4.2\n"));
  EXPECT_EQ_INT(1, mount_table_refresh(t, true));
  uint64_t a2 = generation_of(t, 40);
  OK(a2 != 0 && a2 != a && a2 != c);
  EXPECT_EQ_UINT64(c, generation_of(t, 41));
  mount_table_destroy(t);
  unlink(path);
  return 0;
}

/* A fake /proc: PID with its mount namespace NS and the mountinfo TEXT
 * (or the fixture FILE). */
static int fake_process(const char *proc, const char *pid, unsigned ns,
                        const char *text, const char *file) {
  char path[PATH_MAX], link[64];
  snprintf(path, sizeof(path), "%s/%s", proc, pid);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/%s/ns", proc, pid);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/%s/ns/mnt", proc, pid);
  snprintf(link, sizeof(link), "mnt:[%u]", ns);
  unlink(path);
  if (symlink(link, path) != 0)
    return -1;
  snprintf(path, sizeof(path), "%s/%s/mountinfo", proc, pid);
  if (text != NULL)
    return write_file(path, text);
  char cmd[3 * PATH_MAX];
  snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", fixture(file), path);
  return system(cmd);
}

/* An NFSv4 submount (crossmnt) made inside a pod's mount namespace is in
 * no host table: it is found through a process of that namespace. */
DEF_TEST(mounts_of_other_namespaces) {
  mock_reset();
  char host[PATH_MAX], proc[PATH_MAX];
  snprintf(host, sizeof(host), "%s/host-mountinfo", tmpdir);
  snprintf(proc, sizeof(proc), "%s/proc", tmpdir);
  mkdir(proc, 0755);
  const char *host_text =
      "36 22 0:53 / /var/lib/kubelet/pods/6a1c/volumes/kubernetes.io~nfs/data "
      "rw - nfs4 10.0.0.5:/vol/data rw,vers=4.2\n";
  CHECK_ZERO(write_file(host, host_text));
  CHECK_ZERO(fake_process(proc, "1", 100, host_text, NULL));
  /* the pod: two processes of one namespace */
  CHECK_ZERO(fake_process(proc, "300", 200, NULL, "pod-crossmnt.mountinfo"));
  CHECK_ZERO(fake_process(proc, "301", 200, NULL, "pod-crossmnt.mountinfo"));
  /* another process of the host's namespace: never read */
  CHECK_ZERO(fake_process(proc, "400", 100,
                          "9 1 0:79 / /x rw - nfs s9:/x rw,vers=3\n", NULL));

  mount_table_t *t = mount_table_create(host);
  OK(t != NULL);
  OK(mount_table_lookup_elsewhere(t, kdev(0, 77), true) == NULL); /* no dir */
  EXPECT_EQ_INT(0, mount_table_search_namespaces(t, proc));
  OK(mount_table_lookup(t, kdev(0, 77)) == NULL);
  const nfs_mount_t *m = mount_table_lookup_elsewhere(t, kdev(0, 77), true);
  OK(m != NULL);
  if (m == NULL)
    return -1;
  EXPECT_EQ_STR("10.0.0.5", m->server);
  EXPECT_EQ_STR("/vol/data/projects", m->export_);
  uint64_t generation = m->generation;
  OK(generation != 0);
  OK(mount_table_lookup_elsewhere(t, kdev(0, 79), true) == NULL);
  /* the host's own devices are not taken from elsewhere */
  OK(mount_table_lookup_elsewhere(t, kdev(0, 53), true) == NULL);

  /* Inside the pod, 0:77 is reused by another export. Until the host table
   * changes and ten rounds passed, the earlier scan stands. */
  const char *reused = "1541 1540 0:77 / /data/other rw - nfs4 "
                       "10.0.0.9:/other rw,vers=4.2\n";
  CHECK_ZERO(fake_process(proc, "300", 200, reused, NULL));
  CHECK_ZERO(fake_process(proc, "301", 200, reused, NULL));
  for (int i = 0; i < 12; i++) {
    mount_table_refresh(t, false);
    m = mount_table_lookup_elsewhere(t, kdev(0, 77), false);
    OK(m != NULL && m->generation == generation);
  }
  CHECK_ZERO(write_file(host, "36 22 0:53 / /var/lib/kubelet/pods/6a1c/"
                              "volumes/kubernetes.io~nfs/data rw - nfs4 "
                              "10.0.0.5:/vol/data rw,vers=4.2,addr=x\n"));
  EXPECT_EQ_INT(1, mount_table_refresh(t, false));
  m = mount_table_lookup_elsewhere(t, kdev(0, 77), false);
  OK(m != NULL);
  if (m != NULL) {
    EXPECT_EQ_STR("10.0.0.9", m->server);
    OK(m->generation != generation);
  }
  mount_table_destroy(t);
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", proc);
  CHECK_ZERO(system(cmd));
  unlink(host);
  return 0;
}

DEF_TEST(huge_line_and_nul_bytes) {
  mock_reset();
  mock_log_set_echo(false);
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s/huge", tmpdir);
  FILE *fh = fopen(path, "w");
  OK(fh != NULL);
  fputs("5 0 0:30 / /x rw - overlay overlay rw,lowerdir=", fh);
  for (int i = 0; i < MOUNTINFO_MAX_LINE / 8 + 10; i++)
    fputs("/l/a/b:c", fh);
  fputs("\n6 0 0:31 / /ok rw - nfs s:/ok rw,vers=3\n", fh);
  fputc('\0', fh);
  fputs("7 0 0:32 / /after-nul rw - nfs s:/after rw,vers=3\n", fh);
  fclose(fh);
  mount_table_t *t = mount_table_create(path);
  OK(t != NULL);
  EXPECT_EQ_INT(1, mock_log_count(LOG_WARNING, "line too long"));
  OK(mount_table_lookup(t, kdev(0, 31)) != NULL);
  OK(mount_table_lookup(t, kdev(0, 32)) != NULL);
  mount_table_destroy(t);
  unlink(path);
  mock_log_set_echo(true);
  return 0;
}

/* As root: a private mount namespace, where a tmpfs mount must make the
 * kernel flag /proc/self/mountinfo (POLLPRI) exactly once. */
DEF_TEST(proc_poll_notification) {
  OK1(geteuid() == 0, "runs as root (needed for a private mount namespace)");
  CHECK_ZERO(unshare(CLONE_NEWNS));
  CHECK_ZERO(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
  mount_table_t *t = mount_table_create("/proc/self/mountinfo");
  OK(t != NULL);
  EXPECT_EQ_INT(0, mount_table_refresh(t, false));
  char target[PATH_MAX];
  snprintf(target, sizeof(target), "%s/mnt", tmpdir);
  CHECK_ZERO(mkdir(target, 0700));
  CHECK_ZERO(mount("tmpfs", target, "tmpfs", 0, "size=64k"));
  EXPECT_EQ_INT(1, mount_table_refresh(t, false));
  EXPECT_EQ_INT(0, mount_table_refresh(t, false));
  CHECK_ZERO(umount(target));
  EXPECT_EQ_INT(1, mount_table_refresh(t, false));
  rmdir(target);
  mount_table_destroy(t);
  return 0;
}

int main(void) {
  const char *dir = getenv("NFS_EBPF_FIXTURES");
  const char *srcdir = getenv("srcdir");
  if (dir != NULL)
    sstrncpy(fixtures, dir, sizeof(fixtures));
  else if (srcdir != NULL)
    snprintf(fixtures, sizeof(fixtures), "%s/tests/fixtures", srcdir);
  else
    sstrncpy(fixtures, "tests/fixtures", sizeof(fixtures));
  sstrncpy(tmpdir, "/tmp/mount_table_test.XXXXXX", sizeof(tmpdir));
  if (mkdtemp(tmpdir) == NULL) {
    printf("not ok 1 - mkdtemp: %s\n", strerror(errno));
    return 1;
  }

  RUN_TEST(parse_line_shapes);
  RUN_TEST(kernel_dev_split);
  RUN_TEST(kubernetes_node);
  RUN_TEST(malformed_lines_skipped_and_logged_once);
  RUN_TEST(shared_superblock);
  RUN_TEST(change_detection_on_files);
  RUN_TEST(device_generations);
  RUN_TEST(mounts_of_other_namespaces);
  RUN_TEST(huge_line_and_nul_bytes);
  RUN_TEST(proc_poll_notification);
  rmdir(tmpdir);
  END_TEST;
}
