/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mkxipfs internals.  The pipeline: an input (dirwalk.c: a directory;
 * tar.c: a tar stream, an entry at a time) builds the in-memory tree of
 * struct node (tree.c), feeding file data to the page store (store.c) as
 * it goes; layout.c then numbers the inodes, lays out the metadata and
 * writes it and the superblock.  One struct build carries a build's state:
 * nothing is shared between files through globals.
 */
#ifndef MKXIPFS_H
#define MKXIPFS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "xipfs/format.h"

struct archive;
struct archive_entry;

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
	struct node *hnext;		/* struct node_index's hash chain */
	uint32_t layer;			/* layers.c: the last layer that wrote it */
	bool dead;			/* layers.c: no name left in the tree */
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
	bool merkle;			/* append the integrity tree (default) */
	const char *platform;		/* container images: os/arch, NULL: the host's */
	bool from_image;		/* a container image: reproducible by default */
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
	/* open-addressing table of extent runs (shared by identical files) */
	struct run_slot { uint64_t h; uint64_t off; uint32_t count; } *runs;
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

/* One build: what every stage needs, passed explicitly. */
struct build {
	const struct opts *o;
	struct store *st;
	bool failed;			/* an error was reported: the build stops */
	uint8_t *chunk;			/* add_data()'s read buffer */
	size_t chunk_size;
	struct timespec last_tick;	/* progress_tick() */
};

/* tree.c: the tree, and what both inputs share */
void build_init(struct build *b, const struct opts *o, struct store *st);
void build_free(struct build *b);
/* Report an error about @path; only the first one of a build is printed. */
void die_path(struct build *b, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void progress_tick(struct build *b, bool force);
struct node *node_new(struct node *parent, const char *name, size_t len);
void tree_free(struct node *n);
/* Sort every directory's entries by name (memcmp order, shorter first). */
void tree_sort(struct node *n);
/* Whether @rel (an archive entry's path may start with "/" or "./") is excluded. */
bool excluded(const struct opts *o, const char *rel);
/*
 * The next component of the path at *@path, which then points at it:
 * separators and "." components are skipped.  Its length; 0 at the end.
 */
size_t path_next(const char **path);
/*
 * The archive inputs' (parent, name) -> node index, chained through
 * node->hnext: a directory of a million entries costs no more per lookup
 * than a small one.
 */
struct node_index {
	struct node **buckets;
	size_t nbuckets, count;		/* nbuckets: a power of two */
};
struct node *index_find(const struct node_index *x, const struct node *dir,
			const char *name, size_t len);
void index_add(struct node_index *x, struct node *n);
void index_remove(struct node_index *x, struct node *n);
void index_free(struct node_index *x);
/*
 * A new directory @name of @dir, findable through @x, implicit: made for a
 * path through it, with defaults (0755, @root's mtime, written by @layer)
 * until its own entry comes.
 */
struct node *implicit_dir(struct node_index *x, struct node *dir, const char *name,
			  size_t len, const struct node *root, uint32_t layer);
/*
 * The directory holding the last component of archive entry @path under
 * @root, directories missing on the way made (implicit_dir()); the last
 * component in *@name, *@len (0: @path names @root itself).  Components
 * are checked left to right, the tar input and image layers alike: the
 * first that cannot be stored ('..', longer than 255 bytes) or that is on
 * the way but not a directory is reported against @where, and NULL.
 */
struct node *entry_parent(struct build *b, struct node_index *x, struct node *root,
			  const char *path, uint32_t layer, const char *where,
			  const char **name, size_t *len);
/* The node @path names under @root, through directories only; NULL if none. */
struct node *index_lookup(const struct node_index *x, struct node *root, const char *path);
void clear_xattrs(struct node *n);
int add_xattr(struct node *n, const char *name, const void *val, size_t len);
/* Feed a file's n->size bytes to the store; @rd reads like read(2). */
typedef ssize_t (*read_fn)(void *ctx, void *buf, size_t len);
int add_data(struct build *b, struct node *n, read_fn rd, void *ctx, const char *path);

/* dirwalk.c: a directory tree */
struct node *tree_from_dir(struct build *b, const char *src);

/* tar.c: tar input */
/* A libarchive reader of tar streams, any compression. */
struct archive *tar_archive_new(void);
/* The whole tar stream @src ("-": standard input). */
struct node *tree_from_tar(struct build *b, const char *src);
/*
 * The metadata of entry @e onto @n, with a symlink's target and a regular
 * file's size; then, while @a is at that entry (layers.c: at it again, in
 * a second pass), its data.  0, or -errno after die_path().
 */
int tar_entry_meta(struct build *b, struct node *n, struct archive_entry *e,
		   const char *where);
int tar_entry_data(struct build *b, struct archive *a, struct node *n, const char *where);

/*
 * layers.c: a container image, oci:DIR[:TAG] or docker-archive:FILE.
 * image_free() frees what the tree may still point to, after the tree.
 */
struct node *tree_from_image(struct build *b, const char *src);
void image_free(void);

/* layout.c: number inodes, lay out and write the metadata and superblock */
int finish_image(struct build *b, struct node *root, uint64_t *meta_bytes,
		 uint64_t *image_bytes);

/* store.c */
int store_init(struct store *st, int fd, const char *path, unsigned shift, bool dedupe);
void store_free(struct store *st);
void file_begin(struct store *st);
void store_sign(struct store *st, const uint8_t *buf, uint32_t n, struct page_sig *sig);
int file_page(struct store *st, uint32_t lpage, const uint8_t *page,
	      const struct page_sig *sig);
int file_end(struct store *st, struct node *n);
int store_flush(struct store *st);

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
