/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The page frame behind an address, for guest tests. */
#ifndef XIPFS_TESTS_VM_PAGEMAP_H
#define XIPFS_TESTS_VM_PAGEMAP_H

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

/*
 * *@pfn = the page frame number of @addr, from /proc/self/pagemap open as
 * @pm (root sees real frames), 0 if not present; no fault is taken.
 * Returns 0, or -1 (with *@pfn 0) if pagemap could not be read.
 */
static inline int pagemap_frame(int pm, const void *addr, uint64_t *pfn)
{
	uint64_t ent, psz = (uint64_t)sysconf(_SC_PAGESIZE);

	*pfn = 0;
	if (pread(pm, &ent, 8, (off_t)((uintptr_t)addr / psz * 8)) != 8)
		return -1;
	if (ent >> 63)
		*pfn = ent & ((1ULL << 55) - 1);
	return 0;
}

/* Fault @addr in (a read) and return its page frame number; 0 if not present. */
static inline uint64_t pfn_of(const void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t pfn = 0;

	if (fd < 0)
		return 0;
	(void)*(volatile const char *)addr;
	pagemap_frame(fd, addr, &pfn);
	close(fd);
	return pfn;
}

#endif
