/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The xipfs daemon's shared state and its XIP hooks. */
#ifndef XIPFS_DAEMON_H
#define XIPFS_DAEMON_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>

#include "xipfs/xipfs.h"

enum xip_mode { XIP_OFF, XIP_AUTO, XIP_ON };

struct xipfs_state {
	struct xipfs_image *img;
	struct xipfs_segment *seg;
	enum xip_mode xip;
	bool xip_active;		/* passthrough negotiated and helper present */
	bool splice_read;		/* -o read=splice: splice from the segment fd */
	struct fuse_session *se;
	/* XIP (xip.c), set up by xip_check() */
	int xip_dev;			/* /dev/xipmap, or -1 */
	int xip_seg;			/* the helper's segment handle, or -1 */
	uint32_t xip_page_size;		/* the kernel's page size */
	uint64_t xip_max_pages;		/* pages in one backing file */
	bool xip_ok;			/* xip_check() passed */
	bool xip_failed;		/* xip=on could not be honoured */
	char xip_why[256];		/* why not, when !xip_ok */
};

/* An open regular file: fi->fh points at one. */
struct xipfs_open {
	struct xipfs_ino ino;		/* decoded once at open */
	int backing_id;			/* FUSE passthrough id, 0 if none */
	struct xipfs_open *prev, *next;	/* every open file (xipfs.c) */
};

/* Free the state of files still open when the daemon stops. */
void xipfs_free_opens(void);

extern struct xipfs_state xs;
extern const struct fuse_lowlevel_ops xipfs_ops;

/*
 * XIP through FUSE passthrough (xip.c).  Without libfuse >= 3.17 these
 * report that XIP is unavailable and leave every open to FUSE reads.
 */
int xip_check(struct xipfs_state *s, char *why, size_t len);
void xip_init(struct xipfs_state *s, struct fuse_conn_info *conn);
/*
 * Give an open a backing file: 1 if it did (fi->backing_id is set; the
 * caller replies), 0 if the file is to be served by FUSE reads, -errno to
 * fail the open.
 */
int xip_open(struct xipfs_state *s, fuse_req_t req, struct xipfs_open *of,
	     struct fuse_file_info *fi);
/* XIP cannot be had on this connection: log why, end it if xip=on. */
void xip_give_up(struct xipfs_state *s, const char *why);
void xip_release(struct xipfs_state *s, fuse_req_t req, fuse_ino_t n,
		 struct fuse_file_info *fi);

#endif
