// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xip-probe: what the XIP guest tests ask of a mapping, from inside a guest.
 *
 *   xip-probe pfn FILE OFFSET
 *	map FILE shared, touch the page at OFFSET, print "pfn N" (its frame
 *	number, from /proc/self/pagemap).
 *   xip-probe hold FILE OFFSET
 *	the same, then print "READY" and keep the mapping until a line comes
 *	on stdin; then print "byte N" (the first byte of that page, read
 *	through the mapping) and "pfn N" again.
 *   xip-probe segpfn IMAGE PATH OFFSET BARDEV
 *	the frame that byte OFFSET of PATH inside IMAGE must map to when
 *	IMAGE is the ivshmem segment of PCI device BARDEV (its BAR 2 start
 *	plus the image page), or "hole".  IMAGE may be any source xipfs
 *	takes: ivshmem/LABEL gives the page of a pool's image.
 *   xip-probe imgoff IMAGE PATH OFFSET
 *	the byte offset inside IMAGE that holds byte OFFSET of PATH.
 *   xip-probe cow FILE
 *	MAP_PRIVATE writes change only the writer's copy; MAP_SHARED with
 *	PROT_WRITE, and mprotect(PROT_WRITE) of a shared mapping, fail.
 *   xip-probe dying FILE
 *	map FILE, print READY, wait for a line on stdin (the daemon is killed
 *	meanwhile), then check the mapping still holds FILE's bytes and that
 *	a new open of FILE fails with ENOTCONN.
 *   xip-probe mapsum FILE...
 *	map each FILE shared and read it in full through the mapping; print
 *	"FILES BYTES SUM" (a byte sum, to compare with a read() pass).
 *   xip-probe touch MODE FILE...
 *	map each FILE MAP_PRIVATE and read one byte per page, first touch;
 *	print "FILE PAGES NS MINFLT SUM": the nanoseconds and minor faults of
 *	the reading loop alone and the sum of the bytes read.  MODE: plain,
 *	random or sequential (madvise before the loop), populate
 *	(MAP_POPULATE; then mmap() is timed and counted too), or sparse
 *	(plain, but one page in 32: what a wide fault-around costs).
 *   xip-probe around FILE OFFSET
 *	map FILE MAP_PRIVATE, touch the page at OFFSET only, and print
 *	"OFF PFN" for every page within 15 pages of it that is mapped (what
 *	fault-around mapped besides the touched page).
 *   xip-probe ptrace PROGRAM
 *	run PROGRAM under ptrace, stopped at its entry point: compare the
 *	text read with PTRACE_PEEKTEXT against the file, then plant a
 *	breakpoint (PTRACE_POKETEXT int3) and check that it traps and that
 *	the rest of the page is unchanged.
 *
 * Every check prints "ok: ..." or "FAIL: ..."; the exit status is 1 if any
 * failed.
 */

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xipfs/xipfs.h"
#include "xipfs/segment.h"
#include "pagemap.h"

