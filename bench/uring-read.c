// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * uring-read: read every regular file under DIR (in the sorted walk order
 * mkxipfs uses) the way mkxipfs would, either with read(2) in 256 KiB
 * chunks, or with io_uring keeping QD reads of 256 KiB in flight across
 * files.  Prints bytes and seconds.  Used by bench/uring.sh to decide
 * whether mkxipfs should read its input through liburing.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 << 10)
#define QD 16

static char **paths;
static size_t npaths, cap;

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk(const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		char *p;
		struct stat st;

		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..") &&
		    asprintf(&p, "%s/%s", dir, ents[i]->d_name) > 0) {
			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
				walk(p);
				free(p);
			} else if (S_ISREG(st.st_mode)) {
				if (npaths == cap) {
					cap = cap ? cap * 2 : 1024;
					paths = realloc(paths, cap * sizeof(*paths));
				}
				paths[npaths++] = p;
			} else {
				free(p);
			}
		}
		free(ents[i]);
	}
	free(ents);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static unsigned long long by_read(void)
{
	static char buf[CHUNK];
	unsigned long long total = 0;

	for (size_t i = 0; i < npaths; i++) {
		int fd = open(paths[i], O_RDONLY);
		ssize_t r;

		if (fd < 0)
			continue;
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			total += r;
		close(fd);
	}
	return total;
}

struct slot { int fd; off_t off; size_t file; char *buf; bool busy; };

static unsigned long long by_uring(void)
{
	struct io_uring ring;
	struct slot s[QD];
	size_t next = 0;
	int inflight = 0;
	unsigned long long total = 0;

	if (io_uring_queue_init(QD, &ring, 0) < 0) {
		perror("io_uring_queue_init");
		exit(1);
	}
	for (int i = 0; i < QD; i++) {
		s[i].buf = malloc(CHUNK);
		s[i].busy = false;
	}
	/* Each slot reads one file sequentially; QD files are in flight. */
	for (;;) {
		for (int i = 0; i < QD; i++) {
			struct io_uring_sqe *sqe;

			if (s[i].busy)
				continue;
			while (next < npaths && (s[i].fd = open(paths[next], O_RDONLY)) < 0)
				next++;
			if (next >= npaths)
				continue;
			s[i].file = next++;
			s[i].off = 0;
			s[i].busy = true;
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_read(sqe, s[i].fd, s[i].buf, CHUNK, 0);
			io_uring_sqe_set_data(sqe, &s[i]);
			inflight++;
		}
		if (!inflight)
			break;
		io_uring_submit_and_wait(&ring, 1);
		{
			struct io_uring_cqe *cqe;
			unsigned head, seen = 0;

			io_uring_for_each_cqe(&ring, head, cqe) {
				struct slot *sl = io_uring_cqe_get_data(cqe);

				seen++;
				inflight--;
				if (cqe->res > 0) {
					struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

					total += cqe->res;
					sl->off += cqe->res;
					io_uring_prep_read(sqe, sl->fd, sl->buf, CHUNK, sl->off);
					io_uring_sqe_set_data(sqe, sl);
					inflight++;
				} else {
					close(sl->fd);
					sl->busy = false;
				}
			}
			io_uring_cq_advance(&ring, seen);
		}
	}
	io_uring_queue_exit(&ring);
	return total;
}

int main(int argc, char **argv)
{
	unsigned long long bytes;
	double t0;

	if (argc != 3 || (strcmp(argv[1], "read") && strcmp(argv[1], "uring"))) {
		fprintf(stderr, "usage: uring-read read|uring DIR\n");
		return 2;
	}
	walk(argv[2]);
	qsort(paths, npaths, sizeof(*paths), cmp);
	t0 = now();
	bytes = strcmp(argv[1], "read") ? by_uring() : by_read();
	printf("%s files=%zu bytes=%llu seconds=%.3f\n", argv[1], npaths, bytes, now() - t0);
	return 0;
}
