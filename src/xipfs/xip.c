// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The XIP path: with libfuse >= 3.17 (passthrough) and the xipmap.ko
 * helper, every regular file is opened through a backing file whose
 * mapping is the segment's own page frames.  This build decides only
 * whether XIP can be used and says why not; the helper (/dev/xipmap) is
 * not part of this release yet, so every open is served by FUSE reads.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "daemon.h"

int xip_check(struct xipfs_state *s, char *why, size_t len)
{
#ifndef HAVE_FUSE_PASSTHROUGH_OPEN
	snprintf(why, len, "xipfs was built without FUSE passthrough (needs libfuse >= 3.17)");
	return -ENOTSUP;
#else
	if (access("/dev/xipmap", R_OK | W_OK) < 0) {
		snprintf(why, len, "the xipmap kernel helper is not loaded (/dev/xipmap: %m)");
		return -ENOTSUP;
	}
	snprintf(why, len, "this xipfs release cannot drive the xipmap helper yet");
	return -ENOTSUP;
#endif
}

void xip_init(struct xipfs_state *s, struct fuse_conn_info *conn)
{
	s->xip_active = false;
}

bool xip_open(struct xipfs_state *s, fuse_req_t req, const struct xipfs_ino *ino,
	      struct fuse_file_info *fi)
{
	return false;
}

void xip_release(struct xipfs_state *s, fuse_req_t req, fuse_ino_t n,
		 struct fuse_file_info *fi)
{
}
