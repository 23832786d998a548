// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xipmap: what of a segment is mapped now (XIPMAP_IOC_SEG_STAT).
 *
 * Counted on demand, never on the fault path: the fault handlers stay free
 * of counters, and no count could stay exact anyway, as zaps (munmap,
 * MADV_DONTNEED, exit, unmap_mapping_range()) drop special PTEs without
 * telling the driver.  A page's mapcount would do for shmem segments, but
 * it also counts every other mapping of the segment file (the daemon's,
 * a VMM's) and BAR frames have none.  So the page tables themselves are
 * read: every process's vmas of our vm_operations that map a backing file
 * of the segment, under that process's mmap lock, one process at a time.
 *
 * The cost is paid by the caller, in proportion to the processes, their
 * vmas and the PTEs of those mappings; page faults and mmap() pay nothing.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/capability.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "../include/xipfs/xipmap.h"
#include "internal.h"

struct xipmap_stat_walk {
	struct xipmap_seg *seg;
	unsigned long *seen;		/* segment pages mapped, a bitmap */
	struct xipmap_seg_stat st;
};

/* The segment page a present PTE maps, or -1 for anything else. */
static s64 xipmap_stat_index(struct xipmap_seg *seg, pte_t pte)
{
	unsigned long pfn = pte_pfn(pte);
	struct folio *folio;
	struct page *page;
	u64 idx;

	if (seg->kind == XIPMAP_KIND_BAR) {
		idx = pfn - PHYS_PFN(seg->phys);
		return pfn >= PHYS_PFN(seg->phys) && idx < seg->npages ?
			(s64)idx : -1;
	}
	if (!pfn_valid(pfn))
		return -1;
	page = pfn_to_page(pfn);
	folio = page_folio(page);
	/* Mapped (and pinned) under the PTE lock we hold: stable. */
	if (folio_test_anon(folio) || folio->mapping != seg->file->f_mapping)
		return -1;
	idx = folio->index + folio_page_idx(folio, page);
	return idx < seg->npages ? (s64)idx : -1;
}

/* Called under the PTE lock for every PTE that is not none. */
static int xipmap_stat_pte(pte_t *ptep, unsigned long addr, void *data)
{
	struct xipmap_stat_walk *w = data;
	pte_t pte = ptep_get(ptep);
	unsigned long pfn;
	s64 idx;

	if (!pte_present(pte))
		return 0;
	idx = xipmap_stat_index(w->seg, pte);
	if (idx >= 0) {
		w->st.mapped_ptes++;
		__set_bit(idx, w->seen);
		return 0;
	}
	pfn = pte_pfn(pte);
	if (pfn_valid(pfn) && PageAnon(pfn_to_page(pfn)))
		w->st.private_ptes++;
	return 0;
}

static int xipmap_stat_mm(struct xipmap_stat_walk *w, struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	bool found = false;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	for_each_vma(vmi, vma) {
		if (vma->vm_ops != &xipmap_vm_ops ||
		    xipmap_xi(file_inode(vma->vm_file))->seg != w->seg)
			continue;
		found = true;
		w->st.mappings++;
		/*
		 * Only PTEs: faults never map a PMD or a PUD here.  A page
		 * table being freed meanwhile only ends this vma's walk.
		 */
		apply_to_existing_page_range(mm, vma->vm_start,
					     vma->vm_end - vma->vm_start,
					     xipmap_stat_pte, w);
	}
	mmap_read_unlock(mm);
	w->st.processes += found;
	return 0;
}

/*
 * Every address space once: by thread group (threads share it), and
 * remembering the ones seen for processes that share one (CLONE_VM).
 */
static int xipmap_stat_walk_all(struct xipmap_stat_walk *w)
{
	struct task_struct *task;
	struct mm_struct *mm;
	struct pid *pid;
	DEFINE_XARRAY(mms);
	int nr, err = 0;

	for (nr = 1; ; nr++) {
		rcu_read_lock();
		pid = find_ge_pid(nr, &init_pid_ns);
		if (!pid) {
			rcu_read_unlock();
			break;
		}
		nr = pid_nr(pid);
		task = pid_task(pid, PIDTYPE_TGID);
		if (task)
			get_task_struct(task);
		rcu_read_unlock();
		if (!task)
			continue;
		mm = get_task_mm(task);		/* NULL for kernel threads */
		put_task_struct(task);
		if (!mm)
			continue;
		err = xa_insert(&mms, (unsigned long)mm, xa_mk_value(0),
				GFP_KERNEL);
		if (!err)
			err = xipmap_stat_mm(w, mm);
		else if (err == -EBUSY)
			err = 0;
		mmput(mm);
		if (!err && fatal_signal_pending(current))
			err = -EINTR;
		if (err)
			break;
		cond_resched();
	}
	xa_destroy(&mms);
	return err;
}

long xipmap_seg_stat(struct xipmap_seg *seg, void __user *argp)
{
	struct xipmap_stat_walk w = { .seg = seg };
	struct xipmap_inode *xi;
	int err;

	/* The handle's holder had it; whoever uses it must have it too. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&w.st, argp, sizeof(w.st)))
		return -EFAULT;
	if (w.st.flags || w.st.reserved)
		return -EINVAL;
	w.seen = bitmap_zalloc(seg->npages, GFP_KERNEL_ACCOUNT);
	if (!w.seen)
		return -ENOMEM;
	w.st.pages = seg->npages;
	mutex_lock(&seg->inodes_lock);
	list_for_each_entry(xi, &seg->inodes, node)
		w.st.files++;
	mutex_unlock(&seg->inodes_lock);

	err = xipmap_stat_walk_all(&w);
	if (!err) {
		w.st.mapped_pages = bitmap_weight(w.seen, seg->npages);
		if (copy_to_user(argp, &w.st, sizeof(w.st)))
			err = -EFAULT;
	}
	bitmap_free(w.seen);
	return err;
}
