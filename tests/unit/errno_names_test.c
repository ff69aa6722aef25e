/*
 * Tests for errno_names.c and op_names.c: names must be right (checked
 * against the C library's own errno constants, not against a copy of our
 * table), never empty, and reversible.
 */
#include "collectd_compat.h"

#include "errno_names.h"
#include "op_names.h"

#include <collectd/core/testing.h>

/* Every code of the asm-generic table, by the C library's macro. */
#define USER_ERRNOS(X)                                                                         \
  X(EPERM)                                                                                     \
  X(ENOENT) X(ESRCH) X(EINTR) X(EIO) X(ENXIO) X(E2BIG) X(ENOEXEC) X(EBADF) X(                  \
      ECHILD) X(EAGAIN) X(ENOMEM) X(EACCES) X(EFAULT) X(ENOTBLK) X(EBUSY)                      \
      X(EEXIST) X(EXDEV) X(ENODEV) X(ENOTDIR) X(EISDIR) X(EINVAL) X(ENFILE) X(                 \
          EMFILE) X(ENOTTY) X(ETXTBSY) X(EFBIG) X(ENOSPC) X(ESPIPE) X(EROFS)                   \
          X(EMLINK) X(EPIPE) X(EDOM) X(ERANGE) X(EDEADLK) X(ENAMETOOLONG) X(                   \
              ENOLCK) X(ENOSYS) X(ENOTEMPTY) X(ELOOP) X(ENOMSG) X(EIDRM)                       \
              X(ECHRNG) X(EL2NSYNC) X(EL3HLT) X(EL3RST) X(ELNRNG) X(EUNATCH) X(                \
                  ENOCSI) X(EL2HLT) X(EBADE) X(EBADR) X(EXFULL) X(ENOANO)                      \
                  X(EBADRQC) X(EBADSLT) X(EBFONT) X(ENOSTR) X(ENODATA) X(                      \
                      ETIME) X(ENOSR) X(ENONET) X(ENOPKG) X(EREMOTE) X(ENOLINK)                \
                      X(EADV) X(ESRMNT) X(ECOMM) X(EPROTO) X(EMULTIHOP) X(                     \
                          EDOTDOT) X(EBADMSG) X(EOVERFLOW) X(ENOTUNIQ) X(EBADFD)               \
                          X(EREMCHG) X(ELIBACC) X(ELIBBAD) X(ELIBSCN) X(                       \
                              ELIBMAX) X(ELIBEXEC) X(EILSEQ) X(ERESTART) X(ESTRPIPE)           \
                              X(EUSERS) X(ENOTSOCK) X(EDESTADDRREQ) X(EMSGSIZE) X(             \
                                  EPROTOTYPE) X(ENOPROTOOPT) X(EPROTONOSUPPORT)                \
                                  X(ESOCKTNOSUPPORT) X(EOPNOTSUPP) X(EPFNOSUPPORT) X(          \
                                      EAFNOSUPPORT) X(EADDRINUSE)                              \
                                      X(EADDRNOTAVAIL) X(ENETDOWN) X(ENETUNREACH) X(           \
                                          ENETRESET) X(ECONNABORTED) X(ECONNRESET)             \
                                          X(ENOBUFS) X(EISCONN) X(ENOTCONN) X(                 \
                                              ESHUTDOWN) X(ETOOMANYREFS)                       \
                                              X(ETIMEDOUT) X(ECONNREFUSED) X(                  \
                                                  EHOSTDOWN) X(EHOSTUNREACH) X(EALREADY)       \
                                                  X(EINPROGRESS) X(ESTALE) X(                  \
                                                      EUCLEAN) X(ENOTNAM) X(ENAVAIL)           \
                                                      X(EISNAM) X(EREMOTEIO) X(                \
                                                          EDQUOT) X(ENOMEDIUM)                 \
                                                          X(EMEDIUMTYPE) X(                    \
                                                              ECANCELED) X(ENOKEY)             \
                                                              X(EKEYEXPIRED) X(                \
                                                                  EKEYREVOKED) X(EKEYREJECTED) \
                                                                  X(EOWNERDEAD) X(             \
                                                                      ENOTRECOVERABLE)         \
                                                                      X(ERFKILL)               \
                                                                          X(EHWPOISON)

