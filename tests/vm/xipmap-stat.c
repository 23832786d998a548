// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest test driver for XIPMAP_IOC_SEG_STAT (run as root inside a guest).
 *
 *   xipmap-stat memfd          on a sealed memfd segment
 *   xipmap-stat ivshmem FILE   on the ivshmem BAR holding FILE's superblock
 *
 * Two backing files share segment pages: A is pages 1..8, B is pages 5..8
 * and a hole.  Process 1 maps A shared and reads all of it; process 2 maps
 * B private, reads it and writes its first page (a private copy).  The
 * counters are compared with what the processes see in /proc/self/pagemap
 * (frames of the segment, found through a mapping made and dropped before
 * the processes start) and with the numbers the layout implies; then the
 * processes unmap (exit, MADV_DONTNEED) and the counters must fall.  On a
 * memfd the test also keeps a plain mapping of the memfd itself, which is
 * not a mapping of a backing file and must not count.
 *
 * Each failed check prints "FAIL: ..." and the exit status is 1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xipfs/xipmap.h"
#include "pagemap.h"
#include "xipmap-util.h"

#define PG		4096UL
#define SEG_PAGES	16UL
#define A_PAGES		8
#define B_PAGES		5

static int failures;
static int devfd = -1;
static int seg = -1;
static uint64_t seg_pfn[SEG_PAGES];	/* frame of segment page i */

static void expect(const char *what, uint64_t got, uint64_t want)
{
	if (got != want) {
		printf("FAIL: %s: %" PRIu64 ", expected %" PRIu64 "\n", what,
		       got, want);
		failures++;
	} else {
		printf("ok: %s = %" PRIu64 "\n", what, got);
	}
	fflush(stdout);
}

static int create(const uint64_t *pages, uint64_t count)
{
	int fd = create_file(devfd, seg, pages, count, count * PG);

	if (fd < 0) {
		perror("XIPMAP_IOC_CREATE");
		exit(1);
	}
	return fd;
}

static struct xipmap_seg_stat seg_stat(void)
{
	struct xipmap_seg_stat st = { 0 };

	if (ioctl(seg, XIPMAP_IOC_SEG_STAT, &st) < 0) {
		perror("XIPMAP_IOC_SEG_STAT");
		exit(1);
	}
	return st;
}

#define ANY UINT64_MAX

static void expect_field(const char *field, const char *when, uint64_t got, uint64_t want)
{
	char what[160];

	if (want == ANY)
		return;
	snprintf(what, sizeof(what), "%s %s", field, when);
	expect(what, got, want);
}

/*
 * The counters @when, each against what it must be (ANY: not checked
 * there); returns them.
 */
static struct xipmap_seg_stat expect_stat(const char *when, uint64_t files, uint64_t mappings,
					  uint64_t processes, uint64_t ptes, uint64_t pages,
					  uint64_t private_ptes)
{
	struct xipmap_seg_stat st = seg_stat();

	expect_field("files", when, st.files, files);
	expect_field("mappings", when, st.mappings, mappings);
	expect_field("processes", when, st.processes, processes);
	expect_field("mapped PTEs", when, st.mapped_ptes, ptes);
	expect_field("mapped pages", when, st.mapped_pages, pages);
	expect_field("private copies", when, st.private_ptes, private_ptes);
	return st;
}

/*
 * A process mapping @fd (@n pages): reads every page, writes the first
 * with @cow, sends the frames of its pages to @out; then, at each byte on
 * @in: 'd' drops the first half (MADV_DONTNEED), 'x' exits.
 */
