/*
 * errno number -> name tables. Two arrays instead of one sparse one: the
 * user-visible codes are dense from 1, the kernel-internal ones from 512.
 * 41 and 58 are unassigned on asm-generic (EWOULDBLOCK and EDEADLOCK are
 * aliases of EAGAIN and EDEADLK there), 520 is unassigned in the kernel.
 */
#include "collectd_compat.h"

#include "errno_names.h"

#define KERNEL_ERRNO_BASE 512

static const char *const errno_user_names[] = {
    [1] = "EPERM",
    [2] = "ENOENT",
    [3] = "ESRCH",
    [4] = "EINTR",
    [5] = "EIO",
    [6] = "ENXIO",
    [7] = "E2BIG",
    [8] = "ENOEXEC",
    [9] = "EBADF",
    [10] = "ECHILD",
    [11] = "EAGAIN",
    [12] = "ENOMEM",
    [13] = "EACCES",
    [14] = "EFAULT",
    [15] = "ENOTBLK",
    [16] = "EBUSY",
    [17] = "EEXIST",
    [18] = "EXDEV",
    [19] = "ENODEV",
    [20] = "ENOTDIR",
    [21] = "EISDIR",
    [22] = "EINVAL",
    [23] = "ENFILE",
    [24] = "EMFILE",
    [25] = "ENOTTY",
    [26] = "ETXTBSY",
    [27] = "EFBIG",
    [28] = "ENOSPC",
    [29] = "ESPIPE",
    [30] = "EROFS",
    [31] = "EMLINK",
    [32] = "EPIPE",
    [33] = "EDOM",
    [34] = "ERANGE",
    [35] = "EDEADLK",
    [36] = "ENAMETOOLONG",
    [37] = "ENOLCK",
    [38] = "ENOSYS",
    [39] = "ENOTEMPTY",
    [40] = "ELOOP",
    [42] = "ENOMSG",
    [43] = "EIDRM",
    [44] = "ECHRNG",
    [45] = "EL2NSYNC",
    [46] = "EL3HLT",
    [47] = "EL3RST",
    [48] = "ELNRNG",
    [49] = "EUNATCH",
    [50] = "ENOCSI",
    [51] = "EL2HLT",
    [52] = "EBADE",
    [53] = "EBADR",
    [54] = "EXFULL",
    [55] = "ENOANO",
    [56] = "EBADRQC",
    [57] = "EBADSLT",
    [59] = "EBFONT",
    [60] = "ENOSTR",
    [61] = "ENODATA",
    [62] = "ETIME",
    [63] = "ENOSR",
    [64] = "ENONET",
    [65] = "ENOPKG",
    [66] = "EREMOTE",
    [67] = "ENOLINK",
    [68] = "EADV",
    [69] = "ESRMNT",
    [70] = "ECOMM",
    [71] = "EPROTO",
    [72] = "EMULTIHOP",
    [73] = "EDOTDOT",
    [74] = "EBADMSG",
    [75] = "EOVERFLOW",
    [76] = "ENOTUNIQ",
    [77] = "EBADFD",
    [78] = "EREMCHG",
    [79] = "ELIBACC",
    [80] = "ELIBBAD",
    [81] = "ELIBSCN",
    [82] = "ELIBMAX",
    [83] = "ELIBEXEC",
    [84] = "EILSEQ",
    [85] = "ERESTART",
    [86] = "ESTRPIPE",
    [87] = "EUSERS",
    [88] = "ENOTSOCK",
    [89] = "EDESTADDRREQ",
    [90] = "EMSGSIZE",
    [91] = "EPROTOTYPE",
    [92] = "ENOPROTOOPT",
    [93] = "EPROTONOSUPPORT",
    [94] = "ESOCKTNOSUPPORT",
    [95] = "EOPNOTSUPP",
    [96] = "EPFNOSUPPORT",
    [97] = "EAFNOSUPPORT",
    [98] = "EADDRINUSE",
    [99] = "EADDRNOTAVAIL",
    [100] = "ENETDOWN",
    [101] = "ENETUNREACH",
    [102] = "ENETRESET",
    [103] = "ECONNABORTED",
    [104] = "ECONNRESET",
    [105] = "ENOBUFS",
    [106] = "EISCONN",
    [107] = "ENOTCONN",
    [108] = "ESHUTDOWN",
    [109] = "ETOOMANYREFS",
    [110] = "ETIMEDOUT",
    [111] = "ECONNREFUSED",
    [112] = "EHOSTDOWN",
    [113] = "EHOSTUNREACH",
    [114] = "EALREADY",
    [115] = "EINPROGRESS",
    [116] = "ESTALE",
    [117] = "EUCLEAN",
    [118] = "ENOTNAM",
    [119] = "ENAVAIL",
    [120] = "EISNAM",
    [121] = "EREMOTEIO",
    [122] = "EDQUOT",
    [123] = "ENOMEDIUM",
    [124] = "EMEDIUMTYPE",
    [125] = "ECANCELED",
    [126] = "ENOKEY",
    [127] = "EKEYEXPIRED",
    [128] = "EKEYREVOKED",
    [129] = "EKEYREJECTED",
    [130] = "EOWNERDEAD",
    [131] = "ENOTRECOVERABLE",
    [132] = "ERFKILL",
    [133] = "EHWPOISON",
};

