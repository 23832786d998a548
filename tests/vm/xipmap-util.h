/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the xipmap.ko guest test drivers (xipmap-test, xipmap-harden,
 * xipmap-stat) all do: make and seal a memfd segment, reopen a descriptor,
 * attach a segment and make a backing file.  The ioctl wrappers return -1
 * with errno set, for the callers to check or expect.
 */
#ifndef XIPFS_TESTS_VM_XIPMAP_UTIL_H
#define XIPFS_TESTS_VM_XIPMAP_UTIL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xipfs/xipmap.h"

/*
 * Size @fd, a new memfd or tmpfs file (-1 if it could not be made), to
 * @bytes and map it shared and writable, to fill it.  Exits 77 if the file
 * cannot be had, 1 if it cannot be mapped.
 */
static inline unsigned char *map_new_segment(int fd, size_t bytes)
{
	unsigned char *p;

	if (fd < 0 || ftruncate(fd, (off_t)bytes) < 0) {
		perror("segment file");
		exit(77);
	}
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap segment file");
		exit(1);
	}
	return p;
}

/* Seal memfd @fd as xipmap.ko wants it (and against new seals); exits 1 on failure. */
static inline void seal_memfd(int fd)
{
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_SEAL) < 0) {
		perror("F_ADD_SEALS");
		exit(1);
	}
}

/* Open what @fd is open on again (through /proc/self/fd), with @flags. */
static inline int reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags);
}

/*
 * The UUID (16 bytes at offset 32) of the xipfs superblock at the start of
 * @path, an ivshmem segment's host file; -1 if there is none.
 */
static inline int read_uuid(const char *path, unsigned char *uuid)
{
	unsigned char hdr[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || pread(fd, hdr, 64, 0) != 64 || memcmp(hdr, "XIPFSIMG", 8)) {
		fprintf(stderr, "%s: no xipfs superblock\n", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	memcpy(uuid, hdr + 32, 16);
	return 0;
}

/* Attach memfd or tmpfs file @fd through /dev/xipmap @dev: the segment handle; *@size its bytes. */
static inline int attach_fd(int dev, int fd, uint64_t *size)
{
	struct xipmap_attach a = { .kind = XIPMAP_SEG_FD, .fd = fd };

	if (ioctl(dev, XIPMAP_IOC_ATTACH, &a) < 0)
		return -1;
	if (size)
		*size = a.size;
	return a.seg_fd;
}

/* A backing file of @size bytes, page i segment page @pages[i] of handle @seg. */
static inline int create_file(int dev, int seg, const uint64_t *pages,
			      uint64_t count, uint64_t size)
{
	struct xipmap_create c = {
		.seg_fd = seg, .size = size, .count = count,
		.pages = (uintptr_t)pages,
	};

	if (ioctl(dev, XIPMAP_IOC_CREATE, &c) < 0)
		return -1;
	return c.fd;
}

#endif
