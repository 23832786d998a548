// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The page store.  Every non-zero page is hashed with XXH3-128 and looked
 * up in an open-addressing table; a hash match is confirmed by comparing
 * the bytes with the stored page, so a collision can never merge different
 * pages.  New pages are appended to the image in first-seen order; the
 * table holds 24 bytes per unique page, so memory follows unique pages,
 * not input bytes.  A file's pages become extents; identical extent lists
 * (identical files) are stored once.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "xipfs/xipfs.h"
#include "xipfs/xalloc.h"
#include "mkxipfs.h"

#define WBUF_BYTES (4u << 20)

/* Grow @p to hold @need elements of @esize bytes, doubling. */
static void *xgrow(void *p, size_t *cap, size_t need, size_t esize)
{
	size_t n = *cap ? *cap : 16;

	if (need <= *cap)
		return p;
	while (n < need && n <= SIZE_MAX / 2)
		n *= 2;
	if (n < need)
		xipfs_oom();
	*cap = n;
	return xreallocarray(p, n, esize);
}

static bool is_zero(const uint8_t *p, size_t len);

static void sign_range(const struct store *st, const uint8_t *buf, uint32_t from,
		       uint32_t to, struct page_sig *sig)
{
	for (uint32_t i = from; i < to; i++) {
		const uint8_t *p = buf + ((size_t)i << st->shift);

		sig[i].zero = is_zero(p, st->psize);
		if (!sig[i].zero && st->dedupe) {
			XXH128_hash_t h = XXH3_128bits(p, st->psize);

			sig[i].h0 = h.low64;
			sig[i].h1 = h.high64;
		}
	}
}

static void *worker_main(void *arg)
{
	struct store *st = arg;
	unsigned seen = 0;

	pthread_mutex_lock(&st->mu);
	for (;;) {
		while (st->gen == seen && !st->stop)
			pthread_cond_wait(&st->go, &st->mu);
		if (st->stop)
			break;
		seen = st->gen;
		pthread_mutex_unlock(&st->mu);
		sign_range(st, st->job_buf, st->job_first, st->job_first + st->job_count,
			   st->job_sig);
		pthread_mutex_lock(&st->mu);
		st->done_gen = seen;
		pthread_cond_signal(&st->done);
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

/*
 * Zero-check and hash @n pages: the second half on the worker thread while
 * this one does the first.  Only signatures are computed in parallel; the
 * dedupe decisions stay serial and in order, so the image is the same
 * whatever the thread timing.
 */
void store_sign(struct store *st, const uint8_t *buf, uint32_t n, struct page_sig *sig)
{
	uint32_t mid = n / 2;

	if (!st->have_worker || n < 4) {
		sign_range(st, buf, 0, n, sig);
		return;
	}
	pthread_mutex_lock(&st->mu);
	st->job_buf = buf;
	st->job_sig = sig;
	st->job_first = mid;
	st->job_count = n - mid;
	st->gen++;
	pthread_cond_signal(&st->go);
	pthread_mutex_unlock(&st->mu);
	sign_range(st, buf, 0, mid, sig);
	pthread_mutex_lock(&st->mu);
	while (st->done_gen != st->gen)
		pthread_cond_wait(&st->done, &st->mu);
	pthread_mutex_unlock(&st->mu);
}

int store_init(struct store *st, int fd, const char *path, unsigned shift,
	       bool dedupe)
{
	memset(st, 0, sizeof(*st));
	st->fd = fd;
	st->path = path;
	st->shift = shift;
	st->psize = 1u << shift;
	st->dedupe = dedupe;
	st->next_page = 1;
	st->wstart = 1;
	st->nslots = 1 << 16;
	st->slots = calloc(st->nslots, sizeof(*st->slots));
	st->wcap = WBUF_BYTES > st->psize ? WBUF_BYTES : st->psize;
	st->wbuf = malloc(st->wcap);
	st->cmpbuf = malloc(st->psize);
	if (!st->slots || !st->wbuf || !st->cmpbuf)
		return -ENOMEM;
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->go, NULL);
	pthread_cond_init(&st->done, NULL);
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
		st->have_worker = !pthread_create(&st->worker, NULL, worker_main, st);
	return 0;
}

void store_free(struct store *st)
{
	if (st->have_worker) {
		pthread_mutex_lock(&st->mu);
		st->stop = true;
		pthread_cond_signal(&st->go);
		pthread_mutex_unlock(&st->mu);
		pthread_join(st->worker, NULL);
		st->have_worker = false;
	}
	free(st->slots);
	free(st->sums);
	free(st->wbuf);
	free(st->cmpbuf);
	free(st->cur);
	free(st->ext);
	free(st->runs);
}

int store_flush(struct store *st)
{
	int err = xipfs_pwrite_all(st->fd, st->wbuf, st->wlen, (off_t)(st->wstart << st->shift));

	if (err)
		return err;
	st->wstart += st->wlen >> st->shift;
	st->wlen = 0;
	return 0;
}

/* The stored bytes of @page, from the write buffer or read back. */
static const uint8_t *stored_page(struct store *st, uint32_t page)
{
	ssize_t n;

	if (page >= st->wstart)
		return st->wbuf + ((uint64_t)(page - st->wstart) << st->shift);
	n = pread(st->fd, st->cmpbuf, st->psize, (off_t)page << st->shift);
	return n == (ssize_t)st->psize ? st->cmpbuf : NULL;
}

/*
 * The store's two tables, pages by signature and extent runs by hash, are
 * open addressing with linear probing over a power-of-two number of slots.
 * A copy of the @nold slots of @old, of @size bytes each, in @n slots;
 * @used tells a full slot from an empty (zeroed) one.
 */
static void *rehash(const void *old, size_t nold, size_t n, size_t size,
		    uint64_t (*hash)(const void *), bool (*used)(const void *))
{
	uint8_t *t = calloc(n, size);

	if (!t)
		return NULL;
	for (size_t i = 0; i < nold; i++) {
		const uint8_t *e = (const uint8_t *)old + i * size;
		size_t j;

		if (!used(e))
			continue;
		for (j = hash(e) & (n - 1); used(t + j * size); j = (j + 1) & (n - 1))
			;
		memcpy(t + j * size, e, size);
	}
	return t;
}

static uint64_t slot_hash(const void *e)
{
	return ((const struct slot *)e)->h0;
}

static bool slot_used(const void *e)
{
	return ((const struct slot *)e)->page;
}

static int grow_table(struct store *st)
{
	struct slot *s = rehash(st->slots, st->nslots, st->nslots * 2, sizeof(*s),
				slot_hash, slot_used);

	if (!s)
		return -ENOMEM;
	free(st->slots);
	st->slots = s;
	st->nslots *= 2;
	return 0;
}

static int append_page(struct store *st, const uint8_t *page, uint32_t *out)
{
	int err;

	if (st->next_page == UINT32_MAX)
		return -EFBIG;
	if (st->wlen + st->psize > st->wcap) {
		err = store_flush(st);
		if (err)
			return err;
	}
	memcpy(st->wbuf + st->wlen, page, st->psize);
	st->wlen += st->psize;
	st->sums = xgrow(st->sums, &st->capsums, st->next_page, sizeof(*st->sums));
	st->sums[st->next_page - 1] = xipfs_crc32c(0, page, st->psize);
	*out = st->next_page++;
	return 0;
}

static bool is_zero(const uint8_t *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < len / 8; i += 4)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3])
			return false;
	return true;
}