DEF_TEST(user_errnos_match_libc) {
  char buf[ERRNO_NAME_LEN];
#define CHECK_ONE(name)                                                        \
  EXPECT_EQ_STR(#name, errno_name(name, buf, sizeof(buf)));                    \
  EXPECT_EQ_INT(name, errno_from_name(#name));
  USER_ERRNOS(CHECK_ONE)
#undef CHECK_ONE
  return 0;
}

DEF_TEST(nfs_relevant_names) {
  char buf[ERRNO_NAME_LEN];
  EXPECT_EQ_STR("ESTALE", errno_name(116, buf, sizeof(buf)));
  EXPECT_EQ_STR("EREMOTEIO", errno_name(121, buf, sizeof(buf)));
  EXPECT_EQ_STR("EDQUOT", errno_name(122, buf, sizeof(buf)));
  /* aliases resolve to the canonical Linux name */
  EXPECT_EQ_STR("EAGAIN", errno_name(EWOULDBLOCK, buf, sizeof(buf)));
  EXPECT_EQ_STR("EOPNOTSUPP", errno_name(ENOTSUP, buf, sizeof(buf)));
  EXPECT_EQ_STR("EDEADLK", errno_name(EDEADLOCK, buf, sizeof(buf)));
  return 0;
}

DEF_TEST(kernel_internal_errnos) {
  char buf[ERRNO_NAME_LEN];
  /* numbers from include/linux/errno.h */
  EXPECT_EQ_STR("ERESTARTSYS", errno_name(512, buf, sizeof(buf)));
  EXPECT_EQ_STR("ENOPARAM", errno_name(519, buf, sizeof(buf)));
  EXPECT_EQ_STR("EBADHANDLE", errno_name(521, buf, sizeof(buf)));
  EXPECT_EQ_STR("ENOTSYNC", errno_name(522, buf, sizeof(buf)));
  EXPECT_EQ_STR("EBADCOOKIE", errno_name(523, buf, sizeof(buf)));
  EXPECT_EQ_STR("ENOTSUPP", errno_name(524, buf, sizeof(buf)));
  EXPECT_EQ_STR("ETOOSMALL", errno_name(525, buf, sizeof(buf)));
  EXPECT_EQ_STR("ESERVERFAULT", errno_name(526, buf, sizeof(buf)));
  EXPECT_EQ_STR("EBADTYPE", errno_name(527, buf, sizeof(buf)));
  EXPECT_EQ_STR("EJUKEBOX", errno_name(528, buf, sizeof(buf)));
  EXPECT_EQ_STR("EIOCBQUEUED", errno_name(529, buf, sizeof(buf)));
  EXPECT_EQ_STR("ERECALLCONFLICT", errno_name(530, buf, sizeof(buf)));
  EXPECT_EQ_STR("ENOGRACE", errno_name(531, buf, sizeof(buf)));
  EXPECT_EQ_INT(528, errno_from_name("EJUKEBOX"));
  return 0;
}

DEF_TEST(unknown_codes_are_numbered) {
  char buf[ERRNO_NAME_LEN];
  EXPECT_EQ_STR("E41", errno_name(41, buf, sizeof(buf)));
  EXPECT_EQ_STR("E58", errno_name(58, buf, sizeof(buf)));
  EXPECT_EQ_STR("E134", errno_name(134, buf, sizeof(buf)));
  EXPECT_EQ_STR("E520", errno_name(520, buf, sizeof(buf)));
  EXPECT_EQ_STR("E532", errno_name(532, buf, sizeof(buf)));
  EXPECT_EQ_STR("E65535", errno_name(65535, buf, sizeof(buf)));
  EXPECT_EQ_STR("E0", errno_name(0, buf, sizeof(buf)));
  EXPECT_EQ_STR("E-5", errno_name(-5, buf, sizeof(buf)));
  EXPECT_EQ_STR("E-2147483648", errno_name(INT_MIN, buf, sizeof(buf)));
  OK(errno_name_lookup(41) == NULL);
  OK(errno_name_lookup(0) == NULL);
  OK(errno_name_lookup(-1) == NULL);
  OK(errno_name_lookup(INT_MAX) == NULL);
  EXPECT_EQ_INT(134, errno_from_name("E134"));
  EXPECT_EQ_INT(-1, errno_from_name("E0"));
  EXPECT_EQ_INT(-1, errno_from_name("E-5"));
  EXPECT_EQ_INT(-1, errno_from_name("E+5"));
  EXPECT_EQ_INT(-1, errno_from_name("E"));
  EXPECT_EQ_INT(-1, errno_from_name("EBOGUS"));
  EXPECT_EQ_INT(-1, errno_from_name("E99999999999"));
  EXPECT_EQ_INT(-1, errno_from_name(""));
  EXPECT_EQ_INT(-1, errno_from_name(NULL));
  return 0;
}

DEF_TEST(every_code_named_and_reversible) {
  char buf[ERRNO_NAME_LEN];
  int bad = 0;
  for (int err = -3; err < 4200; err++) {
    const char *name = errno_name(err, buf, sizeof(buf));
    if (name[0] != 'E' || strlen(name) < 2)
      bad++;
    if (err > 0 && errno_from_name(name) != err) {
      printf("# %d -> %s does not read back\n", err, name);
      bad++;
    }
  }
  EXPECT_EQ_INT(0, bad);
  /* a small buffer truncates but stays terminated */
  char tiny[4];
  EXPECT_EQ_STR("ENA", errno_name(ENAMETOOLONG, tiny, sizeof(tiny)));
  return 0;
}

DEF_TEST(op_names_table) {
  EXPECT_EQ_STR("read", op_name(NFS_OP_READ));
  EXPECT_EQ_STR("write", op_name(NFS_OP_WRITE));
  EXPECT_EQ_STR("open", op_name(NFS_OP_OPEN));
  EXPECT_EQ_STR("close", op_name(NFS_OP_CLOSE));
  EXPECT_EQ_STR("fsync", op_name(NFS_OP_FSYNC));
  EXPECT_EQ_STR("getattr", op_name(NFS_OP_GETATTR));
  EXPECT_EQ_STR("setattr", op_name(NFS_OP_SETATTR));
  EXPECT_EQ_STR("lookup", op_name(NFS_OP_LOOKUP));
  EXPECT_EQ_STR("readdir", op_name(NFS_OP_READDIR));
  EXPECT_EQ_STR("create", op_name(NFS_OP_CREATE));
  EXPECT_EQ_STR("unlink", op_name(NFS_OP_UNLINK));
  EXPECT_EQ_STR("rename", op_name(NFS_OP_RENAME));
  EXPECT_EQ_STR("mkdir", op_name(NFS_OP_MKDIR));
  EXPECT_EQ_STR("rmdir", op_name(NFS_OP_RMDIR));
  /* every enum value has a name that reads back, none contains the
   * identifier separators '-' or '@' */
  for (unsigned int op = 0; op < NFS_OP_MAX; op++) {
    const char *name = op_name(op);
    OK(name != NULL && name[0] != '\0');
    OK(strpbrk(name, "-@_|~/") == NULL);
    EXPECT_EQ_INT(op, op_from_name(name));
  }
  OK(op_name(NFS_OP_MAX) == NULL);
  OK(op_name(UINT_MAX) == NULL);
  EXPECT_EQ_INT(-1, op_from_name("READ"));
  EXPECT_EQ_INT(-1, op_from_name(""));
  EXPECT_EQ_INT(-1, op_from_name(NULL));
  return 0;
}

DEF_TEST(lost_reason_table) {
  EXPECT_EQ_STR("start_map_full", lost_reason_name(NFS_LOST_START_MAP_FULL));
  EXPECT_EQ_STR("stats_map_full", lost_reason_name(NFS_LOST_STATS_MAP_FULL));
  EXPECT_EQ_STR("errors_map_full", lost_reason_name(NFS_LOST_ERRORS_MAP_FULL));
  EXPECT_EQ_STR("missed_entry", lost_reason_name(NFS_LOST_MISSED_ENTRY));
  EXPECT_EQ_STR("missed_return", lost_reason_name(NFS_LOST_MISSED_RETURN));
  for (unsigned int r = 0; r < NFS_LOST_MAX; r++) {
    const char *name = lost_reason_name(r);
    OK(name != NULL && name[0] != '\0');
    /* a reason is a whole type_instance: no '@', '-' or '/' */
    OK(strpbrk(name, "-@|~/") == NULL);
    EXPECT_EQ_INT(r, lost_reason_from_name(name));
  }
  OK(lost_reason_name(NFS_LOST_MAX) == NULL);
  EXPECT_EQ_INT(-1, lost_reason_from_name("read"));
  return 0;
}

int main(void) {
  RUN_TEST(user_errnos_match_libc);
  RUN_TEST(nfs_relevant_names);
  RUN_TEST(kernel_internal_errnos);
  RUN_TEST(unknown_codes_are_numbered);
  RUN_TEST(every_code_named_and_reversible);
  RUN_TEST(op_names_table);
  RUN_TEST(lost_reason_table);
  END_TEST;
}
