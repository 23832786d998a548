// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest test driver for xipmap.ko (run as root inside a test guest).
 *
 *   xipmap-test memfd          functional checks on a sealed memfd segment
 *   xipmap-test shm            the same on a /dev/shm file (write-denied)
 *   xipmap-test hostile        bad arguments and callers: all refused
 *   xipmap-test ivshmem FILE [MARKER_PAGE]
 *                              attach the ivshmem BAR whose superblock UUID
 *                              is FILE's, compare a mapping with FILE; with
 *                              MARKER_PAGE, print "XIPMAP-READY" and wait
 *                              until that page's first byte changes (the
 *                              host writes FILE) through the mapping
 *
 * Each failed check prints "FAIL: ..." and the exit status is 1; 0 = all
 * checks passed, 77 = something needed is missing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xipfs/xipmap.h"
#include "pagemap.h"
#include "xipmap-util.h"

#define PG		4096UL
#define SEG_PAGES	16UL	/* pattern pages; the ELF follows them */

static int failures;
static int devfd = -1;

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("FAIL: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
	failures++;
}

static void check(int ok, const char *what)
{
	if (!ok)
		fail("%s", what);
	else
		printf("ok: %s\n", what);
}

/* An ioctl that must fail with @want. */
static void refused(int ret, int want, const char *what)
{
	if (ret == 0)
		fail("%s: accepted, expected %s", what, strerror(want));
	else if (errno != want)
		fail("%s: %s, expected %s", what, strerror(errno),
		     strerror(want));
	else
		printf("ok: %s refused (%s)\n", what, strerror(want));
}

/* Byte @off of pattern page @pg: never zero, distinct per page. */
static unsigned char pat(unsigned long pg, unsigned long off)
{
	return (unsigned char)(1 + ((pg * 31 + off * 7 + (off >> 8)) % 251));
}

static void fill_pattern(unsigned char *p, unsigned long pg)
{
	for (unsigned long i = 0; i < PG; i++)
		p[i] = pat(pg, i);
}

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

static int touch_sigbus(volatile const char *p)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	int got = 0;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1))
		got = 1;
	else
		(void)*p;
	sigaction(SIGBUS, &old, NULL);
	return got;
}

/* Make the segment: SEG_PAGES pattern pages then @elf_pages of /bin/true. */
static int make_segment(const char *kind, unsigned long *elf_pages,
			off_t *elf_size)
{
	int fd, efd;
	struct stat st;
	unsigned char *p;
	unsigned long total;

	efd = open("/bin/true", O_RDONLY);
	if (efd < 0 || fstat(efd, &st) < 0) {
		perror("/bin/true");
		exit(77);
	}
	*elf_size = st.st_size;
	*elf_pages = (st.st_size + PG - 1) / PG;
	total = SEG_PAGES + *elf_pages;

	if (!strcmp(kind, "memfd")) {
		fd = memfd_create("xipmap-test", MFD_ALLOW_SEALING);
	} else {
		char path[64];

		snprintf(path, sizeof(path), "/dev/shm/xipmap-test.%d",
			 (int)getpid());
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		unlink(path);
	}
	p = map_new_segment(fd, total * PG);
	for (unsigned long i = 0; i < SEG_PAGES; i++)
		fill_pattern(p + i * PG, i);
	if (pread(efd, p + SEG_PAGES * PG, st.st_size, 0) != st.st_size) {
		perror("read /bin/true");
		exit(1);
	}
	close(efd);
	munmap(p, total * PG);

	if (!strcmp(kind, "memfd")) {
		seal_memfd(fd);
	} else {
		/* The helper wants a read-only fd and no writers. */
		int ro = reopen(fd, O_RDONLY);

		close(fd);
		fd = ro;
	}
	return fd;
}

static void expect_page(const unsigned char *got, unsigned long seg_page,
			size_t len, const char *what)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char want = seg_page ? pat(seg_page, i) : 0;

		if (got[i] != want) {
			fail("%s: byte %zu is %u, expected %u", what, i, got[i],
			     want);
			return;
		}
	}
}

