// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xipfs command line: xipfs [options] SOURCE MOUNTPOINT.  Everything that
 * can fail is checked before the mount, so a failure is one line and a
 * non-zero exit with nothing mounted; the daemon detaches only after the
 * mount succeeded.
 */
#include <errno.h>
#include <fcntl.h>
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
	int nonopts;
};

static const struct fuse_opt conf_opts[] = {
	{ "xip=%s", offsetof(struct conf, xip), 0 },
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
"'xipfsctl load IMAGE NAME', or, inside a virtual machine, ivshmem[:UUID],\n"
"a segment the host shares as an ivshmem-plain device (needs xipmap.ko).\n"
"seg:NAME/LABEL and ivshmem[:UUID]/LABEL mount the image LABEL of a pool\n"
"('xipfsctl create' and 'xipfsctl add'); without /LABEL, its first image.\n"
"\n"
"xipfs options:\n"
"    -o xip=auto|on|off     map files straight from the segment (needs the\n"
"                           xipmap helper and FUSE passthrough; default auto)\n"
"    -o allow_other         let other users access the mount\n"
"    -o suid, -o dev        honour setuid bits / device files (off by default)\n"
"\n");
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct conf conf = { 0 };
	struct fuse_session *se = NULL;
	struct xipfs_source src;
	struct statx stx;
	struct stat st;
	char *mopts = NULL;
	int ret = 1;

	xipfs_set_log(log_line, NULL);
	if (fuse_opt_parse(&args, &conf, conf_opts, conf_proc) < 0 ||
	    fuse_parse_cmdline(&args, &opts) != 0) {
		ret = 2;
		goto out;
	}
	if (opts.show_help) {
		usage(stdout);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out;
	}
	if (opts.show_version) {
		printf("xipfs %s, libfuse %s\n", PACKAGE_VERSION, fuse_pkgversion());
		ret = 0;
		goto out;
	}
	if (!conf.source || !opts.mountpoint) {
		usage(stderr);
		ret = 2;
		goto out;
	}
	if (!conf.xip || !strcmp(conf.xip, "auto")) {
		xs.xip = XIP_AUTO;
	} else if (!strcmp(conf.xip, "on")) {
		xs.xip = XIP_ON;
	} else if (!strcmp(conf.xip, "off")) {
		xs.xip = XIP_OFF;
	} else {
		fprintf(stderr, "xipfs: -o xip=%s: expected auto, on or off\n", conf.xip);
		ret = 2;
		goto out;
	}
	if (conf.read && strcmp(conf.read, "iov") && strcmp(conf.read, "splice")) {
		fprintf(stderr, "xipfs: -o read=%s: expected iov or splice\n", conf.read);
		ret = 2;
		goto out;
	}
	if (xipfs_source_parse(conf.source, &src)) {
		ret = 2;
		goto out;
	}
	/* ivshmem frames cannot be pinned: FUSE reads splice from its file. */
	xs.splice_read = src.kind == XIPFS_SOURCE_IVSHMEM ||
			 (conf.read && !strcmp(conf.read, "splice"));
	if (stat(opts.mountpoint, &st) < 0) {
		fprintf(stderr, "xipfs: mountpoint %s: %s\n", opts.mountpoint, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "xipfs: mountpoint %s: not a directory\n", opts.mountpoint);
		goto out;
	}
	/* Stacking a second mount on a mount root hides the first: refuse. */
	if (statx(AT_FDCWD, opts.mountpoint, 0, STATX_BASIC_STATS, &stx) == 0 &&
	    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) && strcmp(opts.mountpoint, "/")) {
		fprintf(stderr, "xipfs: mountpoint %s: busy (already a mount point; unmount it first)\n",
			opts.mountpoint);
		goto out;
	}
	if (access("/dev/fuse", R_OK | W_OK) < 0) {
		fprintf(stderr, "xipfs: /dev/fuse: %s (is the fuse module loaded?)\n",
			strerror(errno));
		goto out;
	}

	xs.xip_dev = xs.xip_seg = -1;
	/* An image file is copied into a sealed memfd: the daemon serves a segment. */
	if (xipfs_source_open(&src, XIPFS_OPEN_COPY, &xs.seg, &xs.img))
		goto out;	/* libxipfs said why */
	/* The reason is logged once the connection is up (xip_init()). */
	if (xs.xip == XIP_OFF)
		snprintf(xs.xip_why, sizeof(xs.xip_why), "-o xip=off");
	else if (xip_check(&xs, xs.xip_why, sizeof(xs.xip_why)) == 0)
		xs.xip_ok = true;
	else if (xs.xip == XIP_ON) {
		fprintf(stderr, "xipfs: -o xip=on: XIP is not available: %s\n", xs.xip_why);
		goto out;
	}

	/* fsname=SOURCE, with ',' and '\\' escaped as fuse_opt expects. */
	mopts = malloc(strlen(conf.source) * 2 + 64);
	if (!mopts) {
		fprintf(stderr, "xipfs: out of memory\n");
		goto out;
	}
	{
		char *p = mopts + sprintf(mopts, "ro,default_permissions,subtype=xipfs,fsname=");

		for (const char *q = conf.source; *q; q++) {
			if (*q == ',' || *q == '\\')
				*p++ = '\\';
			*p++ = *q;
		}
		*p = '\0';
	}
	if (fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, mopts)) {
		fprintf(stderr, "xipfs: out of memory\n");
		goto out;
	}
	se = fuse_session_new(&args, &xipfs_ops, sizeof(xipfs_ops), &xs);
	if (!se)
		goto out;
	xs.se = se;
	if (fuse_set_signal_handlers(se))
		goto out_session;
	if (fuse_session_mount(se, opts.mountpoint)) {
		fprintf(stderr, "xipfs: cannot mount on %s\n", opts.mountpoint);
		goto out_signals;
	}
	if (!opts.foreground) {
		openlog("xipfs", LOG_PID, LOG_DAEMON);
		use_syslog = true;
	}
	fuse_daemonize(opts.foreground);
	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();

		fuse_loop_cfg_set_clone_fd(cfg, opts.clone_fd);
		/* libfuse reports "unset" as UINT_MAX: keep its defaults then. */
		if (opts.max_threads != UINT_MAX)
			fuse_loop_cfg_set_max_threads(cfg, opts.max_threads);
		if (opts.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(cfg, opts.max_idle_threads);
		ret = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	/*
	 * libfuse reports the signal that ended the loop: SIGTERM, SIGINT or
	 * SIGHUP is a requested stop, unmounted cleanly below, so success.
	 */
	if (ret == SIGTERM || ret == SIGINT || ret == SIGHUP ||
	    ret == -SIGTERM || ret == -SIGINT || ret == -SIGHUP)
		ret = 0;
	ret = ret || xs.xip_failed ? 1 : 0;
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
	xipfs_free_opens();
out:
	xipfs_close(xs.img);
	xipfs_segment_close(xs.seg);
	if (xs.xip_seg >= 0)
		close(xs.xip_seg);
	if (xs.xip_dev >= 0)
		close(xs.xip_dev);
	free(opts.mountpoint);
	free(conf.source);
	free(conf.xip);
	free(conf.read);
	free(mopts);
	fuse_opt_free_args(&args);
	return ret;
}