static pid_t mapper(int fd, unsigned long n, int cow, int *in, int *out)
{
	int to[2], from[2];
	pid_t pid;

	if (pipe(to) < 0 || pipe(from) < 0)
		exit(1);
	pid = fork();
	if (pid < 0)
		exit(1);
	if (pid == 0) {
		unsigned char *m;
		uint64_t pfns[A_PAGES];
		int pm = open("/proc/self/pagemap", O_RDONLY);
		char c;

		close(to[1]);
		close(from[0]);
		m = mmap(NULL, n * PG, PROT_READ | (cow ? PROT_WRITE : 0),
			 cow ? MAP_PRIVATE : MAP_SHARED, fd, 0);
		if (m == MAP_FAILED || pm < 0)
			_exit(1);
		for (unsigned long i = 0; i < n; i++)
			(void)*(volatile unsigned char *)(m + i * PG);
		if (cow)
			m[0] ^= 1;
		for (unsigned long i = 0; i < n; i++)
			pagemap_frame(pm, m + i * PG, &pfns[i]);
		if (write(from[1], pfns, n * 8) != (ssize_t)(n * 8))
			_exit(1);
		while (read(to[0], &c, 1) == 1 && c == 'd') {
			if (madvise(m, n / 2 * PG, MADV_DONTNEED) < 0 ||
			    write(from[1], &c, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	*in = to[1];
	*out = from[0];
	return pid;
}

static int is_seg_frame(uint64_t pfn)
{
	for (unsigned long i = 1; i < SEG_PAGES; i++)
		if (pfn && pfn == seg_pfn[i])
			return 1;
	return 0;
}

/* Segment frames among @pfns: PTEs, and distinct pages added to @seen. */
static uint64_t count_frames(const uint64_t *pfns, unsigned long n, int *seen)
{
	uint64_t ptes = 0;

	for (unsigned long i = 0; i < n; i++) {
		for (unsigned long j = 1; j < SEG_PAGES; j++) {
			if (pfns[i] && pfns[i] == seg_pfn[j]) {
				ptes++;
				seen[j] = 1;
			}
		}
	}
	return ptes;
}

/* Tell a mapper @c and wait until it is done ('x': until it exited). */
static void stage(pid_t pid, int in, int out, char c)
{
	int status;

	if (write(in, &c, 1) != 1 ||
	    (c == 'x' ? waitpid(pid, &status, 0) != pid || status :
	     read(out, &c, 1) != 1)) {
		printf("FAIL: mapper process did not answer\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	uint64_t a_pages[A_PAGES], b_pages[B_PAGES], all[SEG_PAGES];
	uint64_t pa[A_PAGES], pb[B_PAGES], ptes;
	struct xipmap_seg_stat st;
	struct xipmap_attach at = { 0 };
	int seen[SEG_PAGES] = { 0 }, a, b, s, in1, out1, in2, out2, pm, n;
	unsigned char *direct = NULL, *m;
	pid_t p1, p2;

	if (argc < 2)
		return 2;
	devfd = open(XIPMAP_DEVICE, O_RDWR);
	if (devfd < 0) {
		perror(XIPMAP_DEVICE);
		return 77;
	}
	if (!strcmp(argv[1], "memfd")) {
		int fd = memfd_create("xipmap-stat", MFD_ALLOW_SEALING);

		if (fd < 0 || ftruncate(fd, SEG_PAGES * PG) < 0)
			return 1;
		direct = mmap(NULL, SEG_PAGES * PG, PROT_READ | PROT_WRITE,
			      MAP_SHARED, fd, 0);
		if (direct == MAP_FAILED)
			return 1;
		for (unsigned long i = 0; i < SEG_PAGES; i++)
			memset(direct + i * PG, (int)i + 1, PG);
		munmap(direct, SEG_PAGES * PG);
		if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK |
			  F_SEAL_GROW) < 0)
			return 1;
		at.kind = XIPMAP_SEG_FD;
		at.fd = fd;
		at.flags = XIPMAP_ATTACH_EXISTING;
		if (ioctl(devfd, XIPMAP_IOC_ATTACH, &at) == 0 || errno != ENOENT)
			printf("FAIL: XIPMAP_ATTACH_EXISTING on a new memfd: not ENOENT\n"),
				failures++;
		else
			printf("ok: XIPMAP_ATTACH_EXISTING on a new memfd: ENOENT\n");
		at.flags = 0;
		/* A mapping of the memfd itself: not a backing file's. */
		direct = mmap(NULL, SEG_PAGES * PG, PROT_READ, MAP_SHARED, fd, 0);
		if (direct == MAP_FAILED)
			return 1;
		for (unsigned long i = 0; i < SEG_PAGES; i++)
			(void)*(volatile unsigned char *)(direct + i * PG);
	} else if (!strcmp(argv[1], "ivshmem") && argc == 3) {
		if (read_uuid(argv[2], at.uuid))
			return 77;
		at.kind = XIPMAP_SEG_IVSHMEM;
	} else {
		return 2;
	}
	if (ioctl(devfd, XIPMAP_IOC_ATTACH, &at) < 0) {
		perror("XIPMAP_IOC_ATTACH");
		return 1;
	}
	seg = at.seg_fd;
	if (at.kind == XIPMAP_SEG_FD) {
		struct xipmap_attach again = at;
		struct xipmap_seg_stat st2 = { 0 };

		again.flags = XIPMAP_ATTACH_EXISTING;
		if (ioctl(devfd, XIPMAP_IOC_ATTACH, &again) < 0 ||
		    ioctl(again.seg_fd, XIPMAP_IOC_SEG_STAT, &st2) < 0)
			printf("FAIL: XIPMAP_ATTACH_EXISTING on an attached memfd: %s\n",
			       strerror(errno)), failures++;
		else
			expect("pages through XIPMAP_ATTACH_EXISTING", st2.pages,
			       SEG_PAGES);
	}

	/* The segment's frames, through a mapping dropped before counting. */
	for (unsigned long i = 0; i < SEG_PAGES; i++)
		all[i] = i;
	s = create(all, SEG_PAGES);
	pm = open("/proc/self/pagemap", O_RDONLY);
	m = mmap(NULL, SEG_PAGES * PG, PROT_READ, MAP_SHARED, s, 0);
	if (m == MAP_FAILED || pm < 0)
		return 1;
	for (unsigned long i = 1; i < SEG_PAGES; i++) {
		(void)*(volatile unsigned char *)(m + i * PG);
		pagemap_frame(pm, m + i * PG, &seg_pfn[i]);
		if (!seg_pfn[i])
			printf("FAIL: segment page %lu has no frame\n", i), failures++;
	}
	munmap(m, SEG_PAGES * PG);
	close(s);

	for (int i = 0; i < A_PAGES; i++)
		a_pages[i] = 1 + i;
	for (int i = 0; i < B_PAGES - 1; i++)
		b_pages[i] = 5 + i;
	b_pages[B_PAGES - 1] = XIPMAP_HOLE;
	a = create(a_pages, A_PAGES);
	b = create(b_pages, B_PAGES);

	/* Arguments of expect_stat(): files, mappings, processes, PTEs, pages, private. */
	st = expect_stat("before mapping", 2, 0, ANY, 0, 0, ANY);
	expect("pages", st.pages, at.size / PG);

	p1 = mapper(a, A_PAGES, 0, &in1, &out1);
	p2 = mapper(b, B_PAGES, 1, &in2, &out2);
	if (read(out1, pa, sizeof(pa)) != sizeof(pa) ||
	    read(out2, pb, sizeof(pb)) != sizeof(pb)) {
		printf("FAIL: mapper processes did not report\n");
		return 1;
	}
	/* What pagemap shows, and what the layout says it must be. */
	ptes = count_frames(pa, A_PAGES, seen) + count_frames(pb, B_PAGES, seen);
	n = 0;
	for (unsigned long i = 0; i < SEG_PAGES; i++)
		n += seen[i];
	expect("pagemap: segment frames mapped by both", ptes, A_PAGES + 3);
	expect("pagemap: distinct segment frames", n, A_PAGES);
	expect("pagemap: process 2's written page is a copy",
	       !is_seg_frame(pb[0]) && pb[0] != 0, 1);
	expect_stat("while both map (pagemap counts)", ANY, 2, 2, ptes, n, 1);

	stage(p2, in2, out2, 'x');
	expect_stat("after process 2 exits", ANY, 1, 1, A_PAGES, A_PAGES, 0);

	stage(p1, in1, out1, 'd');
	expect_stat("after MADV_DONTNEED of half", ANY, 1, ANY, A_PAGES / 2, A_PAGES / 2, ANY);

	stage(p1, in1, out1, 'x');
	close(b);
	st = expect_stat("after both exit and closing B", 1, 0, 0, 0, 0, ANY);

	st.flags = 1;
	if (ioctl(seg, XIPMAP_IOC_SEG_STAT, &st) == 0 || errno != EINVAL)
		printf("FAIL: SEG_STAT with unknown flags: not EINVAL\n"), failures++;
	if (direct)
		munmap(direct, SEG_PAGES * PG);
	printf("%s\n", failures ? "FAILED" : "PASSED");
	return failures ? 1 : 0;
}
