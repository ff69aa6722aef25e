/*
 * One include point for collectd's headers, whichever way they are laid out:
 * Debian's collectd-dev installs them under <collectd/core/...>, while RPM
 * builds compile against a configured upstream source tree (-Isrc
 * -Isrc/daemon). configure defines NFS_EBPF_COLLECTD_SOURCE_TREE for the
 * latter. Every src/ file that needs collectd includes this first.
 */
#ifndef NFS_EBPF_COLLECTD_COMPAT_H
#define NFS_EBPF_COLLECTD_COMPAT_H

#ifdef NFS_EBPF_COLLECTD_SOURCE_TREE
#include "collectd.h"
#include "plugin.h"
#include "utils/common/common.h"
#else
#include <collectd/core/daemon/collectd.h>
#include <collectd/core/daemon/plugin.h>
#include <collectd/core/utils/common/common.h>
#endif

#endif /* NFS_EBPF_COLLECTD_COMPAT_H */
