/* SPDX-License-Identifier: GPL-2.0-or-later WITH Linux-syscall-note OR MIT */
/*
 * The user API of xipmap.ko, the xipfs kernel helper.
 *
 * /dev/xipmap (mode 0600) takes these ioctls; every one of them also needs
 * CAP_SYS_ADMIN.  The flow is:
 *
 *   XIPMAP_IOC_VERSION  check XIPMAP_API_VERSION and learn the page size.
 *   XIPMAP_IOC_ATTACH   attach a segment: a sealed memfd, a /dev/shm file
 *                       (denied write access while attached) or, inside a
 *                       guest, an ivshmem-plain BAR or a virtio-pmem region
 *                       found by the UUID in its xipfs superblock (all
 *                       zeros: the first one of that kind bound).
 *                       Returns a segment fd; closing it drops the caller's
 *                       reference (files created from it keep the segment
 *                       alive).  pread() on it reads the raw segment,
 *                       superblock included.
 *                       flags XIPMAP_ATTACH_EXISTING: only a segment
 *                       attached already (ENOENT if none): a look at its
 *                       statistics that pins and denies nothing.
 *   XIPMAP_IOC_CREATE   create a read-only regular backing file whose
 *                       page i is segment page pages[i].  Returns an
 *                       O_RDONLY fd fit for FUSE passthrough, read, splice
 *                       and mmap (shared and private).
 *
 * On a segment handle:
 *   XIPMAP_IOC_SEG_STAT what of the segment is mapped now, counted on
 *                       demand (nothing is counted at fault time): the
 *                       page tables of every mapping of the segment's
 *                       backing files, in every process, are walked one
 *                       process at a time, so the figures are exact for
 *                       each process but not one atomic snapshot.
 *
 * Page indices count XIPMAP_IOC_VERSION's page_size bytes (the kernel page
 * size) from the start of the segment.  Index 0 (XIPMAP_HOLE) is a hole and
 * reads as zeros: page 0 of an xipfs segment is always the superblock, never
 * file data.  Every other index must be below the segment's page count.
 *
 * All structs have fixed layouts (no implicit padding) and the same size on
 * 32- and 64-bit userspace.  Reserved fields and flags must be zero.
 */
#ifndef XIPFS_XIPMAP_H
#define XIPFS_XIPMAP_H

#include <linux/const.h>
#include <linux/types.h>
#include <linux/ioctl.h>

#define XIPMAP_API_VERSION	1
#define XIPMAP_DEVICE		"/dev/xipmap"

#define XIPMAP_HOLE		0ULL	/* page index that reads as zeros */
#define XIPMAP_MAX_PAGES	_BITULL(22)	/* pages in one backing file */

struct xipmap_version {
	__u32 version;		/* out: XIPMAP_API_VERSION */
	__u32 page_size;	/* out: bytes per page index */
	__u64 max_pages;	/* out: XIPMAP_MAX_PAGES */
};

/* xipmap_attach.kind */
#define XIPMAP_SEG_FD		1	/* fd: sealed memfd or tmpfs file */
#define XIPMAP_SEG_IVSHMEM	2	/* uuid: ivshmem-plain BAR 2 */
#define XIPMAP_SEG_PMEM		3	/* uuid: virtio-pmem region */

/* xipmap_attach.flags */
#define XIPMAP_ATTACH_EXISTING	_BITUL(0)	/* never attach anew */

struct xipmap_attach {
	__u32 kind;		/* in: XIPMAP_SEG_* */
	__s32 fd;		/* in (XIPMAP_SEG_FD): the segment file */
	__u8  uuid[16];		/* in (_IVSHMEM, _PMEM): s_uuid to find */
	__u32 flags;		/* in: XIPMAP_ATTACH_* */
	__s32 seg_fd;		/* out: the segment handle (O_CLOEXEC) */
	__u64 size;		/* out: segment bytes (page_size multiple) */
};

/*
 * xipmap_create.flags.  XIPMAP_CREATE_LINEAR: the file is the run of
 * segment pages that starts at page xipmap_create.pages (a page index, not
 * a pointer): file page i is segment page pages + i, with no list to copy
 * and keep (the daemon's view of a whole guest segment: 8 bytes less per
 * page, 1.6 MiB for an 800 MiB /usr).  Segment page 0 reads as a hole.
 */
#define XIPMAP_CREATE_LINEAR	_BITUL(0)

struct xipmap_create {
	__s32 seg_fd;		/* in: from XIPMAP_IOC_ATTACH */
	__u32 flags;		/* in: XIPMAP_CREATE_* */
	__u64 size;		/* in: file size in bytes, > 0 */
	__u64 count;		/* in: file pages, ceil(size / page_size) */
	/*
	 * in: user pointer to __u64[count], the segment page of each file
	 * page (XIPMAP_HOLE for a hole); with XIPMAP_CREATE_LINEAR the
	 * segment page of file page 0
	 */
	__u64 pages;
	__s32 fd;		/* out: the backing file (O_RDONLY|O_CLOEXEC) */
	__u32 reserved;		/* 0 */
};

/*
 * A "mapping" is one vma (mmap() of a FUSE file served by the segment, or
 * the daemon's own view of a guest segment); a "mapped page" a segment
 * page at least one page table entry maps.  Holes (our zero page) and
 * private copies (COW, debugger writes) are not segment pages.
 */
struct xipmap_seg_stat {
	__u32 flags;		/* in: 0 */
	__u32 reserved;		/* 0 */
	__u64 pages;		/* out: segment pages */
	__u64 files;		/* out: live backing files of the segment */
	__u64 mappings;		/* out: vmas mapping those files */
	__u64 processes;	/* out: address spaces holding such vmas */
	__u64 mapped_pages;	/* out: distinct segment pages mapped now */
	__u64 mapped_ptes;	/* out: PTEs mapping segment pages */
	__u64 private_ptes;	/* out: private copies mapped in such vmas */
};

#define XIPMAP_IOC_MAGIC	0xB8
#define XIPMAP_IOC_VERSION	_IOR(XIPMAP_IOC_MAGIC, 0, struct xipmap_version)
#define XIPMAP_IOC_ATTACH	_IOWR(XIPMAP_IOC_MAGIC, 1, struct xipmap_attach)
#define XIPMAP_IOC_CREATE	_IOWR(XIPMAP_IOC_MAGIC, 2, struct xipmap_create)
#define XIPMAP_IOC_SEG_STAT	_IOWR(XIPMAP_IOC_MAGIC, 3, struct xipmap_seg_stat)

#endif /* XIPFS_XIPMAP_H */
