// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest test driver for the hardening of xipmap.ko (run as root inside a
 * test guest, with the module loaded).
 *
 *   xipmap-harden lifetime KO ROUNDS
 *	the module stays loaded while a backing file, an O_PATH descriptor
 *	of one, or a mapping exists, and unloads once they are gone; then
 *	ROUNDS rounds of a child closing backing files while the parent
 *	unloads the module (reloaded from KO after each round)
 *   xipmap-harden immutable
 *	a backing file cannot be truncated, chmod'ed, chown'ed or written
 *	through /proc/self/fd/N, nor mapped executable or exec'ed itself;
 *	the ioctls check the opener's capabilities; ATTACH wants a
 *	descriptor open for reading
 *   xipmap-harden pins
 *	attaching a memfd pins every segment folio (nr_foll_pin_acquired),
 *	compaction and move_pages() leave a mapped backing file's bytes and
 *	frames alone, and detaching unpins them all; threads attaching one
 *	memfd at once each get the whole segment
 *   xipmap-harden writepin
 *	a /dev/shm file with a long-term writable pin (io_uring fixed
 *	buffer) is refused, and accepted once the pin is gone
 *   xipmap-harden cow FILE
 *	ivshmem segment FILE (the host file behind the BAR): A writes a page
 *	of a private mapping and forks B; A, as B's tracer, pokes B at that
 *	page, at a page never written and in a read-only mapping, and writes
 *	B's /proc/PID/mem there (as gdb does); A's bytes and the segment stay
 *	as they were, B sees the writes
 *   xipmap-harden cowrace FILE ROUNDS
 *	as cow, while a thread of B writes the page the tracer pokes (and
 *	forks, so the page is shared again, and drops it back to the
 *	segment): ROUNDS pokes, B never loses a write of its own, A's pages
 *	and the segment never change
 *   xipmap-harden procmem FILE
 *	/proc/PID/mem writes into private mappings of ivshmem segment FILE
 *	by a process that is not the target's tracer: refused in a read-only
 *	mapping when proc_mem.force_override=never (as for any file), a
 *	private copy in a writable one
 *   xipmap-harden hotremove FILE
 *	remove the ivshmem device of FILE while processes fault, COW, read
 *	and read through /proc/self/mem: they get SIGBUS or EIO; after a PCI
 *	rescan the segment attaches again with the same bytes
 *
 * Each failed check prints "FAIL: ..." and the exit status is 1; 0 = all
 * checks passed, 77 = something needed is missing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "xipfs/xipmap.h"
#include "pagemap.h"
#include "xipmap-util.h"

#define PG	4096UL

static int failures;

static void say(int ok, const char *fmt, ...)
{
	va_list ap;

	fputs(ok ? "ok: " : "FAIL: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	if (!ok)
		failures++;
}

/* A call that must fail (-1): say which errno it gave. */
static void must_fail(int ret, const char *what)
{
	if (ret != -1)
		say(0, "%s: succeeded", what);
	else
		say(1, "%s refused (%s)", what, strerror(errno));
}

static int open_dev(void)
{
	int fd = open("/dev/xipmap", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		perror("/dev/xipmap");
		exit(1);
	}
	return fd;
}

/* A backing file of segment pages first, first + 1, ... (n of them). */
static int create_run(int dev, int seg, uint64_t first, uint64_t n)
{
	uint64_t pages[64];

	for (uint64_t i = 0; i < n && i < 64; i++)
		pages[i] = first + i;
	return create_file(dev, seg, pages, n, n * PG);
}

/* Byte @off of memfd segment page @pg. */
static unsigned char pat(unsigned long pg, unsigned long off)
{
	return (unsigned char)(pg * 37 + off * 7 + 1);
}

static int check_pat(const unsigned char *p, unsigned long first,
		     unsigned long n)
{
	for (unsigned long i = 0; i < n * PG; i++)
		if (p[i] != pat(first + i / PG, i % PG))
			return 0;
	return 1;
}

/*
 * A sealed memfd of @n pattern pages after page 0 (index 0 means a hole in
 * a page list), reopened read-only.
 */
static int memfd_segment(unsigned long n)
{
	int fd = memfd_create("xipmap-harden", MFD_ALLOW_SEALING), ro;
	unsigned char *p;

	n++;
	p = map_new_segment(fd, n * PG);
	for (unsigned long i = 0; i < n * PG; i++)
		p[i] = pat(i / PG, i % PG);
	munmap(p, n * PG);
	seal_memfd(fd);
	ro = reopen(fd, O_RDONLY | O_CLOEXEC);
	close(fd);
	return ro;
}

/* ---- lifetime ---- */

static int unload(void)
{
	return syscall(SYS_delete_module, "xipmap", O_NONBLOCK);
}

static void load(const char *ko)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) < 0) {
		printf("FAIL: cannot load %s again: %s\n", ko, strerror(errno));
		exit(1);
	}
	close(fd);
}

