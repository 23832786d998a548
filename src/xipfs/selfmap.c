// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * -o selfmap=DIR: a daemon started from an initramfs serves the /usr (DIR)
 * it was itself copied from.  Its program and libraries are files of the
 * initramfs, which lives in RAM: run-init deletes them at switch_root, but
 * a ramfs file stays in memory, whole, for as long as something maps it,
 * so the daemon would keep megabytes of the guest's RAM for the rest of
 * its life.  Here it moves every mapping of a file under DIR off that
 * file:
 * - a mapping the daemon may write, or that holds pages it wrote (relocated
 *   data, RELRO) becomes anonymous memory with the same bytes: the bytes
 *   are copied into a new anonymous mapping, which mremap() then moves
 *   over the old one in one step;
 * - an inaccessible one (the gaps the loader leaves) becomes an anonymous
 *   PROT_NONE mapping;
 * - any other (code, read-only data) is mapped again from the same path in
 *   the mount, once its bytes there are found equal, if that file is mapped
 *   in place (XIP): the daemon then runs from the segment's frames, which
 *   cost the guest nothing, and its page faults never wait for a FUSE
 *   read (which only this daemon could answer: it would deadlock).
 * The mount stays busy while the daemon maps its files: it is unmounted
 * lazily when the daemon stops (as a /usr is busy anyway).
 * The first two happen before the session loop starts, in the daemon's
 * only thread, so nothing writes those pages between copy and move; the
 * bytes are copied with no call that could write them (no allocation, no
 * lazy binding: every function used is called once before).  The third
 * needs the mount served, so a thread does it while the loop runs: each
 * replacement is one mmap(MAP_FIXED) of identical bytes, which a thread
 * running that code cannot tell from the old mapping.  A file that is not
 * in the mount, or differs, keeps its mapping (and is logged).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "daemon.h"

struct vma {
	uintptr_t start, end;
	uint64_t off;
	int prot;
	bool shared, anon;	/* MAP_SHARED; holds anonymous (written) pages */
	char *path;
};

struct selfmap {
	struct xipfs_state *s;
	struct vma *v;
	size_t n;
	char *exe;		/* the program, if under the directory */
	int root;		/* the mount's root directory */
	size_t dirlen;
};

static int parse_prot(const char *p)
{
	return (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
	       (p[2] == 'x' ? PROT_EXEC : 0);
}

/*
 * The mappings of files under @dir on the device of the root directory
 * (the initramfs), from /proc/self/smaps.
 */
static int read_maps(const char *dir, struct selfmap *m)
{
	size_t dirlen = strcmp(dir, "/") ? strlen(dir) : 0;
	struct vma *cur = NULL;
	struct stat root;
	char line[PATH_MAX + 256];
	FILE *f;

	if (stat("/", &root) < 0)
		return -errno;
	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off, ino;
		unsigned int maj, min;
		char perms[8], path[PATH_MAX];
		unsigned long anon;
		struct vma *v;
		int n = 0;

		if (sscanf(line, "Anonymous: %lu", &anon) == 1) {
			if (cur && anon)
				cur->anon = true;
			continue;
		}
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off,
			   &maj, &min, &ino, &n) != 7) {
			continue;
		}
		cur = NULL;
		if (sscanf(line + n, "%4095[^\n]", path) != 1 || !ino ||
		    makedev(maj, min) != root.st_dev || strncmp(path, dir, dirlen) ||
		    path[dirlen] != '/' || strstr(path, " (deleted)"))
			continue;
		v = realloc(m->v, (m->n + 1) * sizeof(*v));
		if (!v)
			break;
		m->v = v;
		cur = &v[m->n++];
		*cur = (struct vma){ .start = start, .end = end, .off = off,
				     .prot = parse_prot(perms), .shared = perms[3] == 's' };
		cur->path = strdup(path);
		if (!cur->path)
			m->n--, cur = NULL;
	}
	fclose(f);
	m->dirlen = dirlen;
	return 0;
}

/* Replace @v by anonymous memory with the same bytes and protection. */
static int to_anon(const struct vma *v)
{
	size_t len = v->end - v->start;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	if (v->prot & PROT_READ)
		memcpy(p, (void *)v->start, len);
	if (mprotect(p, len, v->prot) < 0 ||
	    mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)v->start) == MAP_FAILED) {
		int err = -errno;

		munmap(p, len);
		return err;
	}
	return 0;
}

