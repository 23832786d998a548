/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mkxipfs internals: the in-memory tree, the page store and the writer. */
#ifndef MKXIPFS_H
#define MKXIPFS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "xipfs/format.h"

struct xattr_kv {
	char *name;
	void *value;
	uint32_t len;
};

struct node {
	char *name;			/* not NUL terminated for the root */
	size_t namelen;
	struct node *parent;
	struct node **kids;
	uint32_t nkids, capkids;
	struct node *link;		/* hardlink: the node holding the inode */
	uint32_t ino;			/* assigned at layout */
	uint32_t mode, uid, gid, nlink;
	uint64_t size, rdev;
	int64_t mtime, ctime;
	uint32_t mtime_ns, ctime_ns;
	struct xattr_kv *xattrs;
	uint32_t nxattrs;
	uint32_t xattr_set;		/* set index + 1, at layout */
	char *target;			/* symlink target */
	uint64_t ext_off;		/* file extents: index in the extent table */
	uint32_t ext_count;
	bool has_data;
};

struct opts {
	unsigned page_shift;
	bool dedupe, all_root, quiet, verbose;
	int64_t uid_offset, gid_offset;
	int64_t force_uid, force_gid;	/* -1: keep */
	bool have_timestamp;
	int64_t timestamp;
	bool have_uuid;
	uint8_t uuid[16];
	char **excludes;
	size_t nexcludes;
	bool progress;
	dev_t skip_dev;			/* the image being written: never walk it */
	ino_t skip_ino;
	bool io_uring;			/* --io=uring (the default): prefetch input */
};

struct extent {
	uint32_t lpage, count, page;
};

/* What the hashing threads learn of a page before the serial dedupe. */
struct page_sig {
	uint64_t h0, h1;		/* XXH3-128, unless zero */
	bool zero;
};

#define CHUNK_PAGES 64			/* pages read, then hashed in parallel */

/* The page store: appends unique pages to the output, dedupes by content. */
struct store {
	int fd;
	const char *path;		/* temp file, for messages */
	unsigned shift, psize;
	bool dedupe;
	uint32_t next_page;		/* next page number to write */
	/* open-addressing table of unique pages */
	struct slot { uint64_t h0, h1; uint32_t page; } *slots;
	size_t nslots, used;
	uint32_t *sums;			/* CRC32C per data page */
	size_t capsums;
	uint8_t *wbuf;			/* write-behind buffer */
	size_t wlen, wcap;
	uint64_t wstart;		/* page number of wbuf[0] */
	uint8_t *cmpbuf;
	/* per-file extents being built, then the shared table */
	struct extent *cur;
	uint32_t ncur;
	size_t capcur;
	struct extent *ext;
	uint64_t next;
	size_t capext;
	struct { uint64_t h; uint64_t off; uint32_t count; } *runs;
	size_t nruns, capruns;
	/* a second hashing thread (when there is a second CPU) */
	bool have_worker, stop;
	pthread_t worker;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned gen, done_gen;
	const uint8_t *job_buf;
	struct page_sig *job_sig;
	uint32_t job_first, job_count;
	/* statistics */
	uint64_t file_pages, hole_pages, dedup_pages, files, bytes;
};

/* tree.c */
struct node *node_new(struct node *parent, const char *name, size_t len);
struct node *tree_from_dir(const char *src, const struct opts *o, struct store *st);
struct node *tree_from_tar(const char *src, const struct opts *o, struct store *st);
void tree_free(struct node *n);
void progress_tick(const struct opts *o, const struct store *st, bool force);

/* store.c */
int store_init(struct store *st, int fd, const char *path, unsigned shift, bool dedupe);
void store_free(struct store *st);
void file_begin(struct store *st);
void store_sign(struct store *st, const uint8_t *buf, uint32_t n, struct page_sig *sig);
int file_page(struct store *st, uint32_t lpage, const uint8_t *page,
	      const struct page_sig *sig);
int file_end(struct store *st, struct node *n);
int store_flush(struct store *st);

/* main.c */
void die_path(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
extern const char *progname;
extern bool failed;

/* prefetch.c: input files read ahead through io_uring, in walk order. */
struct prefetch;
struct pf_data {
	int fd;			/* the open file, now the caller's */
	const uint8_t *buf;	/* its first len bytes */
	size_t len;
	void *slot;
};
/* NULL (and *why) when io_uring cannot be used: read(2) then. */
struct prefetch *pf_new(const char **why);
void pf_free(struct prefetch *pf);
bool pf_room(const struct prefetch *pf);
/* Open @name in @dfd and start reading it, as entry @index of @owner. */
void pf_queue(struct prefetch *pf, unsigned long owner, size_t index, int dfd,
	      const char *name);
/* The prefetched entry, waiting for its read; -ENOENT if none. */
int pf_take(struct prefetch *pf, unsigned long owner, size_t index,
	    struct pf_data *out);
/* The buffer of a taken entry is free again. */
void pf_done(struct prefetch *pf, struct pf_data *d);
/* Forget entry @index (SIZE_MAX: every entry) @owner queued and did not take. */
void pf_drop(struct prefetch *pf, unsigned long owner, size_t index);

#endif
