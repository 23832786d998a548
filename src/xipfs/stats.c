// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * -o stats: count the requests the kernel sends, by type, with the CPU time
 * the daemon spent on each (from the handler's entry to its return, which
 * includes writing the reply to /dev/fuse).  CPU time, not the clock: the
 * reply wakes the requester, which may run before the handler returns (on
 * a single CPU it mostly does), and a clock would count that as the
 * daemon's.  The counted ops table wraps the plain one, so a daemon
 * without -o stats pays nothing.  The table is printed on SIGUSR1 and at
 * exit; bench/startup.sh reads it to count what one python start asks for.
 * A daemon in the background has no stderr (fuse_daemonize() points it at
 * /dev/null): its SIGUSR1 line goes to the kernel log, where an initramfs
 * daemon's is the only log there is, and a guest reads it with dmesg.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

enum req {
	REQ_LOOKUP, REQ_FORGET, REQ_GETATTR, REQ_READLINK, REQ_OPENDIR, REQ_READDIR,
	REQ_READDIRPLUS, REQ_RELEASEDIR, REQ_OPEN, REQ_READ, REQ_RELEASE, REQ_LSEEK,
	REQ_STATFS, REQ_GETXATTR, REQ_LISTXATTR, REQ_IOCTL, REQ_CHANGE, REQ_NR
};

static const char *const req_names[REQ_NR] = {
	[REQ_LOOKUP] = "LOOKUP", [REQ_FORGET] = "FORGET", [REQ_GETATTR] = "GETATTR",
	[REQ_READLINK] = "READLINK", [REQ_OPENDIR] = "OPENDIR", [REQ_READDIR] = "READDIR",
	[REQ_READDIRPLUS] = "READDIRPLUS", [REQ_RELEASEDIR] = "RELEASEDIR",
	[REQ_OPEN] = "OPEN", [REQ_READ] = "READ", [REQ_RELEASE] = "RELEASE",
	[REQ_LSEEK] = "LSEEK", [REQ_STATFS] = "STATFS", [REQ_GETXATTR] = "GETXATTR",
	[REQ_LISTXATTR] = "LISTXATTR", [REQ_IOCTL] = "IOCTL", [REQ_CHANGE] = "CHANGE",
};

static atomic_uint_fast64_t req_count[REQ_NR], req_nsec[REQ_NR];
/* The daemon's state, for its backing file counts (xipfs_stats_start()). */
static const struct xipfs_state *stats_state;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void account(enum req r, uint64_t t0)
{
	atomic_fetch_add_explicit(&req_count[r], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&req_nsec[r], now_ns() - t0, memory_order_relaxed);
}

/* A wrapper that times the plain handler OP and counts it as REQ. */
#define COUNTED(op, r, params, args)				\
	static void counted_##op params				\
	{							\
		uint64_t t0 = now_ns();				\
								\
		xipfs_ops.op args;				\
		account(r, t0);					\
	}

COUNTED(lookup, REQ_LOOKUP, (fuse_req_t req, fuse_ino_t p, const char *name), (req, p, name))
COUNTED(forget, REQ_FORGET, (fuse_req_t req, fuse_ino_t n, uint64_t nl), (req, n, nl))
COUNTED(forget_multi, REQ_FORGET, (fuse_req_t req, size_t c, struct fuse_forget_data *f),
	(req, c, f))
COUNTED(getattr, REQ_GETATTR, (fuse_req_t req, fuse_ino_t n, struct fuse_file_info *fi),
	(req, n, fi))
COUNTED(readlink, REQ_READLINK, (fuse_req_t req, fuse_ino_t n), (req, n))
COUNTED(opendir, REQ_OPENDIR, (fuse_req_t req, fuse_ino_t n, struct fuse_file_info *fi),
	(req, n, fi))
COUNTED(readdir, REQ_READDIR, (fuse_req_t req, fuse_ino_t n, size_t s, off_t o,
			       struct fuse_file_info *fi), (req, n, s, o, fi))
COUNTED(readdirplus, REQ_READDIRPLUS, (fuse_req_t req, fuse_ino_t n, size_t s, off_t o,
				       struct fuse_file_info *fi), (req, n, s, o, fi))
COUNTED(releasedir, REQ_RELEASEDIR, (fuse_req_t req, fuse_ino_t n, struct fuse_file_info *fi),
	(req, n, fi))
