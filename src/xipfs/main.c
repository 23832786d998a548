// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xipfs command line: xipfs [options] SOURCE MOUNTPOINT.  Everything that
 * can fail is checked before the mount, so a failure is one line and a
 * non-zero exit with nothing mounted; the daemon detaches only after the
 * mount succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"
#include "daemon.h"

struct conf {
	char *source;
	char *xip;
	char *read;
	char *selfmap;
	char *xip_idle;
	char *cpus;
	cpu_set_t cpuset;
	int stats;
	int mt;
	int nonopts;
};

static const struct fuse_opt conf_opts[] = {
	{ "xip=%s", offsetof(struct conf, xip), 0 },
	{ "xip_idle=%s", offsetof(struct conf, xip_idle), 0 },
	{ "stats", offsetof(struct conf, stats), 1 },
	{ "mt", offsetof(struct conf, mt), 1 },
	{ "selfmap=%s", offsetof(struct conf, selfmap), 0 },
	{ "cpus=%s", offsetof(struct conf, cpus), 0 },
	/* Undocumented, for bench/mount.sh: how reads reach /dev/fuse. */
	{ "read=%s", offsetof(struct conf, read), 0 },
	FUSE_OPT_END
};

static int conf_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
	struct conf *c = data;

	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;
	if (c->nonopts++ == 0) {
		c->source = strdup(arg);
		return 0;		/* ours: not for fuse_parse_cmdline */
	}
	return c->nonopts == 2 ? 1 : (fprintf(stderr, "xipfs: unexpected argument '%s'\n", arg), -1);
}

static bool use_syslog;

static void log_line(int level, const char *msg, void *arg)
{
	if (use_syslog)
		syslog(level, "%s", msg);
	else if (level <= XIPFS_LOG_INFO)
		fprintf(stderr, "xipfs: %s\n", msg);
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: xipfs [options] SOURCE MOUNTPOINT\n"
"Mount an xipfs image read-only.  SOURCE is an image file (copied into a\n"
"private sealed memory segment), seg:NAME, a segment loaded with\n"
"'xipfsctl load IMAGE NAME', or, inside a virtual machine, ivshmem[:UUID] or\n"
"pmem[:UUID], a segment the host shares as an ivshmem-plain or a virtio-pmem\n"
"device (needs xipmap.ko).\n"
"seg:NAME/LABEL and ivshmem[:UUID]/LABEL (pmem too) mount the image LABEL of a pool\n"
"('xipfsctl create' and 'xipfsctl add'); without /LABEL, its first image.\n"
"\n"
"xipfs options:\n"
"    -o xip=auto|on|off     map files straight from the segment (needs the\n"
"                           xipmap helper and FUSE passthrough; default auto)\n"
"    -o allow_other         let other users access the mount\n"
"    -o suid, -o dev        honour setuid bits / device files (off by default)\n"
"    -o xip_idle=N          backing files of closed files kept ready for the next\n"
"                           open, at most (default %d; 0 closes each at once)\n"
"    -o stats               count requests by type: printed on SIGUSR1 (to stderr,\n"
"                           or the kernel log in the background) and at exit\n"
"    -o mt                  serve requests with libfuse's multithreaded loop\n"
"                           (-o max_threads, max_idle_threads and clone_fd tune\n"
"                           it); the default is one thread, which answers sooner\n"
"    -o selfmap=DIR         run from the mount: DIR is where it appears later (/usr\n"
"                           for a daemon started from an initramfs, whose copies of\n"
"                           the program and its libraries are then freed)\n"
"    -o cpus=LIST           run the daemon on these CPUs only (e.g. 1 or 0,2-3;\n"
"                           '\\,' between items on a mount -o line)\n"
"\n", XIP_IDLE_DEFAULT);
}

/*
 * -o cpus=LIST: a list of CPU numbers and ranges, "1" or "0,2-3", as
 * taskset -c takes it.  0, or -1 after saying what is wrong.
 */
static int parse_cpus(const char *list, cpu_set_t *set)
{
	const char *p = list;

	CPU_ZERO(set);
	do {
		unsigned long lo, hi;
		char *end;

		errno = 0;
		lo = strtoul(p, &end, 10);
		hi = lo;
		if (end != p && *end == '-') {
			p = end + 1;
			hi = strtoul(p, &end, 10);
		}
		if (end == p || errno || (*end && *end != ',') || lo > hi || hi >= CPU_SETSIZE) {
			fprintf(stderr, "xipfs: -o cpus=%s: expected CPU numbers below %d and ranges, such as 1 or 0,2-3\n",
				list, CPU_SETSIZE);
			return -1;
		}
		for (unsigned long c = lo; c <= hi; c++)
			CPU_SET(c, set);
		p = end + 1;
	} while (*(p - 1));
	return 0;
}

/*
 * The xipfs options: 0 to go on, else the exit status (0 for --help and
 * --version).
 */
