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
#define ERRNO_ROW(name)                                                        \
  { name, #name }
static const struct {
  int code;
  const char *name;
} user_errnos[] = {
    ERRNO_ROW(EPERM),
    ERRNO_ROW(ENOENT),
    ERRNO_ROW(ESRCH),
    ERRNO_ROW(EINTR),
    ERRNO_ROW(EIO),
    ERRNO_ROW(ENXIO),
    ERRNO_ROW(E2BIG),
    ERRNO_ROW(ENOEXEC),
    ERRNO_ROW(EBADF),
    ERRNO_ROW(EAGAIN),
    ERRNO_ROW(ENOMEM),
    ERRNO_ROW(EACCES),
    ERRNO_ROW(EFAULT),
    ERRNO_ROW(ENOTBLK),
    ERRNO_ROW(EBUSY),
    ERRNO_ROW(EEXIST),
    ERRNO_ROW(EXDEV),
    ERRNO_ROW(ENODEV),
    ERRNO_ROW(ENOTDIR),
    ERRNO_ROW(EISDIR),
    ERRNO_ROW(EINVAL),
    ERRNO_ROW(ENFILE),
    ERRNO_ROW(ENOTTY),
    ERRNO_ROW(ETXTBSY),
    ERRNO_ROW(EFBIG),
    ERRNO_ROW(ENOSPC),
    ERRNO_ROW(ESPIPE),
    ERRNO_ROW(EROFS),
    ERRNO_ROW(EMLINK),
    ERRNO_ROW(EPIPE),
    ERRNO_ROW(EDOM),
    ERRNO_ROW(ERANGE),
    ERRNO_ROW(EDEADLK),
    ERRNO_ROW(ENAMETOOLONG),
    ERRNO_ROW(ENOSYS),
    ERRNO_ROW(ENOTEMPTY),
    ERRNO_ROW(ELOOP),
    ERRNO_ROW(ENOMSG),
    ERRNO_ROW(EIDRM),
    ERRNO_ROW(ECHRNG),
    ERRNO_ROW(EL2NSYNC),
    ERRNO_ROW(EL3HLT),
    ERRNO_ROW(EL3RST),
    ERRNO_ROW(ELNRNG),
    ERRNO_ROW(EUNATCH),
    ERRNO_ROW(EL2HLT),
    ERRNO_ROW(EBADE),
    ERRNO_ROW(EBADR),
    ERRNO_ROW(EXFULL),
    ERRNO_ROW(ENOANO),
    ERRNO_ROW(EBADRQC),
    ERRNO_ROW(EBADSLT),
    ERRNO_ROW(EBFONT),
    ERRNO_ROW(ENOSTR),
    ERRNO_ROW(ENODATA),
    ERRNO_ROW(ENOSR),
    ERRNO_ROW(ENONET),
    ERRNO_ROW(ENOPKG),
    ERRNO_ROW(EREMOTE),
    ERRNO_ROW(ENOLINK),
    ERRNO_ROW(EADV),
    ERRNO_ROW(ESRMNT),
    ERRNO_ROW(ECOMM),
    ERRNO_ROW(EPROTO),
    ERRNO_ROW(EMULTIHOP),
    ERRNO_ROW(EBADMSG),
    ERRNO_ROW(EOVERFLOW),
    ERRNO_ROW(ENOTUNIQ),
    ERRNO_ROW(EBADFD),
    ERRNO_ROW(EREMCHG),
    ERRNO_ROW(ELIBACC),
    ERRNO_ROW(ELIBBAD),
    ERRNO_ROW(ELIBSCN),
    ERRNO_ROW(ELIBEXEC),
    ERRNO_ROW(EILSEQ),
    ERRNO_ROW(ERESTART),
    ERRNO_ROW(ESTRPIPE),
    ERRNO_ROW(EUSERS),
    ERRNO_ROW(ENOTSOCK),
    ERRNO_ROW(EDESTADDRREQ),
    ERRNO_ROW(EMSGSIZE),
    ERRNO_ROW(ENOPROTOOPT),
    ERRNO_ROW(EPROTONOSUPPORT),
    ERRNO_ROW(ESOCKTNOSUPPORT),
    ERRNO_ROW(EOPNOTSUPP),
    ERRNO_ROW(EPFNOSUPPORT),
    ERRNO_ROW(EADDRINUSE),
    ERRNO_ROW(EADDRNOTAVAIL),
    ERRNO_ROW(ENETDOWN),
    ERRNO_ROW(ENETUNREACH),
    ERRNO_ROW(ECONNABORTED),
    ERRNO_ROW(ECONNRESET),
    ERRNO_ROW(ENOBUFS),
    ERRNO_ROW(EISCONN),
    ERRNO_ROW(ENOTCONN),
    ERRNO_ROW(ETOOMANYREFS),
    ERRNO_ROW(ETIMEDOUT),
    ERRNO_ROW(ECONNREFUSED),
    ERRNO_ROW(EHOSTUNREACH),
    ERRNO_ROW(EALREADY),
    ERRNO_ROW(EINPROGRESS),
    ERRNO_ROW(ESTALE),
    ERRNO_ROW(ENOTNAM),
    ERRNO_ROW(ENAVAIL),
    ERRNO_ROW(EISNAM),
    ERRNO_ROW(EREMOTEIO),
    ERRNO_ROW(ENOMEDIUM),
    ERRNO_ROW(EMEDIUMTYPE),
    ERRNO_ROW(ENOKEY),
    ERRNO_ROW(EKEYEXPIRED),
    ERRNO_ROW(EKEYREJECTED),
    ERRNO_ROW(EOWNERDEAD),
    ERRNO_ROW(ERFKILL),
    ERRNO_ROW(EHWPOISON),
};
#undef ERRNO_ROW

DEF_TEST(user_errnos_match_libc) {
  char buf[ERRNO_NAME_LEN];
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(user_errnos); i++) {
    EXPECT_EQ_STR(user_errnos[i].name,
                  errno_name(user_errnos[i].code, buf, sizeof(buf)));
    EXPECT_EQ_INT(user_errnos[i].code, errno_from_name(user_errnos[i].name));
  }
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
