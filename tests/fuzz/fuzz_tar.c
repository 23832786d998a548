// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_tar: the input is a tar archive (plain or compressed).  mkxipfs's
 * own main() (compiled into this target as mkxipfs_main) builds an image
 * from it in a private temporary directory.  Either the build fails, with
 * no image and no temporary file left behind, or the image it wrote opens
 * with its CRC checked and passes xipfs_fsck with data checks: a built image
 * that fsck rejects is a bug.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <sanitizer/common_interface_defs.h>

#include "fuzz.h"

int mkxipfs_main(int argc, char **argv);

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], in[96], out[96];
static int errfd = 2, nullfd = -1;	/* the real stderr; /dev/null */

static void cleanup(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || (de->d_name[1] && strcmp(de->d_name, "..")))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("FUZZ_TMPDIR");
	struct rlimit rl = { 64u << 20, 64u << 20 };

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%.40s/fuzz_tar.XXXXXX", tmp && *tmp ? tmp : "/dev/shm");
	if (!mkdtemp(dir)) {
		perror("fuzz_tar: mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	snprintf(in, sizeof(in), "%s/in.tar", dir);
	snprintf(out, sizeof(out), "%s/out.img", dir);
	/*
	 * /dev/shm by default: mkxipfs fsyncs, tmpfs makes that free.
	 * A hostile tar may claim terabytes: writes fail with EFBIG instead.
	 */
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &rl);
	fuzz_quiet();
	/*
	 * mkxipfs's messages about bad archives are the expected case: they
	 * go to /dev/null, sanitizer reports to the real stderr.
	 */
	if (!getenv("FUZZ_VERBOSE")) {
		errfd = dup(2);
		nullfd = open("/dev/null", O_WRONLY);
		if (errfd < 0 || nullfd < 0) {
			perror("fuzz_tar: /dev/null");
			exit(1);
		}
		__sanitizer_set_report_fd((void *)(long)errfd);
	}
	return 0;
}

/* Nothing but the input may be left in the directory after a build. */
static void check_leftovers(bool built)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	FUZZ_CHECK(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "in.tar"))
			continue;
		if (built && !strcmp(de->d_name, "out.img"))
			continue;
		fprintf(stderr, "fuzz_tar: mkxipfs left %s behind\n", de->d_name);
		FUZZ_CHECK(!"a failed or finished build leaves no stray file");
	}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[] = { "mkxipfs", "-q", "-T", "0", "-b", "4096", in, out, NULL };
	struct xipfs_image *img;
	struct xipfs_fsck_stats st = { 0 };
	int fd, rc, err;

	if (size > FUZZ_MAX_INPUT)
		return -1;
	fd = open(in, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(write(fd, data, size) == (ssize_t)size);
	close(fd);
	unlink(out);

	if (nullfd >= 0)
		dup2(nullfd, 2);
	rc = mkxipfs_main(8, argv);
	if (nullfd >= 0)
		dup2(errfd, 2);

	check_leftovers(rc == 0);
	if (rc != 0)
		return 0;
	err = xipfs_open_file(out, 0, &img);
	if (err)
		fprintf(stderr, "fuzz_tar: mkxipfs built an image that does not open: %s\n",
			strerror(-err));
	FUZZ_CHECK(err == 0);
	err = xipfs_fsck(img, XIPFS_FSCK_DATA, &st);
	if (err)
		fprintf(stderr, "fuzz_tar: mkxipfs built an image fsck rejects (%llu errors)\n",
			(unsigned long long)st.errors);
	FUZZ_CHECK(err == 0 && st.errors == 0 && st.unreachable == 0 && st.bad_pages == 0);
	fuzz_walk(img);
	xipfs_close(img);
	return 0;
}