static void test_functional(const char *kind)
{
	/* file page -> segment page; 0 = hole */
	static const uint64_t pages[] = { 5, XIPMAP_HOLE, 3, 7 };
	const uint64_t size = 3 * PG + 100;
	unsigned long elf_pages;
	off_t elf_size;
	int seg, fd, fd2, one, sfd;
	uint64_t segsize;
	unsigned char *buf, *m, *m2, *own, *priv;
	char path[64];
	ssize_t n;

	sfd = make_segment(kind, &elf_pages, &elf_size);
	seg = attach_fd(devfd, sfd, &segsize);
	check(seg >= 0, "attach segment");
	if (seg < 0) {
		printf("attach: %s\n", strerror(errno));
		return;
	}
	check(segsize == (SEG_PAGES + elf_pages) * PG, "segment size reported");

	fd = create_file(devfd, seg, pages, 4, size);
	check(fd >= 0, "create backing file");
	if (fd < 0)
		return;

	/* stat and read() */
	{
		struct stat st;

		check(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		      st.st_size == (off_t)size && !(st.st_mode & 0222),
		      "backing file is a read-only regular file of the size");
	}
	buf = malloc(5 * PG);
	n = read(fd, buf, 5 * PG);
	check(n == (ssize_t)size, "read() returns the file size");
	expect_page(buf, 5, PG, "read page 0");
	expect_page(buf + PG, 0, PG, "read hole");
	expect_page(buf + 2 * PG, 3, PG, "read page 2");
	expect_page(buf + 3 * PG, 7, 100, "read tail");
	n = pread(fd, buf, 200, 3 * PG - 100);
	if (n != 200)
		printf("pread: %zd (%s)\n", n, strerror(errno));
	check(n == 200, "pread across a page boundary");
	expect_page(buf, 3, 0, "");
	for (int i = 0; i < 100; i++)
		if (buf[i] != pat(3, PG - 100 + i) || buf[100 + i] != pat(7, i)) {
			fail("pread content at %d", i);
			break;
		}
	check(pread(fd, buf, 10, size) == 0, "pread at EOF returns 0");
	check(lseek(fd, 2 * PG, SEEK_SET) == (off_t)(2 * PG) &&
	      read(fd, buf, PG) == (ssize_t)PG, "lseek and read");
	expect_page(buf, 3, PG, "read after lseek");
	check(lseek(fd, 0, SEEK_END) == (off_t)size, "SEEK_END is the size");

	/* splice through a pipe */
	{
		int pfd[2];
		loff_t off = 2 * PG;

		if (pipe(pfd) == 0) {
			n = splice(fd, &off, pfd[1], NULL, PG, 0);
			check(n == (ssize_t)PG && read(pfd[0], buf, PG) == (ssize_t)PG,
			      "splice_read");
			expect_page(buf, 3, PG, "splice content");
			close(pfd[0]);
			close(pfd[1]);
		}
	}

	/* write opens are refused (read-only fs), read-only reopen (FUSE passthrough) works */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fd2 = open(path, O_RDWR);
	refused(fd2 < 0 ? -1 : 0, EROFS, "reopen O_RDWR");
	if (fd2 >= 0)
		close(fd2);
	fd2 = open(path, O_RDONLY);
	check(fd2 >= 0, "reopen O_RDONLY by path");

	/* MAP_SHARED maps the segment's own frames */
	m = mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
	check(m != MAP_FAILED, "mmap MAP_SHARED");
	if (m == MAP_FAILED)
		return;
	expect_page(m, 5, PG, "mapping page 0");
	expect_page(m + PG, 0, PG, "mapping hole");
	expect_page(m + 2 * PG, 3, PG, "mapping page 2");
	expect_page(m + 3 * PG, 7, 100, "mapping tail");
	own = mmap(NULL, SEG_PAGES * PG, PROT_READ, MAP_SHARED, sfd, 0);
	m2 = fd2 >= 0 ? mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd2, 0) :
		MAP_FAILED;
	{
		uint64_t a = pfn_of(m), b = pfn_of(own + 5 * PG);
		uint64_t c = m2 != MAP_FAILED ? pfn_of(m2) : 1;

		printf("pfn: backing %#llx, segment %#llx, second map %#llx\n",
		       (unsigned long long)a, (unsigned long long)b,
		       (unsigned long long)c);
		check(a && a == b, "mapping reaches the segment's frame");
		check(a == c, "a second mapping reaches the same frame");
		check(pfn_of(m + 2 * PG) == pfn_of(own + 3 * PG),
		      "scattered page reaches its segment frame");
	}
	/* ... and so does another process */
	{
		int pfd[2];
		pid_t pid;
		uint64_t child = 0;

		pid = pipe(pfd) == 0 ? fork() : -1;
		if (pid == 0) {
			void *cm = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
			uint64_t v = cm == MAP_FAILED ? 0 : pfn_of(cm);

			if (write(pfd[1], &v, 8) != 8)
				_exit(1);
			_exit(0);
		}
		if (read(pfd[0], &child, 8) != 8)
			child = 0;
		while (wait(NULL) > 0)
			;
		check(child && child == pfn_of(own + 5 * PG),
		      "another process reaches the same frame");
	}

	/* ptrace-style reads: /proc/self/mem and process_vm_readv */
	{
		int mfd = open("/proc/self/mem", O_RDONLY);
		struct iovec l = { buf, PG }, r = { m + 2 * PG, PG };

		memset(buf, 0, PG);
		check(mfd >= 0 && pread(mfd, buf, PG, (uintptr_t)m) == (ssize_t)PG,
		      "/proc/self/mem read of the mapping");
		expect_page(buf, 5, PG, "/proc/self/mem content");
		if (mfd >= 0)
			close(mfd);
		memset(buf, 0, PG);
		check(process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)PG,
		      "process_vm_readv of the mapping");
		expect_page(buf, 3, PG, "process_vm_readv content");
	}

	/* shared mappings never become writable */
	m2 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	refused(m2 == MAP_FAILED ? -1 : 0, EACCES, "MAP_SHARED|PROT_WRITE");
	refused(mprotect(m, PG, PROT_READ | PROT_WRITE), EACCES,
		"mprotect(PROT_WRITE) on a shared mapping");

	/* COW: a private write changes only the writer's copy */
	priv = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	check(priv != MAP_FAILED, "mmap MAP_PRIVATE writable");
	if (priv != MAP_FAILED) {
		uint64_t before = pfn_of(priv);

		check(before == pfn_of(own + 5 * PG),
		      "private mapping shares the frame before a write");
		priv[10] ^= 0xff;
		priv[PG + 10] = 0x55;	/* hole */
		check(priv[10] == (unsigned char)(pat(5, 10) ^ 0xff),
		      "private write visible to the writer");
		check(m[10] == pat(5, 10) && own[5 * PG + 10] == pat(5, 10),
		      "private write leaves segment and shared map alone");
		check(m[PG + 10] == 0, "private write to a hole stays private");
		check(pfn_of(priv) != before, "private write got its own frame");
		munmap(priv, 4 * PG);
	}

	/* SIGBUS past EOF */
	{
		static const uint64_t one_page[] = { 9 };
		unsigned char *b;

		one = create_file(devfd, seg, one_page, 1, PG);
		b = one < 0 ? MAP_FAILED :
			mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, one, 0);
		check(b != MAP_FAILED, "map 2 pages of a 1-page file");
		if (b != MAP_FAILED) {
			check(!touch_sigbus((char *)b) && b[0] == pat(9, 0),
			      "page inside EOF reads");
			check(touch_sigbus((char *)b + PG),
			      "SIGBUS past EOF");
			munmap(b, 2 * PG);
		}
		if (one >= 0)
			close(one);
	}

	/*
	 * A backing file holding /bin/true cannot be run itself: the pseudo
	 * file system is noexec (programs run from the FUSE mount).
	 */
	{
		uint64_t *ep = calloc(elf_pages, 8);
		int efd;
		pid_t pid;
		int st = -1;

		for (unsigned long i = 0; i < elf_pages; i++)
			ep[i] = SEG_PAGES + i;
		efd = create_file(devfd, seg, ep, elf_pages, elf_size);
		check(efd >= 0, "create backing file of /bin/true");
		if (efd >= 0) {
			void *x = mmap(NULL, PG, PROT_READ | PROT_EXEC,
				       MAP_PRIVATE, efd, 0);

			refused(x == MAP_FAILED ? -1 : 0, EPERM,
				"mmap PROT_EXEC of the backing file");
			pid = fork();
			if (pid == 0) {
				char *argv[] = { "true", NULL };
				char *envp[] = { NULL };

				syscall(SYS_execveat, efd, "", argv, envp,
					AT_EMPTY_PATH);
				_exit(errno == EACCES ? 98 : 99);
			}
			waitpid(pid, &st, 0);
			check(WIFEXITED(st) && WEXITSTATUS(st) == 98,
			      "execveat of the backing file refused (EACCES)");
			close(efd);
		}
		free(ep);
	}

	munmap(m, 4 * PG);
	close(fd);
	close(seg);

	/* a shm segment is write-denied while attached, not after */
	if (!strcmp(kind, "shm")) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", sfd);
		fd2 = open(path, O_RDWR);
		refused(fd2 < 0 ? -1 : 0, ETXTBSY,
			"write open of an attached shm file (files still open)");
		if (fd2 >= 0)
			close(fd2);
	}
	close(sfd);
	free(buf);
}

