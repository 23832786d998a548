/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xipmap.ko internals shared by its source files: segments and backing
 * files (main.c), their statistics (stat.c).
 */
#ifndef XIPMAP_INTERNAL_H
#define XIPMAP_INTERNAL_H

#include <linux/device.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/types.h>

enum xipmap_kind {
	XIPMAP_KIND_SHMEM,	/* memfd or tmpfs file: pages have struct page */
	XIPMAP_KIND_BAR,	/* ivshmem BAR, virtio-pmem: no struct page */
};

struct xipmap_seg {
	struct kref ref;
	enum xipmap_kind kind;
	u64 npages;
	struct list_head node;		/* in xipmap_files or xipmap_bars */
	/* XIPMAP_KIND_SHMEM */
	struct file *file;
	bool denied_write;	/* we hold deny_write_access() on file */
	struct folio **folios;	/* every folio of file, pinned */
	unsigned long nfolios;
	/* XIPMAP_KIND_BAR: a region without struct pages */
	u32 source;			/* XIPMAP_SEG_IVSHMEM or _PMEM */
	struct rw_semaphore lock;	/* held for read while using virt */
	bool gone;			/* device removed: virt is invalid */
	void *virt;
	phys_addr_t phys;
	u8 uuid[16];
	/* Every kind: the live backing files, for unmapping and statistics. */
	struct list_head inodes;	/* struct xipmap_inode */
	struct mutex inodes_lock;
};

/* Per backing file state, in inode->i_private. */
struct xipmap_inode {
	struct xipmap_seg *seg;
	struct inode *inode;
	struct list_head node;		/* in seg->inodes */
	u64 npages;			/* file pages */
	u64 first;			/* linear: segment page of file page 0 */
	u64 count;			/* entries in pages: npages, 0 if linear */
	u64 pages[] __counted_by(count);
};

static inline struct xipmap_inode *xipmap_xi(struct inode *inode)
{
	return inode->i_private;
}

/* The vm_operations of every mapping of a backing file. */
extern const struct vm_operations_struct xipmap_vm_ops;

/* main.c: a region (BAR, virtio-pmem) as a segment, and its removal. */
struct xipmap_seg *xipmap_region_add(struct device *dev, u32 source,
				     phys_addr_t start, u64 len);
void xipmap_region_remove(struct xipmap_seg *seg);

/* pmem.c: the virtio-pmem driver. */
int xipmap_pmem_register(void);
void xipmap_pmem_unregister(void);

/* stat.c: XIPMAP_IOC_SEG_STAT on a segment handle. */
long xipmap_seg_stat(struct xipmap_seg *seg, void __user *argp);

#endif /* XIPMAP_INTERNAL_H */