/* Bind every function to_anon() calls (errno too), on scratch pages. */
static void bind_now(void)
{
	size_t kps = (size_t)sysconf(_SC_PAGESIZE);
	volatile size_t one = 1;
	char *a = mmap(NULL, 2 * kps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *b;

	if (a == MAP_FAILED)
		return;
	memcpy(a, a + kps, one);
	mprotect(a, kps, PROT_READ | PROT_WRITE);
	b = mremap(a, kps, kps, MREMAP_MAYMOVE | MREMAP_FIXED, a + kps);
	if (b == MAP_FAILED)
		errno = 0;
	munmap(a, 2 * kps);
}

/* Map @v again from the same file in the mount if the bytes are equal. */
static int remap(const struct selfmap *m, const struct vma *v)
{
	size_t len = v->end - v->start;
	struct xipfs_ino ino;
	struct stat old, st;
	char mf[64];
	void *p;
	int fd, err = 0;

	snprintf(mf, sizeof(mf), "/proc/self/map_files/%" PRIxPTR "-%" PRIxPTR, v->start, v->end);
	if (stat(mf, &old) < 0)
		return -errno;
	fd = openat(m->root, v->path + m->dirlen + 1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != old.st_size) {
		err = -ESTALE;
		goto out;
	}
	/* FUSE inode numbers are the image's. */
	if (!__atomic_load_n(&m->s->xip_active, __ATOMIC_ACQUIRE) || st.st_ino > UINT32_MAX ||
	    xipfs_inode_get(m->s->img, (uint32_t)st.st_ino, &ino) || !xip_backed(m->s, &ino)) {
		err = -ENOTSUP;
		goto out;
	}
	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, (off_t)v->off);
	if (p == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	err = memcmp(p, (void *)v->start, len) ? -ESTALE : 0;
	munmap(p, len);
	if (!err && mmap((void *)v->start, len, v->prot, MAP_PRIVATE | MAP_FIXED, fd,
			 (off_t)v->off) == MAP_FAILED)
		err = -errno;
out:
	close(fd);
	return err;
}

static void *remap_thread(void *arg)
{
	struct selfmap *m = arg;
	size_t done = 0, kept = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct vma *v = &m->v[i];
		int err;

		if (v->anon || v->shared || !(v->prot & PROT_READ))
			continue;
		err = remap(m, v);
		if (err) {
			kept++;
			xipfs_log(XIPFS_LOG_WARN, "selfmap: %s at %#" PRIxPTR " stays mapped from that file: %s",
				  v->path, v->start,
				  err == -ESTALE ? "the mount has other bytes there" :
				  err == -ENOTSUP ? "not mapped in place (no XIP): its page faults would wait for this daemon" :
				  strerror(-err));
		} else {
			done++;
		}
	}
	if (m->exe) {
		int fd = openat(m->root, m->exe + m->dirlen + 1, O_RDONLY | O_CLOEXEC);

		/* /proc/PID/exe holds the program's file too. */
		if (fd < 0 || prctl(PR_SET_MM, PR_SET_MM_EXE_FILE, fd, 0, 0) < 0)
			xipfs_log(XIPFS_LOG_WARN, "selfmap: /proc/self/exe stays %s: %s", m->exe,
				  strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	xipfs_log(XIPFS_LOG_INFO, "selfmap: %zu mappings now from the mount, %zu kept", done, kept);
	close(m->root);
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	free(m->exe);
	free(m);
	return NULL;
}

int selfmap_start(struct xipfs_state *s, const char *dir, const char *mnt)
{
	struct selfmap *m = calloc(1, sizeof(*m));
	char exe[PATH_MAX];
	size_t anon = 0;
	pthread_t t;
	ssize_t l;
	int err, *res;

	if (!m)
		return -ENOMEM;
	m->s = s;
	m->root = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (m->root < 0) {
		err = -errno;
		free(m);
		return err;
	}
	err = read_maps(dir, m);
	l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (!err && l > 0) {
		exe[l] = '\0';
		if (!strncmp(exe, dir, m->dirlen) && exe[m->dirlen] == '/')
			m->exe = strdup(exe);
	}
	res = calloc(m->n + 1, sizeof(*res));
	if (err || !res) {
		free(res);
		m->n = 0;
		remap_thread(m);
		return err ? err : -ENOMEM;
	}
	/* Nothing but to_anon() from here to the end of the loop. */
	bind_now();
	for (size_t i = 0; i < m->n; i++) {
		struct vma *v = &m->v[i];

		if (v->shared)
			continue;
		if ((v->prot & PROT_WRITE) || v->anon || !(v->prot & PROT_READ)) {
			res[i] = to_anon(v);
			v->anon = true;		/* not the thread's */
			anon += v->end - v->start;
		}
	}
	for (size_t i = 0; i < m->n; i++) {
		if (res[i])
			xipfs_log(XIPFS_LOG_WARN, "selfmap: %s at %#" PRIxPTR ": cannot copy: %s",
				  m->v[i].path, m->v[i].start, strerror(-res[i]));
	}
	free(res);
	xipfs_log(XIPFS_LOG_INFO, "selfmap: %zu bytes of %s's files copied to anonymous memory",
		  anon, dir);
	err = pthread_create(&t, NULL, remap_thread, m);
	if (err) {
		m->n = 0;
		remap_thread(m);
		return -err;
	}
	pthread_detach(t);
	return 0;
}