COUNTED(open, REQ_OPEN, (fuse_req_t req, fuse_ino_t n, struct fuse_file_info *fi), (req, n, fi))
COUNTED(read, REQ_READ, (fuse_req_t req, fuse_ino_t n, size_t s, off_t o,
			 struct fuse_file_info *fi), (req, n, s, o, fi))
COUNTED(release, REQ_RELEASE, (fuse_req_t req, fuse_ino_t n, struct fuse_file_info *fi),
	(req, n, fi))
COUNTED(lseek, REQ_LSEEK, (fuse_req_t req, fuse_ino_t n, off_t o, int w,
			   struct fuse_file_info *fi), (req, n, o, w, fi))
COUNTED(statfs, REQ_STATFS, (fuse_req_t req, fuse_ino_t n), (req, n))
COUNTED(getxattr, REQ_GETXATTR, (fuse_req_t req, fuse_ino_t n, const char *name, size_t s),
	(req, n, name, s))
COUNTED(listxattr, REQ_LISTXATTR, (fuse_req_t req, fuse_ino_t n, size_t s), (req, n, s))
COUNTED(ioctl, REQ_IOCTL, (fuse_req_t req, fuse_ino_t n, unsigned int cmd, void *arg,
			   struct fuse_file_info *fi, unsigned int flags, const void *in,
			   size_t in_size, size_t out_size),
	(req, n, cmd, arg, fi, flags, in, in_size, out_size))

/* Requests that would change the tree all fail: one count for them. */
COUNTED(setattr, REQ_CHANGE, (fuse_req_t req, fuse_ino_t n, struct stat *a, int set,
			      struct fuse_file_info *fi), (req, n, a, set, fi))
COUNTED(mknod, REQ_CHANGE, (fuse_req_t req, fuse_ino_t p, const char *name, mode_t m, dev_t r),
	(req, p, name, m, r))
COUNTED(mkdir, REQ_CHANGE, (fuse_req_t req, fuse_ino_t p, const char *name, mode_t m),
	(req, p, name, m))
COUNTED(unlink, REQ_CHANGE, (fuse_req_t req, fuse_ino_t p, const char *name), (req, p, name))
COUNTED(rmdir, REQ_CHANGE, (fuse_req_t req, fuse_ino_t p, const char *name), (req, p, name))
COUNTED(symlink, REQ_CHANGE, (fuse_req_t req, const char *l, fuse_ino_t p, const char *name),
	(req, l, p, name))
COUNTED(rename, REQ_CHANGE, (fuse_req_t req, fuse_ino_t p, const char *name, fuse_ino_t np,
			     const char *nn, unsigned int flags), (req, p, name, np, nn, flags))
COUNTED(link, REQ_CHANGE, (fuse_req_t req, fuse_ino_t n, fuse_ino_t np, const char *nn),
	(req, n, np, nn))
COUNTED(write, REQ_CHANGE, (fuse_req_t req, fuse_ino_t n, const char *buf, size_t s, off_t o,
			    struct fuse_file_info *fi), (req, n, buf, s, o, fi))
COUNTED(create, REQ_CHANGE, (fuse_req_t req, fuse_ino_t p, const char *name, mode_t m,
			     struct fuse_file_info *fi), (req, p, name, m, fi))
COUNTED(setxattr, REQ_CHANGE, (fuse_req_t req, fuse_ino_t n, const char *name, const char *v,
			       size_t s, int flags), (req, n, name, v, s, flags))
COUNTED(removexattr, REQ_CHANGE, (fuse_req_t req, fuse_ino_t n, const char *name),
	(req, n, name))
COUNTED(fallocate, REQ_CHANGE, (fuse_req_t req, fuse_ino_t n, int mode, off_t o, off_t len,
				struct fuse_file_info *fi), (req, n, mode, o, len, fi))
COUNTED(copy_file_range, REQ_CHANGE, (fuse_req_t req, fuse_ino_t in, off_t oin,
				      struct fuse_file_info *fin, fuse_ino_t out, off_t oout,
				      struct fuse_file_info *fout, size_t len, int flags),
	(req, in, oin, fin, out, oout, fout, len, flags))

static void counted_init(void *userdata, struct fuse_conn_info *conn)
{
	xipfs_ops.init(userdata, conn);
}

