/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The page frame behind an address, for guest tests. */
#ifndef XIPFS_TESTS_VM_PAGEMAP_H
#define XIPFS_TESTS_VM_PAGEMAP_H

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

/*
 * Fault @addr in (a read) and return its page frame number from
 * /proc/self/pagemap (root sees real frames); 0 if not present.
 */
static inline uint64_t pfn_of(const void *addr)
{
	uint64_t ent = 0, psz = (uint64_t)sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	(void)*(volatile const char *)addr;
	if (pread(fd, &ent, 8, (off_t)((uintptr_t)addr / psz * 8)) != 8)
		ent = 0;
	close(fd);
	return ent >> 63 ? ent & ((1ULL << 55) - 1) : 0;
}

#endif
