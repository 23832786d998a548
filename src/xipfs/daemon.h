/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The xipfs daemon's shared state and its XIP hooks. */
#ifndef XIPFS_DAEMON_H
#define XIPFS_DAEMON_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "xipfs/xipfs.h"

enum xip_mode { XIP_OFF, XIP_AUTO, XIP_ON };

/*
 * -o xip_idle=N: backing files nothing has open stay registered, the least
 * recently used closed first beyond N (xip.c says why).  A Debian 13 guest
 * opened 393 different contents from boot to python's imports, gcc and
 * dpkg -l, each costing the guest 1488 bytes of slab: its inode, dentry
 * and file with their LSM blobs, the credentials and record FUSE keeps
 * with a registered backing file, and xipmap's record (a file not stored
 * as one run also its page list, 8 bytes a page).  A closed file a process
 * still maps counts as idle here but stays alive anyway, so the guest
 * holds its mapped contents plus at most N others: 393 files (0.56 MiB)
 * with N = 512, 167 with 128, 139 with 64 and 151 with 0 (what was open or
 * mapped then).  128 holds a python start's 74 files; below a program's
 * working set every start makes them all again (bench/startup-guest.sh
 * XIP_IDLE: an OPEN took 218 us of the daemon's time instead of 79, and
 * the start 4% more of the guest's CPU, under TCG).
 */
#define XIP_IDLE_DEFAULT	128

/*
 * An open regular file.  fi->fh is 0 or points at one: the kernel hands
 * fi->fh back unchanged in read, lseek and release of that open (a
 * uint64_t holds any pointer).  It is 0 for directories and for every file
 * on an open-less connection (no_open: the kernel sends no OPEN or
 * RELEASE), so read and lseek decode the inode themselves then.
 */
struct xipfs_open {
	struct xipfs_ino ino;		/* decoded once at open */
	int backing_id;			/* FUSE passthrough id, 0 if none */
	struct xipfs_open *prev, *next;	/* every open file (xipfs.c) */
};

struct xip_backing;

/* The daemon's state: main()'s, handed to every handler as userdata. */
struct xipfs_state {
	struct xipfs_image *img;
	struct xipfs_segment *seg;
	enum xip_mode xip;
	bool xip_active;		/* passthrough negotiated and helper present */
	bool splice_read;		/* -o read=splice: splice from the segment fd */
	bool no_open;			/* open-less files (no XIP on this connection) */
	bool no_opendir;		/* open-less directories */
	struct fuse_session *se;
	/* Every open file, freed at exit if the kernel never released it. */
	pthread_mutex_t opens_lock;
	struct xipfs_open opens;
	/* XIP (xip.c), set up by xip_check() */
	int xip_dev;			/* /dev/xipmap, or -1 */
	int xip_seg;			/* the helper's segment handle, or -1 */
	uint32_t xip_page_size;		/* the kernel's page size */
	uint64_t xip_max_pages;		/* pages in one backing file */
	bool xip_ok;			/* xip_check() passed */
	bool xip_no_linear;		/* the helper refused XIPMAP_CREATE_LINEAR */
	bool xip_failed;		/* xip=on could not be honoured */
	char xip_why[256];		/* why not, when !xip_ok */
	/* Backing files by extent list; the lock guards the table only. */
	pthread_mutex_t xip_lock;
	struct xip_backing **xip_table;
	size_t xip_buckets, xip_entries;
	struct xip_backing *xip_idle_first, *xip_idle_last;	/* nothing open */
	size_t xip_idle;
	size_t xip_idle_max;		/* -o xip_idle: idle ones kept at most */
};

/* Free the state of files still open when the daemon stops. */
void xipfs_free_opens(struct xipfs_state *s);

extern const struct fuse_lowlevel_ops xipfs_ops;

/* -o stats (stats.c): xipfs_ops, each request counted and timed. */
extern const struct fuse_lowlevel_ops xipfs_counted_ops;
int xipfs_stats_start(const struct xipfs_state *s);
/* Before fuse_daemonize(): SIGUSR1's line goes to the kernel log from now on. */
void xipfs_stats_background(void);
void xipfs_stats_log(void);

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
void xip_release(struct xipfs_state *s, fuse_req_t req, struct xipfs_open *of);
/* Whether @ino's opens are mapped in place now (a backing file is registered). */
bool xip_backed(struct xipfs_state *s, const struct xipfs_ino *ino);
/* Close the helper's descriptors and free the backing table. */
void xip_exit(struct xipfs_state *s);

/*
 * -o selfmap=DIR (selfmap.c): move the daemon's mappings of files under
 * DIR (its program and libraries, in an initramfs) off those files, onto
 * anonymous memory or the same files in the mount at @mnt.  Called in the
 * daemon's only thread, once mounted, before the session loop.
 */
int selfmap_start(struct xipfs_state *s, const char *dir, const char *mnt);

#endif