/* Store @page (psize bytes) and return its image page number in @out. */
static int store_page(struct store *st, const uint8_t *page,
		      const struct page_sig *sig, uint32_t *out)
{
	size_t j;
	int err;

	if (!st->dedupe)
		return append_page(st, page, out);
	for (j = sig->h0 & (st->nslots - 1); st->slots[j].page;
	     j = (j + 1) & (st->nslots - 1)) {
		const uint8_t *old;

		if (st->slots[j].h0 != sig->h0 || st->slots[j].h1 != sig->h1)
			continue;
		old = stored_page(st, st->slots[j].page);
		if (!old)
			return errno ? -errno : -EIO;
		if (!memcmp(old, page, st->psize)) {
			*out = st->slots[j].page;
			st->dedup_pages++;
			return 0;
		}
		/* A true XXH3-128 collision: keep both pages. */
	}
	err = append_page(st, page, out);
	if (err)
		return err;
	st->slots[j].h0 = sig->h0;
	st->slots[j].h1 = sig->h1;
	st->slots[j].page = *out;
	if (++st->used * 2 > st->nslots)
		return grow_table(st);
	return 0;
}

void file_begin(struct store *st)
{
	st->ncur = 0;
}

int file_page(struct store *st, uint32_t lpage, const uint8_t *page,
	      const struct page_sig *sig)
{
	struct extent *last = st->ncur ? &st->cur[st->ncur - 1] : NULL;
	uint32_t pg;
	int err;

	st->file_pages++;
	if (sig->zero) {
		st->hole_pages++;
		return 0;
	}
	err = store_page(st, page, sig, &pg);
	if (err)
		return err;
	if (last && last->lpage + last->count == lpage &&
	    last->page + last->count == pg) {
		last->count++;
		return 0;
	}
	st->cur = xgrow(st->cur, &st->capcur, (size_t)st->ncur + 1, sizeof(*st->cur));
	st->cur[st->ncur++] = (struct extent){ lpage, 1, pg };
	return 0;
}

static uint64_t run_hash(const void *e)
{
	return ((const struct run_slot *)e)->h;
}

static bool run_used(const void *e)
{
	return ((const struct run_slot *)e)->count;
}

static int grow_runs(struct store *st)
{
	size_t n = st->capruns ? st->capruns * 2 : 1024;
	struct run_slot *r = rehash(st->runs, st->capruns, n, sizeof(*r), run_hash, run_used);

	if (!r)
		return -ENOMEM;
	free(st->runs);
	st->runs = r;
	st->capruns = n;
	return 0;
}

/* Close the file: share its extent list with an identical earlier one. */
int file_end(struct store *st, struct node *n)
{
	uint64_t h = XXH3_64bits(st->cur, st->ncur * sizeof(*st->cur));
	size_t j;

	n->ext_count = st->ncur;
	n->ext_off = 0;
	if (!st->ncur)
		return 0;
	if ((st->nruns + 1) * 2 > st->capruns && grow_runs(st))
		return -ENOMEM;
	for (j = h & (st->capruns - 1); st->runs[j].count;
	     j = (j + 1) & (st->capruns - 1)) {
		if (st->runs[j].h == h && st->runs[j].count == st->ncur &&
		    !memcmp(st->ext + st->runs[j].off, st->cur,
			    st->ncur * sizeof(*st->cur))) {
			n->ext_off = st->runs[j].off;
			return 0;
		}
	}
	st->ext = xgrow(st->ext, &st->capext, st->next + st->ncur, sizeof(*st->ext));
	memcpy(st->ext + st->next, st->cur, st->ncur * sizeof(*st->cur));
	n->ext_off = st->next;
	st->next += st->ncur;
	st->runs[j].h = h;
	st->runs[j].off = n->ext_off;
	st->runs[j].count = st->ncur;
	st->nruns++;
	return 0;
}
