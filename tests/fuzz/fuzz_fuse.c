// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_fuse: the daemon's request handlers (src/xipfs/xipfs.c, unmodified)
 * driven without a kernel.  libfuse is not linked: this file provides the
 * fuse_reply_* and fuse_add_direntry* functions the handlers call, checks
 * that every request gets exactly one reply and touches every byte a reply
 * points to (so ASan sees a reply pointing outside the image).
 *
 * Input: le32 S, then S bytes of request script, then the image.  The
 * script is a sequence of requests (see run_one()); inode numbers are 16
 * bits, enough for the seed images and for the edge cases (0, count + 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fuzz.h"
#include "daemon.h"

struct fuse_req {
	int replies;
	int err;
};

static volatile uint8_t sink;

static void touch(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t x = 0;

	for (size_t i = 0; i < len; i++)
		x ^= b[i];
	sink ^= x;
}

static int reply(fuse_req_t req, int err)
{
	req->replies++;
	req->err = err;
	return 0;
}

/* The daemon's state, which its main() keeps on the stack: here, one per input. */
static struct xipfs_state xs;

void *fuse_req_userdata(fuse_req_t req)
{
	(void)req;
	return &xs;
}

int fuse_reply_err(fuse_req_t req, int err)
{
	FUZZ_CHECK(err >= 0 && err < 4096);
	return reply(req, err);
}

void fuse_reply_none(fuse_req_t req)
{
	reply(req, 0);
}

static void check_stat(const struct stat *st)
{
	touch(st, sizeof(*st));
	FUZZ_CHECK(st->st_mtim.tv_nsec >= 0 && st->st_mtim.tv_nsec < 1000000000);
}

int fuse_reply_entry(fuse_req_t req, const struct fuse_entry_param *e)
{
	if (e->ino) {
		check_stat(&e->attr);
		FUZZ_CHECK(e->attr.st_ino == e->ino);
	}
	return reply(req, 0);
}

int fuse_reply_attr(fuse_req_t req, const struct stat *attr, double timeout)
{
	(void)timeout;
	check_stat(attr);
	return reply(req, 0);
}

int fuse_reply_readlink(fuse_req_t req, const char *link)
{
	size_t len = strlen(link);

	FUZZ_CHECK(len <= XIPFS_SYMLINK_MAX);
	return reply(req, 0);
}

int fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi)
{
	(void)fi;
	return reply(req, 0);
}

int fuse_reply_buf(fuse_req_t req, const char *buf, size_t size)
{
	touch(buf, size);
	return reply(req, 0);
}

int fuse_reply_iov(fuse_req_t req, const struct iovec *iov, int count)
{
	FUZZ_CHECK(count >= 0);
	for (int i = 0; i < count; i++)
		touch(iov[i].iov_base, iov[i].iov_len);
	return reply(req, 0);
}

int fuse_reply_data(fuse_req_t req, struct fuse_bufvec *bufv,
		    enum fuse_buf_copy_flags flags)
{
	(void)flags;
	for (size_t i = 0; i < bufv->count; i++)
		if (!(bufv->buf[i].flags & FUSE_BUF_IS_FD))
			touch(bufv->buf[i].mem, bufv->buf[i].size);
	return reply(req, 0);
}

int fuse_reply_statfs(fuse_req_t req, const struct statvfs *stbuf)
{
	touch(stbuf, sizeof(*stbuf));
	return reply(req, 0);
}

int fuse_reply_xattr(fuse_req_t req, size_t count)
{
	FUZZ_CHECK(count <= XIPFS_XATTR_SET_MAX);
	return reply(req, 0);
}

int fuse_reply_lseek(fuse_req_t req, off_t off)
{
	FUZZ_CHECK(off >= 0);
	return reply(req, 0);
}

/* xip_give_up() ends the session when -o xip=on cannot be honoured. */
void fuse_session_exit(struct fuse_session *se)
{
	(void)se;
}

/*
 * The sizes libfuse uses: struct fuse_dirent is 24 bytes plus the name,
 * fuse_direntplus adds a 128-byte fuse_entry_out, 8-byte aligned.
 */
static size_t add_dirent(char *buf, size_t bufsize, const char *name, size_t extra)
{
	size_t len = (24 + extra + strlen(name) + 7) & ~(size_t)7;

	FUZZ_CHECK(strlen(name) >= 1 && strlen(name) <= XIPFS_NAME_MAX);
	FUZZ_CHECK(!strchr(name, '/') || !strcmp(name, "/"));
	if (buf && len <= bufsize)
		memset(buf, 0xa5, len);
	return len;
}

size_t fuse_add_direntry(fuse_req_t req, char *buf, size_t bufsize,
			 const char *name, const struct stat *stbuf, off_t off)
{
	(void)req;
	(void)stbuf;
	FUZZ_CHECK(off > 0);
	return add_dirent(buf, bufsize, name, 0);
}

size_t fuse_add_direntry_plus(fuse_req_t req, char *buf, size_t bufsize,
			      const char *name, const struct fuse_entry_param *e,
			      off_t off)
{
	(void)req;
	FUZZ_CHECK(off > 0);
	if (e->ino)
		check_stat(&e->attr);
	return add_dirent(buf, bufsize, name, 128);
}

/* ---- the script --------------------------------------------------------- */

struct script {
	const uint8_t *p;
	size_t left;
};

static uint32_t take(struct script *s, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v |= (uint32_t)(s->left ? *s->p : 0) << (8 * i);
		if (s->left) {
			s->p++;
			s->left--;
		}
	}
	return v;
}