/*
 * XIPMAP_CREATE_LINEAR: the run must lie in the segment (the same ERANGE
 * as a list entry outside it), and the file reads what a page list of the
 * same run reads, byte for byte.
 */
static void test_create_linear(int seg, uint64_t npages)
{
	struct xipmap_create c = { .seg_fd = seg, .flags = XIPMAP_CREATE_LINEAR };
	uint64_t list[3] = { 1, 2, 3 };
	int lin, lst;

	c.count = 1;
	c.size = PG;
	c.pages = npages;
	refused(ioctl(devfd, XIPMAP_IOC_CREATE, &c), ERANGE, "linear from the page past the end");
	c.count = 2;
	c.size = 2 * PG;
	c.pages = npages - 1;
	refused(ioctl(devfd, XIPMAP_IOC_CREATE, &c), ERANGE, "linear run one page too long");
	c.pages = ~0ULL;
	refused(ioctl(devfd, XIPMAP_IOC_CREATE, &c), ERANGE, "linear from page ~0");
	c.count = 0;
	c.size = 0;
	c.pages = 1;
	refused(ioctl(devfd, XIPMAP_IOC_CREATE, &c), EINVAL, "linear count 0");
	c.count = 3;
	c.size = 3 * PG - 100;
	c.pages = 1;
	lin = ioctl(devfd, XIPMAP_IOC_CREATE, &c) < 0 ? -1 : c.fd;
	check(lin >= 0, "linear create of pages 1..3");
	lst = create_file(devfd, seg, list, 3, 3 * PG - 100);
	check(lst >= 0, "list create of pages 1..3");
	if (lin >= 0 && lst >= 0) {
		static unsigned char a[3 * PG], b[3 * PG];
		ssize_t na = pread(lin, a, sizeof(a), 0);
		ssize_t nb = pread(lst, b, sizeof(b), 0);
		unsigned char *m = mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, lin, 0);

		check(na == 3 * PG - 100 && na == nb && !memcmp(a, b, na),
		      "linear file reads as the list file");
		check(m != MAP_FAILED && !memcmp(m, b, nb),
		      "linear file maps as the list file");
		if (m != MAP_FAILED)
			munmap(m, 3 * PG);
	}
	if (lin >= 0)
		close(lin);
	if (lst >= 0)
		close(lst);
}