static int parse_conf(struct xipfs_state *s, struct conf *conf,
		      const struct fuse_cmdline_opts *opts)
{
	if (opts->show_help) {
		usage(stdout);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		return -1;
	}
	if (opts->show_version) {
		printf("xipfs %s, libfuse %s\n", PACKAGE_VERSION, fuse_pkgversion());
		return -1;
	}
	if (!conf->source || !opts->mountpoint) {
		usage(stderr);
		return 2;
	}
	if (!conf->xip || !strcmp(conf->xip, "auto")) {
		s->xip = XIP_AUTO;
	} else if (!strcmp(conf->xip, "on")) {
		s->xip = XIP_ON;
	} else if (!strcmp(conf->xip, "off")) {
		s->xip = XIP_OFF;
	} else {
		fprintf(stderr, "xipfs: -o xip=%s: expected auto, on or off\n", conf->xip);
		return 2;
	}
	s->xip_idle_max = XIP_IDLE_DEFAULT;
	if (conf->xip_idle) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(conf->xip_idle, &end, 10);
		if (errno || end == conf->xip_idle || *end || conf->xip_idle[0] == '-') {
			fprintf(stderr, "xipfs: -o xip_idle=%s: expected a count of files (0 or more)\n",
				conf->xip_idle);
			return 2;
		}
		s->xip_idle_max = n;
	}
	if (conf->mt && opts->singlethread) {
		fprintf(stderr, "xipfs: -s and -o mt contradict each other: one thread, or libfuse's multithreaded loop?\n");
		return 2;
	}
	if (conf->read && strcmp(conf->read, "iov") && strcmp(conf->read, "splice")) {
		fprintf(stderr, "xipfs: -o read=%s: expected iov or splice\n", conf->read);
		return 2;
	}
	if (conf->cpus && parse_cpus(conf->cpus, &conf->cpuset))
		return 2;
	return 0;
}

static int check_mountpoint(const char *mnt)
{
	struct statx stx;
	struct stat st;

	if (stat(mnt, &st) < 0) {
		fprintf(stderr, "xipfs: mountpoint %s: %s\n", mnt, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "xipfs: mountpoint %s: not a directory\n", mnt);
		return -1;
	}
	/* Stacking a second mount on a mount root hides the first: refuse. */
	if (statx(AT_FDCWD, mnt, 0, STATX_BASIC_STATS, &stx) == 0 &&
	    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) && strcmp(mnt, "/")) {
		fprintf(stderr, "xipfs: mountpoint %s: busy (already a mount point; unmount it first)\n",
			mnt);
		return -1;
	}
	/*
	 * /dev/fuse is not checked here: where it is 0600, a user may still
	 * mount through setuid fusermount3.  libfuse decides, and says why.
	 */
	return 0;
}

/*
 * The daemon's threads, and those libfuse and -o selfmap start later,
 * inherit the affinity set here.  On a machine where the daemon has CPUs
 * of its own, a request reaches it without switching the requester's CPU
 * to another address space; under QEMU TCG, which flushes its whole TLB
 * at such a switch, an ioctl round trip took 59 us instead of 95 us with
 * the daemon on the other of two vCPUs (bench/startup-guest.sh SMP=2).
 */
static int set_cpus(const struct conf *conf)
{
	if (!conf->cpus)
		return 0;
	if (sched_setaffinity(0, sizeof(conf->cpuset), &conf->cpuset) < 0) {
		fprintf(stderr, "xipfs: -o cpus=%s: %s (none of them online and allowed?)\n",
			conf->cpus, strerror(errno));
		return -1;
	}
	return 0;
}

/* Open and validate the segment, and see whether XIP can be had. */
static int open_source(struct xipfs_state *s, const struct xipfs_source *src)
{
	/* An image file is copied into a sealed memfd: the daemon serves a segment. */
	int err = xipfs_source_open(src, XIPFS_OPEN_COPY, &s->seg, &s->img);

	if (err)
		return err;	/* libxipfs said why */
	/* The reason is logged once the connection is up (xip_init()). */
	if (s->xip == XIP_OFF) {
		snprintf(s->xip_why, sizeof(s->xip_why), "-o xip=off");
	} else if (xip_check(s, s->xip_why, sizeof(s->xip_why)) == 0) {
		s->xip_ok = true;
	} else if (s->xip == XIP_ON) {
		fprintf(stderr, "xipfs: -o xip=on: XIP is not available: %s\n", s->xip_why);
		return -ENOTSUP;
	}
	return 0;
}

/* "-o ro,...,fsname=SOURCE", with ',' and '\\' escaped as fuse_opt expects. */
static int add_mount_opts(struct fuse_args *args, const char *source)
{
	char *mopts = malloc(strlen(source) * 2 + 64), *p;
	int err;

	if (!mopts)
		return -ENOMEM;
	p = mopts + sprintf(mopts, "ro,default_permissions,subtype=xipfs,fsname=");
	for (const char *q = source; *q; q++) {
		if (*q == ',' || *q == '\\')
			*p++ = '\\';
		*p++ = *q;
	}
	*p = '\0';
	err = fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, mopts) ? -ENOMEM : 0;
	free(mopts);
	return err;
}