/* A NUL-terminated name of up to 300 bytes (longer than NAME_MAX on purpose). */
static void take_name(struct script *s, char *name)
{
	size_t len = take(s, 1);

	if (len == 255)
		len = 300;
	for (size_t i = 0; i < len; i++)
		name[i] = (char)take(s, 1);
	name[len] = 0;
}

#define CALL(op, ...) do {						\
	struct fuse_req r = { 0 };					\
	xipfs_ops.op(&r, __VA_ARGS__);					\
	FUZZ_CHECK(r.replies == 1);					\
	err = r.err;							\
} while (0)

static void run_one(struct script *s)
{
	unsigned op = take(s, 1);
	fuse_ino_t ino = take(s, 2);
	struct fuse_file_info fi = { 0 };
	char name[301];
	int err;

	if (ino == 0xffff)
		ino = (fuse_ino_t)1 << 40;	/* out of the image's range */
	switch (op % 12) {
	case 0:
		take_name(s, name);
		CALL(lookup, ino, name);
		break;
	case 1:
		CALL(getattr, ino, NULL);
		break;
	case 2:
		CALL(readlink, ino);
		break;
	case 3:
	case 4: {
		size_t size = take(s, 2) + 1;
		off_t off = take(s, 2);

		CALL(opendir, ino, &fi);
		if (err)
			break;
		if (op % 12 == 3)
			CALL(readdir, ino, size, off, &fi);
		else
			CALL(readdirplus, ino, size, off, &fi);
		CALL(releasedir, ino, &fi);
		break;
	}
	case 5: {
		size_t size = (take(s, 2) + 1) * 4;	/* up to 256 KiB */
		off_t off = (off_t)take(s, 4) * (op & 0x80 ? 4096 : 1);
		int whence = op & 0x40 ? SEEK_HOLE : SEEK_DATA;

		fi.flags = op & 0x20 ? O_RDWR : O_RDONLY;
		CALL(open, ino, &fi);
		if (err)
			break;
		CALL(read, ino, size, off, &fi);
		CALL(lseek, ino, off, whence, &fi);
		CALL(lseek, ino, -1, whence, &fi);
		CALL(release, ino, &fi);
		break;
	}
	case 6:
		CALL(statfs, ino);
		break;
	case 7: {
		size_t size = take(s, 2);

		take_name(s, name);
		CALL(getxattr, ino, name, size);
		break;
	}
	case 8:
		CALL(listxattr, ino, take(s, 2));
		break;
	case 9:
		CALL(forget, ino, take(s, 1));
		break;
	case 10:
		take_name(s, name);
		CALL(mkdir, ino, name, 0755);
		FUZZ_CHECK(err == EROFS);
		break;
	default: {
		/* Every request that would change something: EROFS. */
		struct fuse_forget_data fd = { .ino = ino, .nlookup = 1 };
		struct stat st = { 0 };

		CALL(setattr, ino, &st, FUSE_SET_ATTR_MODE, NULL);
		FUZZ_CHECK(err == EROFS);
		CALL(mknod, ino, "n", S_IFIFO | 0644, 0);
		FUZZ_CHECK(err == EROFS);
		CALL(unlink, ino, "n");
		FUZZ_CHECK(err == EROFS);
		CALL(rmdir, ino, "n");
		FUZZ_CHECK(err == EROFS);
		CALL(symlink, "t", ino, "n");
		FUZZ_CHECK(err == EROFS);
		CALL(rename, ino, "n", ino, "m", 0);
		FUZZ_CHECK(err == EROFS);
		CALL(link, ino, ino, "n");
		FUZZ_CHECK(err == EROFS);
		CALL(write, ino, "x", 1, 0, &fi);
		FUZZ_CHECK(err == EROFS);
		CALL(create, ino, "n", S_IFREG | 0644, &fi);
		FUZZ_CHECK(err == EROFS);
		CALL(setxattr, ino, "user.x", "v", 1, 0);
		FUZZ_CHECK(err == EROFS);
		CALL(removexattr, ino, "user.x");
		FUZZ_CHECK(err == EROFS);
		CALL(fallocate, ino, 0, 0, 4096, &fi);
		FUZZ_CHECK(err == EROFS);
		CALL(copy_file_range, ino, 0, &fi, ino, 0, &fi, 1, 0);
		FUZZ_CHECK(err == EROFS);
		CALL(forget_multi, 1, &fd);
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xipfs_image *img = NULL;
	struct fuse_conn_info conn = { 0 };
	struct script s;
	uint32_t slen;
	void *buf;

	if (size < 4 || size > FUZZ_MAX_INPUT)
		return -1;
	fuzz_quiet();
	slen = (uint32_t)data[0] | (uint32_t)data[1] << 8 |
	       (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
	if (slen > size - 4)
		slen = (uint32_t)(size - 4);
	s.p = data + 4;
	s.left = slen;
	size -= 4 + slen;
	data += 4 + slen;
	if (posix_memalign(&buf, 4096, size ? size : 1))
		return 0;
	memcpy(buf, data, size);
	if (xipfs_open_mem(buf, size, "fuzz", XIPFS_OPEN_NOCRC, &img))
		goto out;
	memset(&xs, 0, sizeof(xs));
	xs.img = img;
	conn.capable = ~0u;
	xipfs_ops.init(&xs, &conn);
	for (int n = 0; s.left && n < 64; n++)
		run_one(&s);
	xipfs_close(img);
out:
	free(buf);
	return 0;
}