static void test_hostile(void)
{
	static const uint64_t ok_pages[] = { 1, 2 };
	uint64_t pages[4];
	int seg, sfd, fd, m;
	unsigned long elf_pages;
	off_t elf_size;
	struct xipmap_attach a;
	struct xipmap_create c;
	uint64_t npages;

	/* attach */
	refused(attach_fd(devfd, -1, NULL), EBADF, "attach fd -1");
	refused(attach_fd(devfd, 12345, NULL), EBADF, "attach unopened fd");
	fd = open("/bin/sh", O_RDONLY);
	refused(attach_fd(devfd, fd, NULL), EINVAL, "attach a non-tmpfs file");
	close(fd);
	refused(attach_fd(devfd, devfd, NULL), EINVAL, "attach /dev/xipmap itself");

	m = memfd_create("unsealed", MFD_ALLOW_SEALING);
	if (ftruncate(m, 4 * PG) < 0)
		perror("ftruncate");
	refused(attach_fd(devfd, m, NULL), EPERM, "attach an unsealed memfd");
	fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
	refused(attach_fd(devfd, m, NULL), EPERM, "attach a memfd without F_SEAL_WRITE");
	close(m);
	m = memfd_create("unsealed", MFD_ALLOW_SEALING);
	if (ftruncate(m, 4 * PG) < 0)
		perror("ftruncate");
	fcntl(m, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK);
	refused(attach_fd(devfd, m, NULL), EPERM, "attach a memfd without F_SEAL_GROW");
	close(m);
	m = memfd_create("nosealing", 0);
	if (ftruncate(m, 4 * PG) < 0)
		perror("ftruncate");
	refused(attach_fd(devfd, m, NULL), ETXTBSY, "attach a writable unsealable memfd");
	close(m);
	{
		char path[64];
		int w, r;

		snprintf(path, sizeof(path), "/dev/shm/xipmap-hostile.%d",
			 (int)getpid());
		w = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (w < 0 || ftruncate(w, 4 * PG) < 0) {
			perror(path);
		} else {
			r = open(path, O_RDONLY);
			refused(attach_fd(devfd, r, NULL), ETXTBSY,
				"attach a shm file open for writing elsewhere");
			close(w);
			seg = attach_fd(devfd, r, NULL);
			check(seg >= 0, "attach the same shm file once writers are gone");
			w = open(path, O_RDWR);
			refused(w < 0 ? -1 : 0, ETXTBSY,
				"write open of an attached shm file");
			if (w >= 0)
				close(w);
			if (seg >= 0)
				close(seg);
			w = open(path, O_RDWR);
			check(w >= 0, "write open works again after detach");
			if (w >= 0) {
				/* a writable shared mapping, its fd closed */
				void *wm = mmap(NULL, PG, PROT_READ | PROT_WRITE,
						MAP_SHARED, w, 0);

				close(w);
				refused(attach_fd(devfd, r, NULL), ETXTBSY,
					"attach a shm file mapped writable");
				if (wm != MAP_FAILED)
					munmap(wm, PG);
			}
			close(r);
		}
		unlink(path);
	}
	memset(&a, 0, sizeof(a));
	a.kind = 99;
	refused(ioctl(devfd, XIPMAP_IOC_ATTACH, &a), EINVAL, "attach kind 99");
	sfd = make_segment("memfd", &elf_pages, &elf_size);
	a.kind = XIPMAP_SEG_FD;
	a.fd = sfd;
	a.flags = XIPMAP_ATTACH_EXISTING << 1;
	refused(ioctl(devfd, XIPMAP_IOC_ATTACH, &a), EINVAL, "attach an unknown flag");
	a.flags = XIPMAP_ATTACH_EXISTING;
	refused(ioctl(devfd, XIPMAP_IOC_ATTACH, &a), ENOENT,
		"attach EXISTING of a segment never attached");
	a.flags = 0;
	memset(&a, 0, sizeof(a));
	a.kind = XIPMAP_SEG_IVSHMEM;
	memset(a.uuid, 0xee, 16);
	refused(ioctl(devfd, XIPMAP_IOC_ATTACH, &a), ENOENT,
		"attach an unknown ivshmem UUID");
	refused(ioctl(devfd, XIPMAP_IOC_ATTACH, (void *)8), EFAULT,
		"attach with a bad pointer");

	/* create */
	seg = attach_fd(devfd, sfd, NULL);
	check(seg >= 0, "attach a sealed memfd");
	npages = SEG_PAGES + elf_pages;
	pages[0] = npages;
	refused(create_file(devfd, seg, pages, 1, PG), ERANGE, "index == segment pages");
	pages[0] = ~0ULL;
	refused(create_file(devfd, seg, pages, 1, PG), ERANGE, "index ~0");
	pages[0] = 1;
	pages[1] = 1ULL << 40;
	refused(create_file(devfd, seg, pages, 2, 2 * PG), ERANGE, "second index 2^40");
	refused(create_file(devfd, seg, ok_pages, 0, 0), EINVAL, "count 0");
	refused(create_file(devfd, seg, ok_pages, 0, PG), EINVAL, "count 0, size 1 page");
	refused(create_file(devfd, seg, ok_pages, 1ULL << 40, (1ULL << 40) * PG), EINVAL,
		"huge count");
	refused(create_file(devfd, seg, ok_pages, XIPMAP_MAX_PAGES + 1,
		       (XIPMAP_MAX_PAGES + 1) * PG), EINVAL, "count max+1");
	refused(create_file(devfd, seg, ok_pages, 1ULL << 61, ~0ULL), EINVAL,
		"count * 8 overflows");
	refused(create_file(devfd, seg, ok_pages, 2, 3 * PG), EINVAL,
		"size needs more pages than given");
	refused(create_file(devfd, seg, ok_pages, 2, PG), EINVAL,
		"size needs fewer pages than given");
	refused(create_file(devfd, seg, ok_pages, 2, 0), EINVAL, "size 0");
	refused(create_file(devfd, seg, (const uint64_t *)8, 2, 2 * PG), EFAULT,
		"bad page list pointer");
	refused(create_file(devfd, sfd, ok_pages, 2, 2 * PG), EINVAL,
		"seg_fd is not a segment handle");
	refused(create_file(devfd, -1, ok_pages, 2, 2 * PG), EBADF, "seg_fd -1");
	memset(&c, 0, sizeof(c));
	c.seg_fd = seg;
	c.size = 2 * PG;
	c.count = 2;
	c.pages = (uintptr_t)ok_pages;
	c.reserved = 1;
	refused(ioctl(devfd, XIPMAP_IOC_CREATE, &c), EINVAL, "create reserved 1");
	c.reserved = 0;
	c.flags = 4;
	refused(ioctl(devfd, XIPMAP_IOC_CREATE, &c), EINVAL, "create flags 4");
	test_create_linear(seg, npages);
	refused(ioctl(devfd, _IO(XIPMAP_IOC_MAGIC, 42)), ENOTTY,
		"unknown ioctl");
	fd = create_file(devfd, seg, ok_pages, 2, 2 * PG);
	check(fd >= 0, "a good create still works");
	/* the file outlives the segment handle and the memfd */
	close(seg);
	close(sfd);
	if (fd >= 0) {
		unsigned char *p = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);

		check(p != MAP_FAILED && p[PG] == pat(2, 0),
		      "file outlives its segment handle");
		close(fd);
	}

	/* non-root */
	{
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			struct xipmap_version v;
			int r;

			if (setgid(65534) || setuid(65534))
				_exit(77);
			r = ioctl(devfd, XIPMAP_IOC_VERSION, &v);
			if (r == 0 || errno != EPERM)
				_exit(1);
			r = open(XIPMAP_DEVICE, O_RDWR);
			if (r >= 0 || errno != EACCES)
				_exit(2);
			_exit(0);
		}
		waitpid(pid, &st, 0);
		check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "uid 65534: ioctl EPERM on an inherited fd, open EACCES");
	}
}