/*
 * One thread by default: every request is answered from memory and never
 * blocks, so more threads add no concurrency worth having, only hand-offs.
 * libfuse's multithreaded loop wakes its workers in turn, each with a cold
 * cache and often on another CPU; one thread is the one the kernel woke
 * last.  On the loaded 2-CPU host, a warm python start (71 round trips)
 * measured 1.06x tmpfs with one thread against 1.09-1.15x with the loop,
 * and less CPU (bench/startup.sh, median of paired runs).
 */
static int run_loop(struct fuse_session *se, const struct fuse_cmdline_opts *opts, bool mt)
{
	struct fuse_loop_config *cfg;
	int ret;

	if (!mt)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, opts->clone_fd);
	/* libfuse reports "unset" as UINT_MAX: keep its defaults then. */
	if (opts->max_threads != UINT_MAX)
		fuse_loop_cfg_set_max_threads(cfg, opts->max_threads);
	if (opts->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, opts->max_idle_threads);
	ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

/*
 * Mount, serve until unmounted or stopped, unmount.  The exit status:
 * libfuse reports the signal that ended the loop, and SIGTERM, SIGINT or
 * SIGHUP is a requested stop, unmounted cleanly, so success.
 */
static int serve(struct xipfs_state *s, struct fuse_args *args,
		 const struct fuse_cmdline_opts *opts, const struct conf *conf)
{
	bool stats = conf->stats;
	const struct fuse_lowlevel_ops *ops = stats ? &xipfs_counted_ops : &xipfs_ops;
	int ret = 1;

	s->se = fuse_session_new(args, ops, sizeof(*ops), s);
	if (!s->se)
		return 1;
	if (fuse_set_signal_handlers(s->se))
		goto out_session;
	if (stats && xipfs_stats_start(s)) {
		fprintf(stderr, "xipfs: -o stats: SIGUSR1: %s\n", strerror(errno));
		goto out_signals;
	}
	if (fuse_session_mount(s->se, opts->mountpoint)) {
		fprintf(stderr, "xipfs: cannot mount on %s\n", opts->mountpoint);
		goto out_signals;
	}
	if (!opts->foreground) {
		openlog("xipfs", LOG_PID, LOG_DAEMON);
		use_syslog = true;
		if (stats)
			xipfs_stats_background();
	}
	fuse_daemonize(opts->foreground);
	if (conf->selfmap) {
		int err = selfmap_start(s, conf->selfmap, opts->mountpoint);

		if (err)
			xipfs_log(XIPFS_LOG_WARN, "-o selfmap=%s: %s", conf->selfmap, strerror(-err));
	}
	ret = run_loop(s->se, opts, conf->mt);
	if (ret == SIGTERM || ret == SIGINT || ret == SIGHUP ||
	    ret == -SIGTERM || ret == -SIGINT || ret == -SIGHUP)
		ret = 0;
	ret = ret || s->xip_failed ? 1 : 0;
	if (stats)
		xipfs_stats_log();
	fuse_session_unmount(s->se);
out_signals:
	fuse_remove_signal_handlers(s->se);
out_session:
	fuse_session_destroy(s->se);
	return ret;
}

int main(int argc, char **argv)
{
	/* Everything main() frees or closes is valid or -1 before any goto. */
	struct xipfs_state s = {
		.xip_dev = -1,
		.xip_seg = -1,
		.opens_lock = PTHREAD_MUTEX_INITIALIZER,
		.opens = { .prev = &s.opens, .next = &s.opens },
		.xip_lock = PTHREAD_MUTEX_INITIALIZER,
	};
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct conf conf = { 0 };
	struct xipfs_source src;
	int ret = 2;

	xipfs_set_log(log_line, NULL);
	if (fuse_opt_parse(&args, &conf, conf_opts, conf_proc) < 0 ||
	    fuse_parse_cmdline(&args, &opts) != 0)
		goto out;
	ret = parse_conf(&s, &conf, &opts);
	if (ret) {
		ret = ret < 0 ? 0 : ret;
		goto out;
	}
	ret = 2;
	if (xipfs_source_parse(conf.source, &src))
		goto out;
	ret = 1;
	/* ivshmem and pmem frames cannot be pinned: reads splice from its file. */
	s.splice_read = src.kind == XIPFS_SOURCE_IVSHMEM ||
			(conf.read && !strcmp(conf.read, "splice"));
	if (set_cpus(&conf) || check_mountpoint(opts.mountpoint) || open_source(&s, &src))
		goto out;
	if (add_mount_opts(&args, conf.source)) {
		fprintf(stderr, "xipfs: out of memory\n");
		goto out;
	}
	ret = serve(&s, &args, &opts, &conf);
	xipfs_free_opens(&s);
out:
	xip_exit(&s);
	xipfs_close(s.img);
	xipfs_segment_close(s.seg);
	free(opts.mountpoint);
	free(conf.source);
	free(conf.xip);
	free(conf.read);
	free(conf.selfmap);
	free(conf.xip_idle);
	free(conf.cpus);
	fuse_opt_free_args(&args);
	return ret;
}