/* A 4-page backing file; nothing else of the module stays open. */
static int lone_backing_file(void)
{
	int dev = open("/dev/xipmap", O_RDWR | O_CLOEXEC);
	int mfd, seg, fd;

	if (dev < 0)
		return -1;
	mfd = memfd_segment(4);
	seg = attach_fd(dev, mfd, NULL);
	fd = seg < 0 ? -1 : create_run(dev, seg, 1, 4);
	close(seg);
	close(mfd);
	close(dev);
	return fd;
}

static void test_lifetime(const char *ko, int rounds)
{
	static const char *const what[] = {
		"a backing file descriptor", "an O_PATH descriptor of one",
		"a mapping of one",
	};
	int done = 0;

	for (int i = 0; i < 3; i++) {
		int fd = lone_backing_file(), keep = -1;
		unsigned char *m = MAP_FAILED;

		if (fd < 0) {
			say(0, "make a backing file: %s", strerror(errno));
			return;
		}
		if (i == 0) {
			keep = fd;
		} else if (i == 1) {
			keep = reopen(fd, O_PATH | O_CLOEXEC);
			close(fd);
		} else {
			m = mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
			close(fd);
		}
		if (unload() == 0) {
			say(0, "the module unloaded while %s was left", what[i]);
			/* Without the fix, this is the use after free. */
			if (keep >= 0)
				close(keep);
			if (m != MAP_FAILED)
				munmap(m, 4 * PG);
			load(ko);
			continue;
		}
		say(errno == EWOULDBLOCK || errno == EBUSY,
		    "unloading with only %s left: %s", what[i], strerror(errno));
		if (m != MAP_FAILED) {
			say(check_pat(m, 1, 4), "the mapping still reads right");
			munmap(m, 4 * PG);
		}
		if (keep >= 0)
			close(keep);
		if (unload() < 0) {
			say(0, "unloading once %s is gone: %s", what[i],
			    strerror(errno));
			return;
		}
		say(1, "the module unloads once %s is gone", what[i]);
		load(ko);
	}

	/* Last closes racing the unload. */
	for (int r = 0; r < rounds; r++) {
		pid_t pid = fork();
		int st, busy = 0;

		if (pid == 0) {
			for (;;) {
				int fd = lone_backing_file();
				unsigned char *m;

				if (fd < 0)
					_exit(0);
				m = mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED,
					 fd, 0);
				if (m == MAP_FAILED || !check_pat(m, 1, 4))
					_exit(2);
				munmap(m, 4 * PG);
				close(fd);
			}
		}
		while (unload() < 0) {
			if (errno != EWOULDBLOCK && errno != EBUSY) {
				say(0, "round %d: unload: %s", r, strerror(errno));
				break;
			}
			busy++;
		}
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			say(0, "round %d: the closing child ended with status %#x",
			    r, st);
			break;
		}
		if (busy)
			done++;
		load(ko);
	}
	say(done > 0, "%d rounds of last closes racing the unload (%d raced)",
	    rounds, done);
}

/* ---- immutable ---- */

static int capset_admin(int on)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	if (on)
		d[0].effective |= 1U << CAP_SYS_ADMIN;
	else
		d[0].effective &= ~(1U << CAP_SYS_ADMIN);
	return syscall(SYS_capset, &h, d);
}