static int failures;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf(ok ? "ok: " : "FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

/* Frame number behind @addr in this process (0 if not present; no fault). */
static uint64_t frame_at(const void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t pfn;

	if (fd < 0 || pagemap_frame(fd, addr, &pfn) < 0)
		die("/proc/self/pagemap: %s", strerror(errno));
	close(fd);
	return pfn;
}

static const volatile unsigned char *map_at(const char *path, off_t off, size_t *len)
{
	long ps = sysconf(_SC_PAGESIZE);
	int fd = open(path, O_RDONLY);
	void *m;

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	*len = ps;
	m = mmap(NULL, ps, PROT_READ, MAP_SHARED, fd, off & ~(off_t)(ps - 1));
	if (m == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	close(fd);
	return m;
}

static int cmd_pfn(const char *path, off_t off, int hold)
{
	size_t len;
	const volatile unsigned char *m = map_at(path, off, &len);
	unsigned char b = m[0];
	char line[64];

	printf("pfn %" PRIu64 "\n", frame_at((const void *)m));
	if (!hold)
		return 0;
	printf("READY\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	b = m[0];
	printf("byte %u\npfn %" PRIu64 "\n", b, frame_at((const void *)m));
	return 0;
}

/* IMAGE: a file, or any source xipfs takes (ivshmem/LABEL: a pool's image). */
static int img_lookup(const char *image, const char *path, uint64_t off,
		      struct xipfs_image **img, int64_t *page)
{
	struct xipfs_source src;
	struct xipfs_segment *seg;	/* kept until exit: the image lives in it */
	struct xipfs_ino ino;
	int err = xipfs_source_parse(image, &src);

	if (!err)
		err = xipfs_source_open(&src, 0, &seg, img);
	if (err)
		die("%s: %s", image, strerror(-err));
	err = xipfs_path_lookup(*img, path, &ino);
	if (err)
		die("%s: %s: %s", image, path, strerror(-err));
	*page = xipfs_file_page(*img, &ino, off / xipfs_page_size(*img));
	if (*page < 0)
		die("%s: %s: page of offset %" PRIu64 ": %s", image, path, off,
		    strerror((int)-*page));
	return 0;
}

static int cmd_segpfn(const char *image, const char *path, uint64_t off, const char *dev)
{
	struct xipfs_image *img;
	unsigned long long start;
	char p[256];
	int64_t page;
	long ps = sysconf(_SC_PAGESIZE);
	FILE *f;

	img_lookup(image, path, off, &img, &page);
	if (page == 0) {
		printf("hole\n");
		return 0;
	}
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/resource", dev);
	f = fopen(p, "r");
	if (!f)
		die("%s: %s", p, strerror(errno));
	/* Lines are BARs 0, 1, 2, ...: "start end flags". */
	for (int i = 0; i <= 2; i++) {
		if (fscanf(f, "%llx %*x %*x", &start) != 1)
			die("%s: no BAR 2", p);
	}
	fclose(f);
	printf("%llu\n", (start + (uint64_t)page * xipfs_page_size(img) +
			  off % xipfs_page_size(img)) / ps);
	xipfs_close(img);
	return 0;
}

static int cmd_imgoff(const char *image, const char *path, uint64_t off)
{
	struct xipfs_image *img;
	int64_t page;

	img_lookup(image, path, off, &img, &page);
	if (page == 0)
		printf("hole\n");
	else
		printf("%" PRIu64 "\n", (uint64_t)page * xipfs_page_size(img) +
		       off % xipfs_page_size(img));
	xipfs_close(img);
	return 0;
}

static int cmd_cow(const char *path)
{
	long ps = sysconf(_SC_PAGESIZE);
	int fd = open(path, O_RDONLY);
	unsigned char *priv, *shared, *orig, *page;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < ps)
		die("%s: need a readable file of at least a page", path);
	orig = malloc(ps);
	page = malloc(ps);
	if (!orig || !page || pread(fd, orig, ps, 0) != ps)
		die("read %s", path);
	priv = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	shared = mmap(NULL, ps, PROT_READ, MAP_SHARED, fd, 0);
	if (priv == MAP_FAILED || shared == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	check(!memcmp(priv, orig, ps) && !memcmp(shared, orig, ps),
	      "both mappings show the file");
	uint64_t before = frame_at(shared);

	check(frame_at(priv) == before, "the private mapping maps the shared frame before a write (pfn %" PRIu64 ")",
	      before);
	for (long i = 0; i < ps; i++)
		priv[i] = (unsigned char)~orig[i];
	check(priv[0] == (unsigned char)~orig[0] && priv[ps - 1] == (unsigned char)~orig[ps - 1],
	      "the private mapping took the write");
	check(frame_at(priv) != before, "the write moved the private page to its own frame");
	check(!memcmp(shared, orig, ps), "the shared mapping is untouched");
	check(frame_at(shared) == before, "the shared mapping still maps the segment frame");
	check(pread(fd, page, ps, 0) == ps && !memcmp(page, orig, ps), "read() of the file is untouched");
	/* A second process sees the original too. */
	pid_t pid = fork();

	if (pid == 0) {
		int f2 = open(path, O_RDONLY);
		unsigned char *m = mmap(NULL, ps, PROT_READ, MAP_PRIVATE, f2, 0);

		_exit(m != MAP_FAILED && !memcmp(m, orig, ps) ? 0 : 1);
	}
	int status;

	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "another process maps the original bytes");

	void *w = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;

	check(w == MAP_FAILED, "MAP_SHARED with PROT_WRITE is refused (%s)",
	      w == MAP_FAILED ? strerror(e) : "mapped");
	int r = mprotect(shared, ps, PROT_READ | PROT_WRITE);

	e = errno;
	check(r < 0, "mprotect(PROT_WRITE) of a shared mapping is refused (%s)",
	      r < 0 ? strerror(e) : "allowed");
	int wfd = open(path, O_RDWR);

	check(wfd < 0, "open for writing is refused (%s)", wfd < 0 ? strerror(errno) : "opened");
	if (wfd >= 0)
		close(wfd);
	close(fd);
	return failures ? 1 : 0;
}

static int cmd_dying(const char *path)
{
	long ps = sysconf(_SC_PAGESIZE);
	int fd = open(path, O_RDONLY);
	struct stat st;
	unsigned char *copy, *m;
	char line[64];
	size_t len;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0)
		die("%s: need a readable non-empty file", path);
	len = (st.st_size + ps - 1) & ~(size_t)(ps - 1);
	copy = malloc(st.st_size);
	if (!copy || pread(fd, copy, st.st_size, 0) != st.st_size)
		die("read %s", path);
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	close(fd);
	printf("READY\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		die("no go-ahead on stdin");
	/* Pages not touched before the daemon died must fault in now. */
	check(!memcmp(m, copy, st.st_size), "the mapping made before the daemon died still reads the file (%lld bytes)",
	      (long long)st.st_size);
	errno = 0;
	fd = open(path, O_RDONLY);
	check(fd < 0 && errno == ENOTCONN, "a new open fails with ENOTCONN (%s)",
	      fd < 0 ? strerror(errno) : "it opened");
	return failures ? 1 : 0;
}

static int cmd_mapsum(int n, char **files)
{
	unsigned long long bytes = 0, sum = 0;

	for (int i = 0; i < n; i++) {
		int fd = open(files[i], O_RDONLY);
		struct stat st;
		const unsigned char *m;

		if (fd < 0 || fstat(fd, &st) < 0)
			die("%s: %s", files[i], strerror(errno));
		if (st.st_size) {
			m = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
			if (m == MAP_FAILED)
				die("mmap %s: %s", files[i], strerror(errno));
			for (off_t j = 0; j < st.st_size; j++)
				sum += m[j];
			munmap((void *)m, st.st_size);
		}
		bytes += st.st_size;
		close(fd);
	}
	printf("%d %llu %llu\n", n, bytes, sum);
	return 0;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmd_touch(const char *mode, int n, char **files)
{
	long ps = sysconf(_SC_PAGESIZE);
	int advice = -1, flags = MAP_PRIVATE;
	long step = ps;

	if (!strcmp(mode, "sparse"))
		step = 32 * ps;
	else if (!strcmp(mode, "random"))
		advice = MADV_RANDOM;
	else if (!strcmp(mode, "sequential"))
		advice = MADV_SEQUENTIAL;
	else if (!strcmp(mode, "populate"))
		flags |= MAP_POPULATE;
	else if (strcmp(mode, "plain"))
		die("touch: unknown mode %s", mode);
	for (int i = 0; i < n; i++) {
		int fd = open(files[i], O_RDONLY);
		unsigned long long sum = 0;
		const volatile unsigned char *m;
		long long t0, t1;
		long f0, f1;
		struct stat st;
		off_t j;

		if (fd < 0 || fstat(fd, &st) < 0)
			die("%s: %s", files[i], strerror(errno));
		if (!st.st_size)
			die("%s: empty", files[i]);
		f0 = minflt();
		t0 = now_ns();
		m = mmap(NULL, st.st_size, PROT_READ, flags, fd, 0);
		if (m == MAP_FAILED)
			die("mmap %s: %s", files[i], strerror(errno));
		if (advice >= 0 && madvise((void *)m, st.st_size, advice) < 0)
			die("madvise %s: %s", files[i], strerror(errno));
		if (!(flags & MAP_POPULATE)) {
			f0 = minflt();
			t0 = now_ns();
		}
		for (j = 0; j < st.st_size; j += step)
			sum += m[j];
		t1 = now_ns();
		f1 = minflt();
		printf("%s %lld %lld %ld %llu\n", files[i], (long long)((st.st_size + ps - 1) / ps),
		       t1 - t0, f1 - f0, sum);
		munmap((void *)m, st.st_size);
		close(fd);
	}
	return 0;
}

static int cmd_around(const char *path, off_t off)
{
	long ps = sysconf(_SC_PAGESIZE);
	int fd = open(path, O_RDONLY);
	const volatile unsigned char *m;
	struct stat st;
	off_t at = off & ~(off_t)(ps - 1), p;

	if (fd < 0 || fstat(fd, &st) < 0)
		die("%s: %s", path, strerror(errno));
	if (at >= st.st_size)
		die("%s: offset %lld past EOF", path, (long long)off);
	m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	(void)m[at];
	for (p = at > 15 * ps ? at - 15 * ps : 0; p <= at + 15 * ps && p < st.st_size; p += ps) {
		uint64_t pfn = frame_at((const void *)(m + p));

		if (pfn)
			printf("%lld %" PRIu64 "\n", (long long)p, pfn);
	}
	return 0;
}

static unsigned long entry_of(pid_t pid)
{
	char p[64];
	Elf64_auxv_t a;
	int fd;

	snprintf(p, sizeof(p), "/proc/%d/auxv", pid);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		die("%s: %s", p, strerror(errno));
	while (read(fd, &a, sizeof(a)) == sizeof(a) && a.a_type != AT_NULL) {
		if (a.a_type == AT_ENTRY) {
			close(fd);
			return a.a_un.a_val;
		}
	}
	die("%s: no AT_ENTRY", p);
	return 0;
}

/* File offset of @addr in @pid, from the mapping of @path that holds it. */
static long long file_off_of(pid_t pid, unsigned long addr, const char *path)
{
	char p[64], line[4096], name[4096];
	unsigned long lo, hi;
	unsigned long long off;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/maps", pid);
	f = fopen(p, "r");
	if (!f)
		die("%s: %s", p, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		name[0] = '\0';
		if (sscanf(line, "%lx-%lx %*s %llx %*s %*s %4095s", &lo, &hi, &off, name) >= 3 &&
		    addr >= lo && addr < hi) {
			fclose(f);
			if (strcmp(name, path))
				die("entry %#lx is in %s, not %s", addr, name, path);
			return (long long)(off + addr - lo);
		}
	}
	fclose(f);
	die("entry %#lx is not mapped", addr);
	return -1;
}

static int cmd_ptrace(const char *prog)
{
	long ps = sysconf(_SC_PAGESIZE);
	unsigned char want[64], got[64];
	struct user_regs_struct regs;
	unsigned long entry, page;
	long long off;
	int status, fd;
	pid_t pid = fork();

	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execl(prog, prog, "--version", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
		die("%s did not stop at exec", prog);
	entry = entry_of(pid);
	/* Run to the program's own entry (past the dynamic loader). */
	{
		long orig = ptrace(PTRACE_PEEKTEXT, pid, (void *)entry, NULL);
		long bp = (orig & ~0xffL) | 0xcc;

		if (errno && orig == -1)
			die("PEEKTEXT at entry: %s", strerror(errno));
		check(ptrace(PTRACE_POKETEXT, pid, (void *)entry, (void *)bp) == 0,
		      "POKETEXT plants a breakpoint at the entry point %#lx", entry);
		check(ptrace(PTRACE_CONT, pid, NULL, NULL) == 0 &&
		      waitpid(pid, &status, 0) == pid && WIFSTOPPED(status) &&
		      WSTOPSIG(status) == SIGTRAP, "the breakpoint traps");
		ptrace(PTRACE_GETREGS, pid, NULL, &regs);
		check(regs.rip == entry + 1, "stopped just past the breakpoint (rip %#llx)", regs.rip);
		ptrace(PTRACE_POKETEXT, pid, (void *)entry, (void *)orig);
		regs.rip = entry;
		ptrace(PTRACE_SETREGS, pid, NULL, &regs);
	}
	off = file_off_of(pid, entry, prog);
	fd = open(prog, O_RDONLY);
	if (fd < 0 || pread(fd, want, sizeof(want), off) != sizeof(want))
		die("read %s at %lld", prog, off);
	close(fd);
	for (size_t i = 0; i < sizeof(got); i += sizeof(long)) {
		long w = ptrace(PTRACE_PEEKTEXT, pid, (void *)(entry + i), NULL);

		memcpy(got + i, &w, sizeof(long));
	}
	check(!memcmp(got, want, sizeof(got)), "PEEKTEXT reads the program's text at the entry point");
	/* The rest of the page the breakpoint went into. */
	page = entry & ~(unsigned long)(ps - 1);
	{
		unsigned char *fpage = malloc(ps), *tpage = malloc(ps);
		char mem[64];
		int mfd;

		snprintf(mem, sizeof(mem), "/proc/%d/mem", pid);
		mfd = open(mem, O_RDONLY);
		fd = open(prog, O_RDONLY);
		check(fpage && tpage && mfd >= 0 && fd >= 0 &&
		      pread(fd, fpage, ps, off - (long long)(entry - page)) == ps &&
		      pread(mfd, tpage, ps, (off_t)page) == ps && !memcmp(fpage, tpage, ps),
		      "after the breakpoint the text page equals the file (/proc/PID/mem)");
		close(fd);
		close(mfd);
	}
	check(ptrace(PTRACE_CONT, pid, NULL, NULL) == 0 && waitpid(pid, &status, 0) == pid &&
	      WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the program runs on to a clean exit");
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "pfn"))
		return cmd_pfn(argv[2], strtoll(argv[3], NULL, 0), 0);
	if (argc == 4 && !strcmp(argv[1], "hold"))
		return cmd_pfn(argv[2], strtoll(argv[3], NULL, 0), 1);
	if (argc == 6 && !strcmp(argv[1], "segpfn"))
		return cmd_segpfn(argv[2], argv[3], strtoull(argv[4], NULL, 0), argv[5]);
	if (argc == 5 && !strcmp(argv[1], "imgoff"))
		return cmd_imgoff(argv[2], argv[3], strtoull(argv[4], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "cow"))
		return cmd_cow(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "dying"))
		return cmd_dying(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "mapsum"))
		return cmd_mapsum(argc - 2, argv + 2);
	if (argc == 3 && !strcmp(argv[1], "ptrace"))
		return cmd_ptrace(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "touch"))
		return cmd_touch(argv[2], argc - 3, argv + 3);
	if (argc == 4 && !strcmp(argv[1], "around"))
		return cmd_around(argv[2], strtoll(argv[3], NULL, 0));
	fprintf(stderr, "usage: xip-probe pfn|hold FILE OFFSET | segpfn IMAGE PATH OFFSET PCIDEV |\n"
		"       imgoff IMAGE PATH OFFSET | cow FILE | dying FILE | mapsum FILE... |\n"
		"       ptrace PROGRAM | touch MODE FILE... | around FILE OFFSET\n");
	return 2;
}
