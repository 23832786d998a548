/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the fuzz targets: quiet logging and a bounded image walk. */
#ifndef XIPFS_FUZZ_H
#define XIPFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "xipfs/xipfs.h"

/* Inputs larger than this are ignored: seeds are a few KiB. */
#define FUZZ_MAX_INPUT		(1u << 20)
/* Bytes of file data read per image, so one input cannot take seconds. */
#define FUZZ_READ_BUDGET	(256u << 10)
/* Inodes walked per image (the fuzzer can claim 4 billion). */
#define FUZZ_MAX_INODES		4096u
/* Entries looked at per directory. */
#define FUZZ_MAX_ENTRIES	1024u

/* Silence libxipfs (corruption messages are the expected case). */
void fuzz_quiet(void);

/*
 * Call every read-only libxipfs function on every inode of @img, checking
 * the API's promises (abort() on a broken one, so the fuzzer reports it).
 */
void fuzz_walk(const struct xipfs_image *img);

/* abort() with a message if @cond is false: a broken API promise. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond);			\
} while (0)
void fuzz_fail(const char *file, int line, const char *what)
	__attribute__((noreturn));

#endif