static void test_ivshmem(const char *path, long marker)
{
	struct xipmap_attach a = { .kind = XIPMAP_SEG_IVSHMEM };
	uint64_t pages[8];
	unsigned char *m, *want;
	int fd, hf;
	unsigned long n;

	if (read_uuid(path, a.uuid))
		exit(77);
	if (ioctl(devfd, XIPMAP_IOC_ATTACH, &a) < 0) {
		fail("attach ivshmem: %s", strerror(errno));
		return;
	}
	printf("ok: attach ivshmem (%llu bytes)\n", (unsigned long long)a.size);
	n = a.size / PG;
	if (n < 8) {
		fail("ivshmem segment too small");
		return;
	}
	/* pages 1..7 in reverse order, one hole */
	for (int i = 0; i < 8; i++)
		pages[i] = 7 - i;
	fd = create_file(devfd, a.seg_fd, pages, 8, 8 * PG);
	check(fd >= 0, "create backing file on ivshmem");
	if (fd < 0)
		return;
	hf = open(path, O_RDONLY);
	want = malloc(8 * PG);
	for (int i = 0; i < 8; i++) {
		if (pages[i] == XIPMAP_HOLE)
			memset(want + i * PG, 0, PG);
		else if (pread(hf, want + i * PG, PG, pages[i] * PG) != (ssize_t)PG)
			fail("read %s", path);
	}
	m = mmap(NULL, 8 * PG, PROT_READ, MAP_SHARED, fd, 0);
	check(m != MAP_FAILED, "mmap ivshmem backing file");
	if (m == MAP_FAILED)
		return;
	check(!memcmp(m, want, 8 * PG), "mapping equals the host file's pages");
	{
		unsigned char *buf = malloc(8 * PG);
		int mfd = open("/proc/self/mem", O_RDONLY);

		check(pread(fd, buf, 8 * PG, 0) == (ssize_t)(8 * PG) &&
		      !memcmp(buf, want, 8 * PG), "read() equals the host file");
		check(mfd >= 0 && pread(mfd, buf, PG, (uintptr_t)m) == (ssize_t)PG &&
		      !memcmp(buf, want, PG), "/proc/self/mem read (vm_ops->access)");
		free(buf);
	}
	{
		unsigned char *priv = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE, fd, 0);

		check(priv != MAP_FAILED, "private mapping of ivshmem file");
		if (priv != MAP_FAILED) {
			(void)*(volatile unsigned char *)priv;
			priv[1] ^= 0xff;
			priv[2 * PG + 1] ^= 0xff;	/* write-first fault */
			check(priv[1] == (unsigned char)(want[1] ^ 0xff) &&
			      m[1] == want[1] && m[2 * PG + 1] == want[2 * PG + 1] &&
			      !memcmp(priv + 2, want + 2, PG - 2),
			      "private write on ivshmem is COW");
		}
	}
	{
		static const uint64_t one[] = { 1 };
		int f1 = create_file(devfd, a.seg_fd, one, 1, 100);
		unsigned char *b = f1 < 0 ? MAP_FAILED :
			mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, f1, 0);

		check(b != MAP_FAILED && touch_sigbus((char *)b + PG),
		      "SIGBUS past EOF on ivshmem");
	}
	if (marker > 0 && (unsigned long)marker < n) {
		uint64_t mp[1] = { marker };
		int mf = create_file(devfd, a.seg_fd, mp, 1, PG);
		volatile unsigned char *mm = mf < 0 ? MAP_FAILED :
			mmap(NULL, PG, PROT_READ, MAP_SHARED, mf, 0);
		unsigned char first;
		int i;

		if (mm == MAP_FAILED) {
			fail("map marker page");
			return;
		}
		first = mm[0];
		printf("XIPMAP-READY %u\n", first);
		fflush(stdout);
		/* A deadline for failure, not a timing requirement. */
		for (i = 0; i < 600 && mm[0] == first; i++)
			usleep(100000);
		check(mm[0] != first, "host write seen through the guest mapping");
		printf("marker now %u\n", mm[0]);
	}
}

int main(int argc, char **argv)
{
	struct xipmap_version v;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: %s memfd|shm|hostile|ivshmem FILE [PAGE]\n",
			argv[0]);
		return 2;
	}
	devfd = open(XIPMAP_DEVICE, O_RDWR | O_CLOEXEC);
	if (devfd < 0) {
		fprintf(stderr, "%s: %s (is xipmap.ko loaded?)\n", XIPMAP_DEVICE,
			strerror(errno));
		return 77;
	}
	if (ioctl(devfd, XIPMAP_IOC_VERSION, &v) < 0 ||
	    v.version != XIPMAP_API_VERSION || v.page_size != PG) {
		fprintf(stderr, "xipmap: version/page size mismatch\n");
		return 1;
	}
	if (!strcmp(argv[1], "memfd") || !strcmp(argv[1], "shm"))
		test_functional(argv[1]);
	else if (!strcmp(argv[1], "hostile"))
		test_hostile();
	else if (!strcmp(argv[1], "ivshmem") && argc >= 3)
		test_ivshmem(argv[2], argc > 3 ? atol(argv[3]) : 0);
	else
		return 2;
	printf("%s: %d failure(s)\n", argv[1], failures);
	return failures ? 1 : 0;
}