/* include/linux/errno.h: never meant for user space, but NFS client entry
 * points return them (nfs_stat_to_errno, pNFS and delegation paths). */
static const char *const errno_kernel_names[] = {
    [512 - KERNEL_ERRNO_BASE] = "ERESTARTSYS",
    [513 - KERNEL_ERRNO_BASE] = "ERESTARTNOINTR",
    [514 - KERNEL_ERRNO_BASE] = "ERESTARTNOHAND",
    [515 - KERNEL_ERRNO_BASE] = "ENOIOCTLCMD",
    [516 - KERNEL_ERRNO_BASE] = "ERESTART_RESTARTBLOCK",
    [517 - KERNEL_ERRNO_BASE] = "EPROBE_DEFER",
    [518 - KERNEL_ERRNO_BASE] = "EOPENSTALE",
    [519 - KERNEL_ERRNO_BASE] = "ENOPARAM",
    [521 - KERNEL_ERRNO_BASE] = "EBADHANDLE",
    [522 - KERNEL_ERRNO_BASE] = "ENOTSYNC",
    [523 - KERNEL_ERRNO_BASE] = "EBADCOOKIE",
    [524 - KERNEL_ERRNO_BASE] = "ENOTSUPP",
    [525 - KERNEL_ERRNO_BASE] = "ETOOSMALL",
    [526 - KERNEL_ERRNO_BASE] = "ESERVERFAULT",
    [527 - KERNEL_ERRNO_BASE] = "EBADTYPE",
    [528 - KERNEL_ERRNO_BASE] = "EJUKEBOX",
    [529 - KERNEL_ERRNO_BASE] = "EIOCBQUEUED",
    [530 - KERNEL_ERRNO_BASE] = "ERECALLCONFLICT",
    [531 - KERNEL_ERRNO_BASE] = "ENOGRACE",
};

/* errno_name_lookup tries the user table first: were it to reach into the
 * kernel-internal range it would hide those names. */
_Static_assert(STATIC_ARRAY_SIZE(errno_user_names) <= KERNEL_ERRNO_BASE,
               "the user errno table overlaps the kernel-internal codes");
/* errno_names.h promises that any int's "E<number>" fits. */
_Static_assert(sizeof("E-2147483648") <= ERRNO_NAME_LEN,
               "ERRNO_NAME_LEN too small for E<INT_MIN>");

const char *errno_name_lookup(int err) {
  if (err > 0 && (size_t)err < STATIC_ARRAY_SIZE(errno_user_names))
    return errno_user_names[err];
  if (err >= KERNEL_ERRNO_BASE &&
      (size_t)(err - KERNEL_ERRNO_BASE) < STATIC_ARRAY_SIZE(errno_kernel_names))
    return errno_kernel_names[err - KERNEL_ERRNO_BASE];
  return NULL;
}

const char *errno_name(int err, char *buf, size_t size) {
  if (buf == NULL || size == 0)
    return "";
  const char *name = errno_name_lookup(err);
  if (name != NULL)
    sstrncpy(buf, name, size);
  else
    ssnprintf(buf, size, "E%d", err);
  return buf;
}

int errno_from_name(const char *name) {
  if (name == NULL || name[0] != 'E')
    return -1;
  for (size_t i = 1; i < STATIC_ARRAY_SIZE(errno_user_names); i++)
    if (errno_user_names[i] != NULL && strcmp(errno_user_names[i], name) == 0)
      return (int)i;
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(errno_kernel_names); i++)
    if (errno_kernel_names[i] != NULL &&
        strcmp(errno_kernel_names[i], name) == 0)
      return (int)(KERNEL_ERRNO_BASE + i);

  /* "E<number>" as errno_name writes it for a positive code without a
   * name. Only digits: strtol alone would accept " 5", "+5" or "-5". */
  const char *digits = name + 1;
  if (*digits == '\0' || strspn(digits, "0123456789") != strlen(digits))
    return -1;
  errno = 0;
  long number = strtol(digits, NULL, 10);
  if (errno != 0 || number <= 0 || number > INT_MAX)
    return -1;
  return (int)number;
}