/* Every handler of xipfs_ops, counted. */
const struct fuse_lowlevel_ops xipfs_counted_ops = {
	.init = counted_init,
	.lookup = counted_lookup,
	.forget = counted_forget,
	.forget_multi = counted_forget_multi,
	.getattr = counted_getattr,
	.readlink = counted_readlink,
	.opendir = counted_opendir,
	.readdir = counted_readdir,
	.readdirplus = counted_readdirplus,
	.releasedir = counted_releasedir,
	.open = counted_open,
	.read = counted_read,
	.release = counted_release,
	.lseek = counted_lseek,
	.statfs = counted_statfs,
	.getxattr = counted_getxattr,
	.listxattr = counted_listxattr,
	.ioctl = counted_ioctl,
	.setattr = counted_setattr,
	.mknod = counted_mknod,
	.mkdir = counted_mkdir,
	.unlink = counted_unlink,
	.rmdir = counted_rmdir,
	.symlink = counted_symlink,
	.rename = counted_rename,
	.link = counted_link,
	.write = counted_write,
	.create = counted_create,
	.setxattr = counted_setxattr,
	.removexattr = counted_removexattr,
	.fallocate = counted_fallocate,
	.copy_file_range = counted_copy_file_range,
};

/* Async-signal-safe: digits into a buffer, no stdio. */
static char *put_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_str(char *p, const char *s)
{
	size_t len = strlen(s);

	memcpy(p, s, len);
	return p + len;
}

/*
 * One line: "stats: requests N: LOOKUP n/avg_ns ..." with every type that
 * was seen, the average CPU time per request in nanoseconds after the slash.
 * Returns the length; @buf holds at least XIPFS_STATS_MAX bytes.
 */
static size_t stats_format(char *buf)
{
	uint64_t total = 0;
	char *p = buf;

	for (int r = 0; r < REQ_NR; r++)
		total += atomic_load_explicit(&req_count[r], memory_order_relaxed);
	p = put_str(p, "stats: requests ");
	p = put_u64(p, total);
	*p++ = ':';
	for (int r = 0; r < REQ_NR; r++) {
		uint64_t c = atomic_load_explicit(&req_count[r], memory_order_relaxed);
		uint64_t ns = atomic_load_explicit(&req_nsec[r], memory_order_relaxed);

		if (!c)
			continue;
		*p++ = ' ';
		p = put_str(p, req_names[r]);
		*p++ = ' ';
		p = put_u64(p, c);
		*p++ = '/';
		p = put_u64(p, ns / c);
	}
	/*
	 * With XIP: the backing files registered, and how many of them no
	 * open uses (-o xip_idle caps those).  Read without xip_lock, which a
	 * signal handler cannot take: each count is one load.
	 */
	if (stats_state && __atomic_load_n(&stats_state->xip_active, __ATOMIC_RELAXED)) {
		p = put_str(p, " backing ");
		p = put_u64(p, __atomic_load_n(&stats_state->xip_entries, __ATOMIC_RELAXED));
		p = put_str(p, " idle ");
		p = put_u64(p, __atomic_load_n(&stats_state->xip_idle, __ATOMIC_RELAXED));
	}
	*p = '\0';
	return (size_t)(p - buf);
}

#define XIPFS_STATS_MAX 2048	/* 17 types of at most 55 bytes, and room */

/* Where SIGUSR1's line goes: stderr, or /dev/kmsg once in the background. */
static int stats_fd = STDERR_FILENO;

static void stats_signal(int sig)
{
	static char buf[XIPFS_STATS_MAX];
	char *p = buf;

	(void)sig;
	if (stats_fd != STDERR_FILENO) {
		/* The kernel log's level (info) and whose line it is. */
		p = put_str(p, "<6>xipfs[");
		p = put_u64(p, (uint64_t)getpid());
		p = put_str(p, "]: ");
	} else {
		p = put_str(p, "xipfs: ");
	}
	p += stats_format(p);
	*p++ = '\n';
	if (write(stats_fd, buf, (size_t)(p - buf)) < 0)
		return;		/* nowhere to say it */
}

int xipfs_stats_start(const struct xipfs_state *s)
{
	struct sigaction sa = { .sa_handler = stats_signal, .sa_flags = SA_RESTART };

	stats_state = s;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGUSR1, &sa, NULL);
}

void xipfs_stats_background(void)
{
	/* Unless the kernel log is writable (root), the line goes nowhere. */
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

	stats_fd = fd >= 0 ? fd : STDERR_FILENO;
}

void xipfs_stats_log(void)
{
	char buf[XIPFS_STATS_MAX];

	stats_format(buf);
	xipfs_log(XIPFS_LOG_INFO, "%s", buf);
}
