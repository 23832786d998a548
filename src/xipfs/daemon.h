/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The xipfs daemon's shared state and its XIP hooks. */
#ifndef XIPFS_DAEMON_H
#define XIPFS_DAEMON_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <stdbool.h>

struct xipfs_ino;

enum xip_mode { XIP_OFF, XIP_AUTO, XIP_ON };

struct xipfs_state {
	struct xipfs_image *img;
	struct xipfs_segment *seg;
	enum xip_mode xip;
	bool xip_active;		/* passthrough negotiated and helper present */
	bool splice_read;		/* -o read=splice: splice from the segment fd */
};

extern struct xipfs_state xs;
extern const struct fuse_lowlevel_ops xipfs_ops;

/*
 * XIP through FUSE passthrough (xip.c).  Without libfuse >= 3.17 these
 * report that XIP is unavailable and leave every open to FUSE reads.
 */
int xip_check(struct xipfs_state *s, char *why, size_t len);
void xip_init(struct xipfs_state *s, struct fuse_conn_info *conn);
/* True if the open was answered (with a backing file or an error). */
bool xip_open(struct xipfs_state *s, fuse_req_t req, const struct xipfs_ino *ino,
	      struct fuse_file_info *fi);
void xip_release(struct xipfs_state *s, fuse_req_t req, fuse_ino_t n,
		 struct fuse_file_info *fi);

#endif