static void test_immutable(void)
{
	int dev = open_dev(), mfd = memfd_segment(4), seg, fd, t, w;
	unsigned char buf[4 * PG];
	char path[64];
	struct stat st;

	seg = attach_fd(dev, mfd, NULL);
	fd = seg < 0 ? -1 : create_run(dev, seg, 1, 4);
	if (fd < 0) {
		say(0, "make a backing file: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	must_fail(truncate(path, PG), "truncate through /proc/self/fd/N");
	must_fail(truncate(path, 64 * PG), "growing truncate through /proc/self/fd/N");
	t = open(path, O_RDONLY | O_TRUNC);
	must_fail(t < 0 ? -1 : 0, "open O_TRUNC through /proc/self/fd/N");
	if (t >= 0)
		close(t);
	w = open(path, O_RDWR);
	must_fail(w < 0 ? -1 : 0, "open for writing through /proc/self/fd/N");
	if (w >= 0)
		close(w);
	must_fail(chmod(path, 06777), "chmod through /proc/self/fd/N");
	must_fail(fchmod(fd, 06777), "fchmod of the backing file");
	must_fail(chown(path, 1, 1), "chown through /proc/self/fd/N");
	must_fail(utimensat(AT_FDCWD, path, NULL, 0),
		  "utimensat through /proc/self/fd/N");
	must_fail(setxattr(path, "user.x", "1", 1, 0),
		  "setxattr through /proc/self/fd/N");
	if (fstat(fd, &st) == 0)
		say(st.st_size == 4 * PG && (st.st_mode & 07777) == 0555,
		    "size %lld and mode %o unchanged", (long long)st.st_size,
		    st.st_mode & 07777);
	else
		say(0, "fstat: %s", strerror(errno));
	say(pread(fd, buf, sizeof(buf), 0) == sizeof(buf) &&
	    check_pat(buf, 1, 4), "the backing file reads right");

	/* The pseudo file system is noexec: only the FUSE mount decides. */
	{
		void *x = mmap(NULL, PG, PROT_READ | PROT_EXEC, MAP_PRIVATE,
			       fd, 0);
		pid_t pid;
		int stx = 0;

		must_fail(x == MAP_FAILED ? -1 : 0,
			  "mmap PROT_EXEC of the backing file itself");
		if (x != MAP_FAILED)
			munmap(x, PG);
		pid = fork();
		if (pid == 0) {
			char *argv[] = { "x", NULL }, *envp[] = { NULL };

			syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
			_exit(errno == EACCES ? 3 : 4);
		}
		waitpid(pid, &stx, 0);
		say(WIFEXITED(stx) && WEXITSTATUS(stx) == 3,
		    "execveat of the backing file itself refused (status %#x)",
		    stx);
	}

	/* Capabilities are those of the opener of /dev/xipmap. */
	{
		struct xipmap_version v;
		int weak;

		if (capset_admin(0) < 0) {
			say(0, "capset: %s", strerror(errno));
		} else {
			weak = open("/dev/xipmap", O_RDWR | O_CLOEXEC);
			if (capset_admin(1) < 0) {
				perror("capset");
				exit(1);
			}
			must_fail(weak < 0 ? 0 :
				  ioctl(weak, XIPMAP_IOC_VERSION, &v),
				  "ioctl on /dev/xipmap opened without CAP_SYS_ADMIN");
			if (weak >= 0)
				close(weak);
			say(ioctl(dev, XIPMAP_IOC_VERSION, &v) == 0,
			    "the same ioctl on a descriptor opened with it");
		}
	}

	/* ATTACH reads the segment: the descriptor must allow reading. */
	{
		int wo, s2;

		wo = reopen(mfd, O_WRONLY | O_CLOEXEC);
		if (wo < 0) {
			say(0, "reopen the memfd write-only: %s", strerror(errno));
		} else {
			s2 = attach_fd(dev, wo, NULL);
			must_fail(s2 < 0 ? -1 : 0,
				  "ATTACH of a write-only segment descriptor");
			if (s2 >= 0)
				close(s2);
			close(wo);
		}
	}
	close(fd);
	close(seg);
	close(mfd);
	close(dev);
}

/* ---- pins ---- */

static long long vmstat(const char *name)
{
	char line[128];
	size_t n = strlen(name);
	long long v = -1;
	FILE *f;

	/* Fold the per-CPU counter deltas in first. */
	f = fopen("/proc/sys/vm/stat_refresh", "w");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ' ')
			v = atoll(line + n + 1);
	fclose(f);
	return v;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

#define PIN_PAGES 64

/*
 * Threads attaching one memfd at once, while the first of them still pins
 * it, must each get the whole segment: its size, and its last page's bytes
 * through the handle, never a segment half pinned.
 */
#define RACE_PAGES	4096
#define RACERS		4

static pthread_barrier_t race_go;

struct racer {
	int dev, mfd, ok;
	uint64_t size;
};

static void *attach_racer(void *arg)
{
	struct racer *r = arg;
	unsigned char buf[PG];
	int seg;

	pthread_barrier_wait(&race_go);
	seg = attach_fd(r->dev, r->mfd, &r->size);
	r->ok = seg >= 0 && r->size == (RACE_PAGES + 1) * PG &&
		pread(seg, buf, PG, RACE_PAGES * PG) == (ssize_t)PG &&
		check_pat(buf, RACE_PAGES, 1);
	if (seg >= 0)
		close(seg);
	return NULL;
}

static void test_attach_race(void)
{
	int dev = open_dev(), whole = 0;

	for (int round = 0; round < 3; round++) {
		struct racer r[RACERS];
		pthread_t t[RACERS];
		int mfd = memfd_segment(RACE_PAGES);

		pthread_barrier_init(&race_go, NULL, RACERS);
		for (int i = 0; i < RACERS; i++) {
			r[i] = (struct racer){ .dev = dev, .mfd = mfd };
			pthread_create(&t[i], NULL, attach_racer, &r[i]);
		}
		for (int i = 0; i < RACERS; i++) {
			pthread_join(t[i], NULL);
			whole += r[i].ok;
		}
		pthread_barrier_destroy(&race_go);
		close(mfd);
	}
	close(dev);
	say(whole == 3 * RACERS,
	    "%d of %d racing attaches of a memfd got the whole segment", whole,
	    3 * RACERS);
}

static void test_pins(void)
{
	long long a0, a1, r0, r1;
	int dev = open_dev(), mfd, seg, fd, nodes = 0;
	uint64_t before[PIN_PAGES];
	unsigned char *m;
	DIR *d;
	struct dirent *e;

	a0 = vmstat("nr_foll_pin_acquired");
	if (a0 < 0) {
		say(0, "no nr_foll_pin_* in /proc/vmstat");
		return;
	}
	mfd = memfd_segment(PIN_PAGES);
	seg = attach_fd(dev, mfd, NULL);
	a1 = vmstat("nr_foll_pin_acquired");
	/* No output in between: 9p pins the pages of what it writes. */
	say(seg >= 0 && a1 - a0 == PIN_PAGES + 1,
	    "attach pinned %lld folios of a %d-page memfd", a1 - a0,
	    PIN_PAGES + 1);
	fd = seg < 0 ? -1 : create_run(dev, seg, 1, PIN_PAGES);
	m = fd < 0 ? MAP_FAILED :
		mmap(NULL, PIN_PAGES * PG, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		say(0, "map a backing file: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < PIN_PAGES; i++)
		before[i] = pfn_of(m + i * PG);

	say(write_file("/proc/sys/vm/compact_memory", "1") == 0,
	    "compact_memory");
	d = opendir("/sys/devices/system/node");
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "node", 4) && e->d_name[4] >= '0' &&
		    e->d_name[4] <= '9')
			nodes++;
	if (d)
		closedir(d);
	if (nodes >= 2) {
		void *addr[PIN_PAGES];
		int node[PIN_PAGES], status[PIN_PAGES], moved = 0, cur[PIN_PAGES];
		long rc;

		for (int i = 0; i < PIN_PAGES; i++)
			addr[i] = m + i * PG;
		syscall(SYS_move_pages, 0, PIN_PAGES, addr, NULL, cur, 0);
		for (int i = 0; i < PIN_PAGES; i++)
			node[i] = cur[i] == 0 ? 1 : 0;
		rc = syscall(SYS_move_pages, 0, PIN_PAGES, addr, node, status,
			     1 << 1 /* MPOL_MF_MOVE */);
		for (int i = 0; i < PIN_PAGES; i++)
			moved += status[i] == node[i];
		printf("move_pages to the other node: %ld (%s), %d of %d pages moved, first status %d\n",
		       rc, rc < 0 ? strerror(errno) : "ok", moved, PIN_PAGES,
		       status[0]);
		say(moved == 0, "move_pages() left the pinned pages where they were");
	} else {
		say(0, "the guest has %d NUMA nodes, need 2 for move_pages()",
		    nodes);
	}
	{
		int same = 0;

		for (int i = 0; i < PIN_PAGES; i++)
			same += pfn_of(m + i * PG) == before[i] && before[i];
		say(same == PIN_PAGES, "%d of %d page frames unchanged", same,
		    PIN_PAGES);
	}
	say(check_pat(m, 1, PIN_PAGES), "the mapping reads right after compaction and move_pages()");
	r0 = vmstat("nr_foll_pin_released");
	munmap(m, PIN_PAGES * PG);
	close(fd);
	close(seg);
	close(mfd);
	r1 = vmstat("nr_foll_pin_released");
	close(dev);
	say(r1 - r0 == a1 - a0, "detaching unpinned %lld folios", r1 - r0);
	test_attach_race();
}

/* ---- writepin ---- */

static void test_writepin(void)
{
	struct io_uring_params p = { 0 };
	int dev = open_dev(), fd, ro, ring, seg;
	unsigned char *m;
	struct iovec iov;
	char path[64];

	snprintf(path, sizeof(path), "/dev/shm/xipmap-harden.%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 4 * PG) < 0) {
		perror(path);
		exit(77);
	}
	m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ring = syscall(SYS_io_uring_setup, 1, &p);
	if (m == MAP_FAILED || ring < 0) {
		printf("SKIP: io_uring: %s\n", strerror(errno));
		unlink(path);
		exit(77);
	}
	for (unsigned long i = 0; i < 4 * PG; i++)
		m[i] = pat(i / PG, i % PG);
	iov.iov_base = m;
	iov.iov_len = 4 * PG;
	if (syscall(SYS_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		    &iov, 1) < 0) {
		say(0, "io_uring fixed buffer on a /dev/shm mapping: %s",
		    strerror(errno));
		unlink(path);
		return;
	}
	/* The pin outlives the mapping and every writable descriptor. */
	munmap(m, 4 * PG);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	close(fd);
	unlink(path);
	seg = attach_fd(dev, ro, NULL);
	must_fail(seg < 0 ? -1 : 0,
		  "ATTACH of a /dev/shm file with a long-term writable pin");
	if (seg >= 0)
		close(seg);
	if (syscall(SYS_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
		    NULL, 0) < 0)
		say(0, "unregister the fixed buffer: %s", strerror(errno));
	seg = attach_fd(dev, ro, NULL);
	say(seg >= 0, "the same file attaches once the pin is gone%s%s",
	    seg < 0 ? ": " : "", seg < 0 ? strerror(errno) : "");
	if (seg >= 0)
		close(seg);
	close(ring);
	close(ro);
	close(dev);
}

/* ---- ivshmem ---- */

static int host_fd = -1;

/* Attach the ivshmem segment whose superblock UUID is @path's. */
static int attach_bar(int dev, const char *path, uint64_t *size)
{
	struct xipmap_attach a = { .kind = XIPMAP_SEG_IVSHMEM };

	if (read_uuid(path, a.uuid))
		exit(77);
	if (host_fd < 0)
		host_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (host_fd < 0) {
		perror(path);
		exit(77);
	}
	if (ioctl(dev, XIPMAP_IOC_ATTACH, &a) < 0)
		return -1;
	if (size)
		*size = a.size;
	return a.seg_fd;
}

/* Host file bytes of segment page @pg. */
static void host_page(unsigned long pg, unsigned char *buf)
{
	if (pread(host_fd, buf, PG, pg * PG) != (ssize_t)PG) {
		perror("read the host segment file");
		exit(1);
	}
}

static int same_as_host(const unsigned char *p, unsigned long pg)
{
	unsigned char want[PG];

	host_page(pg, want);
	return !memcmp(p, want, PG);
}

#define COW_FIRST 1	/* backing file page i = segment page COW_FIRST + i */

/*
 * Attach ivshmem segment @file, make a 4-page backing file of it and map it
 * private twice: *@m writable, *@r read-only.  0, or -1 after a FAIL.
 */
static int map_private_pair(int dev, const char *file, int *seg, int *fd,
			    unsigned char **m, unsigned char **r)
{
	*seg = attach_bar(dev, file, NULL);
	*fd = *seg < 0 ? -1 : create_run(dev, *seg, COW_FIRST, 4);
	if (*fd < 0) {
		say(0, "attach and create on ivshmem: %s", strerror(errno));
		return -1;
	}
	*m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, *fd, 0);
	*r = mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE, *fd, 0);
	if (*m == MAP_FAILED || *r == MAP_FAILED) {
		say(0, "map the backing file: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void test_cow(const char *file)
{
	int dev = open_dev(), seg, fd, st;
	unsigned char *m, *r, mine[PG], seen[PG];
	const long x = 0x1122334455667788L, y = 0x0102030405060708L,
		z = 0x7766554433221100L;
	pid_t pid;

	if (map_private_pair(dev, file, &seg, &fd, &m, &r))
		return;
	say(same_as_host(m, COW_FIRST) && same_as_host(r + 2 * PG, COW_FIRST + 2),
	    "private mappings read the segment");
	(void)*(volatile unsigned char *)(r + 2 * PG);
	memset(m, 0xa1, PG);		/* A's own copy of page 0 */
	memcpy(mine, m, PG);

	pid = fork();
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		/* B: the pokes, and nothing else, changed its pages. */
		memcpy(seen, mine, PG);
		memcpy(seen, &x, sizeof(x));
		if (memcmp(m, seen, PG))
			_exit(10);
		host_page(COW_FIRST + 1, seen);
		memcpy(seen, &y, sizeof(y));
		if (memcmp(m + PG, seen, PG))
			_exit(11);
		host_page(COW_FIRST + 2, seen);
		memcpy(seen, &z, sizeof(z));
		if (memcmp(r + 2 * PG, seen, PG))
			_exit(12);
		host_page(COW_FIRST + 3, seen);
		memcpy(seen, &z, sizeof(z));
		if (memcmp(r + 3 * PG, seen, PG))
			_exit(13);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	if (!WIFSTOPPED(st)) {
		say(0, "the child did not stop for its tracer");
		return;
	}
	say(ptrace(PTRACE_POKEDATA, pid, m, (void *)x) == 0,
	    "poke B at the page A wrote before fork");
	say(ptrace(PTRACE_POKEDATA, pid, m + PG, (void *)y) == 0,
	    "poke B at a page never written");
	say(ptrace(PTRACE_POKEDATA, pid, r + 2 * PG, (void *)z) == 0,
	    "poke B in a read-only private mapping");
	errno = 0;
	say(ptrace(PTRACE_PEEKDATA, pid, m, NULL) == x && !errno,
	    "peek B reads the first poke back");
	{
		/*
		 * The tracer's /proc/PID/mem write into read-only text, as gdb
		 * does: allowed (the module cannot see force_override).
		 */
		char path[64];
		int mem;
		ssize_t n = -1;

		snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
		mem = open(path, O_RDWR | O_CLOEXEC);
		if (mem >= 0) {
			n = pwrite(mem, &z, sizeof(z),
				   (off_t)(uintptr_t)(r + 3 * PG));
			close(mem);
		}
		say(n == sizeof(z), "the tracer's /proc/PID/mem write into B's read-only mapping");
		say(same_as_host(r + 3 * PG, COW_FIRST + 3),
		    "and A's same page still maps the segment");
	}
	say(!memcmp(m, mine, PG), "A's written page is unchanged");
	say(same_as_host(m + PG, COW_FIRST + 1) &&
	    same_as_host(r + 2 * PG, COW_FIRST + 2),
	    "A's pages never written still map the segment");
	{
		unsigned char s[PG];

		say(pread(seg, s, PG, (COW_FIRST + 1) * PG) == (ssize_t)PG &&
		    same_as_host(s, COW_FIRST + 1) &&
		    pread(seg, s, PG, COW_FIRST * PG) == (ssize_t)PG &&
		    same_as_host(s, COW_FIRST),
		    "the segment is unchanged");
	}
	ptrace(PTRACE_CONT, pid, NULL, NULL);
	waitpid(pid, &st, 0);
	say(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "B sees exactly the pokes (status %#x)", st);
	munmap(m, 4 * PG);
	munmap(r, 4 * PG);
	close(fd);
	close(seg);
	close(dev);
}

/* cowrace: B's writer thread; B's main thread sits in a ptrace stop. */
static volatile int cr_stop;
static unsigned char *cr_m;

static void *cr_writer(void *arg)
{
	volatile uint64_t *p = (volatile uint64_t *)(cr_m + PG + 2048);
	uint64_t c = 0;

	(void)arg;
	for (unsigned long i = 0; !cr_stop; i++) {
		if (i % 256 == 255) {
			/* Back to the segment's frame: the next write COWs. */
			madvise(cr_m + PG, PG, MADV_DONTNEED);
			c = 0;
		} else if (c && *p != c) {
			return (void *)1;	/* a write of ours was lost */
		}
		*p = ++c;
		if (i % 64 == 63) {
			/* Share the page with a child again for a while. */
			pid_t k = fork();

			if (k == 0)
				_exit(0);
			waitpid(k, NULL, 0);
		}
	}
	return NULL;
}

static void test_cowrace(const char *file, int rounds)
{
	int dev = open_dev(), seg, fd, st, failed = 0;
	unsigned char *m, *r, mine[PG];
	pid_t pid;

	if (map_private_pair(dev, file, &seg, &fd, &m, &r))
		return;
	memset(m, 0xa1, PG);
	memcpy(mine, m, PG);
	cr_m = m;
	pid = fork();
	if (pid == 0) {
		pthread_t t;
		void *res = NULL;

		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		if (pthread_create(&t, NULL, cr_writer, NULL))
			_exit(9);
		raise(SIGSTOP);
		pthread_join(t, &res);
		_exit(res ? 10 : 0);
	}
	waitpid(pid, &st, 0);
	if (!WIFSTOPPED(st)) {
		say(0, "the child did not stop for its tracer");
		return;
	}
	for (int i = 1; i <= rounds; i++) {
		for (int k = 0; k < 3; k++)
			if (ptrace(PTRACE_POKEDATA, pid, m + k * PG,
				   (void *)(long)i) < 0 && !failed++)
				say(0, "poke %d at page %d: %s", i, k,
				    strerror(errno));
	}
	say(!failed, "%d rounds of pokes at 3 pages (%d failed)", rounds,
	    failed);
	if (ptrace(PTRACE_POKEDATA, pid, &cr_stop, (void *)1L) < 0)
		say(0, "poke the stop flag: %s", strerror(errno));
	ptrace(PTRACE_CONT, pid, NULL, NULL);
	waitpid(pid, &st, 0);
	say(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "B's writer thread never lost a write (status %#x)", st);
	say(!memcmp(m, mine, PG), "A's written page is unchanged");
	say(same_as_host(m + PG, COW_FIRST + 1) &&
	    same_as_host(m + 2 * PG, COW_FIRST + 2),
	    "A's other pages still map the segment");
	{
		unsigned char sp[PG];
		int ok = 1;

		for (int k = 0; k < 3; k++)
			ok &= pread(seg, sp, PG, (COW_FIRST + k) * PG) ==
				(ssize_t)PG && same_as_host(sp, COW_FIRST + k);
		say(ok, "the segment is unchanged");
	}
	close(fd);
	close(seg);
	close(dev);
}

static void test_procmem(const char *file)
{
	int dev = open_dev(), seg, fd, pfd[2], mem, never;
	unsigned char *m, *r, s[PG];
	char path[64], cmdline[4096] = "";
	const long x = 0x5a5a5a5a5a5a5a5aL;
	ssize_t n;
	pid_t pid;
	FILE *f;

	f = fopen("/proc/cmdline", "r");
	if (f) {
		if (!fgets(cmdline, sizeof(cmdline), f))
			cmdline[0] = 0;
		fclose(f);
	}
	never = strstr(cmdline, "proc_mem.force_override=never") != NULL;
	if (map_private_pair(dev, file, &seg, &fd, &m, &r))
		return;
	if (pipe(pfd) < 0) {
		perror("pipe");
		exit(1);
	}
	(void)*(volatile unsigned char *)m;
	(void)*(volatile unsigned char *)r;
	pid = fork();
	if (pid == 0) {
		char c;

		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			_exit(9);
		/* The writable mapping got the write, in a copy of its own. */
		memcpy(s, m, PG);
		if (memcmp(s, &x, sizeof(x)))
			_exit(10);
		host_page(COW_FIRST, s);
		_exit(memcmp(r, s, PG) ? 11 : 0);
	}
	close(pfd[0]);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDWR | O_CLOEXEC);
	if (mem < 0) {
		say(0, "%s: %s", path, strerror(errno));
		return;
	}
	n = pwrite(mem, &x, sizeof(x), (off_t)(uintptr_t)m);
	say(n == sizeof(x), "/proc/PID/mem write into a writable private mapping%s%s",
	    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
	n = pwrite(mem, &x, sizeof(x), (off_t)(uintptr_t)r);
	if (never)
		must_fail(n < 0 ? -1 : 0,
			  "/proc/PID/mem write into a read-only private mapping, proc_mem.force_override=never");
	else
		printf("note: proc_mem.force_override is not never: /proc/PID/mem write into a read-only mapping: %s\n",
		       n < 0 ? strerror(errno) : "written");
	close(mem);
	say(same_as_host(m, COW_FIRST) && same_as_host(r, COW_FIRST),
	    "the writer's own mappings are unchanged");
	say(pread(seg, s, PG, COW_FIRST * PG) == (ssize_t)PG &&
	    same_as_host(s, COW_FIRST), "the segment is unchanged");
	if (write(pfd[1], "g", 1) != 1)
		say(0, "wake the child");
	close(pfd[1]);
	{
		int st;

		waitpid(pid, &st, 0);
		say(WIFEXITED(st) && (WEXITSTATUS(st) == 0 ||
				      (!never && WEXITSTATUS(st) == 11)),
		    "the target sees the write where it was allowed, nowhere else (status %#x)",
		    st);
	}
	close(fd);
	close(seg);
	close(dev);
}

/* Whether PCI device @dev's sysfs attribute @attr starts with @want. */
static int pci_attr_is(const char *dev, const char *attr, const char *want)
{
	char p[300], v[32] = "";
	FILE *f;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/%s", dev, attr);
	f = fopen(p, "r");
	if (!f)
		return 0;
	if (!fgets(v, sizeof(v), f))
		v[0] = 0;
	fclose(f);
	return !strncmp(v, want, strlen(want));
}

/* The sysfs directory of the first ivshmem-plain device (1af4:1110). */
static int ivshmem_dev(char *out, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int found = 0;

	while (d && !found && (e = readdir(d))) {
		if (pci_attr_is(e->d_name, "vendor", "0x1af4") &&
		    pci_attr_is(e->d_name, "device", "0x1110")) {
			snprintf(out, len, "/sys/bus/pci/devices/%s", e->d_name);
			found = 1;
		}
	}
	if (d)
		closedir(d);
	return found ? 0 : -1;
}

#define HR_PAGES 32

static void test_hotremove(const char *file)
{
	int dev = open_dev(), seg, fd, ready[2];
	char sys[300], p[340];
	pid_t pids[4];
	const char *what[4] = {
		"a process faulting a mapping", "a process reading the backing file",
		"a process reading the segment handle",
		"a process reading its private mapping through /proc/self/mem and writing it",
	};
	const int want[4] = { 20, 21, 22, 23 };

	if (ivshmem_dev(sys, sizeof(sys)) < 0) {
		say(0, "no ivshmem device in /sys/bus/pci/devices");
		return;
	}
	seg = attach_bar(dev, file, NULL);
	fd = seg < 0 ? -1 : create_run(dev, seg, 1, HR_PAGES);
	if (fd < 0 || pipe(ready) < 0) {
		say(0, "attach and create on ivshmem: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			unsigned char buf[PG];
			unsigned char *m = NULL;
			struct sigaction sa = { .sa_handler = SIG_DFL };
			int self = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);

			sigaction(SIGBUS, &sa, NULL);
			if (i == 0)
				m = mmap(NULL, HR_PAGES * PG, PROT_READ, MAP_SHARED, fd, 0);
			else if (i == 3)
				m = mmap(NULL, HR_PAGES * PG, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE, fd, 0);
			if (m == MAP_FAILED || write(ready[1], "r", 1) != 1)
				_exit(2);
			for (unsigned long k = 0;; k++) {
				unsigned long pg = k % HR_PAGES;
				ssize_t n;

				/* Refault every page: zap, then touch. */
				if (m && pg == 0)
					madvise(m, HR_PAGES * PG, MADV_DONTNEED);
				if (i == 0) {
					memcpy(buf, m + pg * PG, PG);
				} else if (i == 3) {
					/* ->access reads it, then a COW fault. */
					n = pread(self, buf, PG,
						  (off_t)(uintptr_t)(m + pg * PG));
					if (n < 0)
						_exit(errno == EIO ? 23 : 3);
					if (n != (ssize_t)PG ||
					    !same_as_host(buf, pg + 1))
						_exit(5);
					m[pg * PG] ^= 1;
				} else {
					n = pread(i == 1 ? fd : seg, buf, PG,
						  (i == 1 ? pg : pg + 1) * PG);
					if (n < 0)
						_exit(errno == EIO ? 21 + (i - 1) : 3);
					if (n != (ssize_t)PG)
						_exit(4);
				}
				if (!same_as_host(buf, pg + 1))
					_exit(5);
			}
		}
	}
	for (int i = 0; i < 4; i++) {
		char c;

		if (read(ready[0], &c, 1) != 1)
			say(0, "a reader did not start");
	}
	usleep(300000);
	snprintf(p, sizeof(p), "%s/remove", sys);
	say(write_file(p, "1") == 0, "echo 1 > %s", p);
	for (int i = 0; i < 4; i++) {
		int st, bus, eio;

		waitpid(pids[i], &st, 0);
		bus = WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS;
		eio = WIFEXITED(st) && WEXITSTATUS(st) == want[i];
		/* The last one may be in either its read or its COW fault. */
		say(i == 0 ? bus : i == 3 ? bus || eio : eio,
		    "%s got %s (status %#x)", what[i],
		    i == 0 ? "SIGBUS" : i == 3 ? "SIGBUS or EIO" : "EIO", st);
	}
	{
		unsigned char buf[PG];

		must_fail(pread(fd, buf, PG, 0) < 0 ? -1 : 0,
			  "read of the backing file after the removal");
	}
	close(fd);
	close(seg);

	say(write_file("/sys/bus/pci/rescan", "1") == 0, "PCI rescan");
	seg = -1;
	for (int t = 0; t < 50 && seg < 0; t++) {
		seg = attach_bar(dev, file, NULL);
		if (seg < 0)
			usleep(100000);
	}
	say(seg >= 0, "the segment attaches again after the rescan");
	if (seg >= 0) {
		unsigned char *m;

		fd = create_run(dev, seg, 1, HR_PAGES);
		m = fd < 0 ? MAP_FAILED :
			mmap(NULL, HR_PAGES * PG, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			say(0, "map it again: %s", strerror(errno));
		} else {
			int ok = 1;

			for (int i = 0; i < HR_PAGES; i++)
				ok &= same_as_host(m + i * PG, i + 1);
			say(ok, "and maps the same bytes");
			munmap(m, HR_PAGES * PG);
		}
		if (fd >= 0)
			close(fd);
		close(seg);
	}
	close(dev);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: %s lifetime KO ROUNDS | immutable | pins | writepin | cow FILE | cowrace FILE ROUNDS | procmem FILE | hotremove FILE\n",
			argv[0]);
		return 2;
	}
	if (!strcmp(argv[1], "lifetime") && argc == 4)
		test_lifetime(argv[2], atoi(argv[3]));
	else if (!strcmp(argv[1], "immutable"))
		test_immutable();
	else if (!strcmp(argv[1], "pins"))
		test_pins();
	else if (!strcmp(argv[1], "writepin"))
		test_writepin();
	else if (!strcmp(argv[1], "cow") && argc == 3)
		test_cow(argv[2]);
	else if (!strcmp(argv[1], "cowrace") && argc == 4)
		test_cowrace(argv[2], atoi(argv[3]));
	else if (!strcmp(argv[1], "procmem") && argc == 3)
		test_procmem(argv[2]);
	else if (!strcmp(argv[1], "hotremove") && argc == 3)
		test_hotremove(argv[2]);
	else {
		fprintf(stderr, "%s: bad arguments\n", argv[0]);
		return 2;
	}
	printf("%s: %d failure(s)\n", argv[1], failures);
	return failures ? 1 : 0;
}
