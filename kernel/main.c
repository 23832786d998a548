// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xipmap: execute-in-place backing files for xipfs.
 *
 * A segment is a read-only page array: a sealed memfd or a tmpfs file on the
 * host, or inside a guest the BAR 2 of a QEMU ivshmem-plain device or the
 * region of a virtio-pmem device (pmem.c), neither with struct pages.  For a
 * list of segment page indices this module makes a read-only regular file on
 * a private pseudo file system whose page i is segment page pages[i].  The
 * xipfs daemon hands that file to FUSE passthrough, so reads and page faults
 * on the FUSE file land here and map the segment's own frames: one physical
 * copy serves every process (and every guest sharing the BAR).
 *
 * A read fault maps the faulting page and its neighbours (fault-around,
 * see XIPMAP_FAULT_AROUND).  Frames with a struct page (shmem) become
 * ordinary refcounted file PTEs (vm_insert_pages()), so COW, GUP and ptrace
 * behave as for any file.  Every folio of such a segment is pinned at
 * attach (memfd_pin_folios(), long-term semantics): the PTEs are not in
 * the segment file's rmap, so migration, compaction, CMA and reclaim must
 * never try to move them.  BAR frames have no struct page and are inserted
 * as special PTEs (VM_MIXEDMAP).  Private write faults hand the core the
 * page to copy (BAR frames through a temporary page).
 * BAR mappings are also VM_IO, so GUP refuses them and ptrace and
 * /proc/PID/mem go through ->access, which reads the segment or the
 * process's own COW copies, and writes (breakpoints) into a page only the
 * process maps, else into a copy replacing it (xipmap_access_write()).
 * Writes into mappings without VM_WRITE are FOLL_FORCE writes: allowed to
 * the process's tracer only (xipmap_may_force()).  Known limit: whatever
 * needs GUP on these mappings (process_vm_readv, O_DIRECT from such a
 * buffer) fails with EFAULT, and core dumps leave VM_IO mappings out.
 *
 * The list's invariants are checked once at creation (every index below the
 * segment's page count) and again at every fault and read, so no caller
 * input can reach a frame outside its segment.
 *
 * What of a segment is mapped now (XIPMAP_IOC_SEG_STAT on its handle) is
 * counted on demand from the page tables, never on the fault path: stat.c.
 *
 * Backing files live on a private pseudo file system, read-only and noexec:
 * they are never truncated, chmod'ed or run themselves; programs run from
 * the FUSE mount.  Its superblock and every backing file hold the module.
 *
 * Other limits, by design or known:
 * - Huge (PMD-sized) shmem folios work as segment backing, but their pages
 *   are mapped one PTE at a time: a file's pages need not be a folio's
 *   pages in order.
 * - MAP_POPULATE prefaults shmem segment files; BAR mappings are VM_IO,
 *   which populating skips, so they fault (with fault-around).
 * - ptrace writes (breakpoints) into private mappings of shmem segments
 *   COW as for any file; see above for BAR segments.  ->access is not
 *   told FOLL_FORCE, so /proc/PID/mem writes into BAR mappings without
 *   VM_WRITE are allowed to the tracer and refused to anyone else, whatever
 *   proc_mem.force_override says on the command line (a kernel built with
 *   PROC_MEM_NO_FORCE allows ptrace(2) only).
 * - ->access needs follow_pfnmap_start(): Linux 6.12 or later.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/pci.h>
#include <linux/pfn_t.h>
#include <linux/pseudo_fs.h>
#include <linux/rwsem.h>
#include <linux/sched/jobctl.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/userfaultfd_k.h>
#include <linux/unaligned.h>
#include <linux/version.h>

#include "../include/xipfs/format.h"
#include "../include/xipfs/xipmap.h"
#include "internal.h"

#define XIPMAP_FS_MAGIC		0x78697066	/* "xipf" */

/* The xipfs superblock fields a guest identifies a segment by. */
#define XIPFS_HDR_MAGIC_LEN	sizeof_field(struct xipfs_super, s_magic)
#define XIPFS_HDR_UUID_OFF	offsetof(struct xipfs_super, s_uuid)
#define XIPFS_HDR_SIZE_OFF	offsetof(struct xipfs_super, s_size)

#define XIPMAP_SEALS	(F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)

/*
 * The pseudo file system is mounted while a backing file exists: each of its
 * inodes holds one simple_pin_fs() reference, and its superblock holds the
 * module (xipmap_fs_type.owner), so no open file, O_PATH descriptor or
 * mapping of a backing file can outlive the module's code.
 */
static struct vfsmount *xipmap_mnt;
static int xipmap_mnt_count;
static struct page *xipmap_zero_page;
static LIST_HEAD(xipmap_bars);
static DEFINE_MUTEX(xipmap_bars_lock);
/* Attached memfd and tmpfs files: one segment per file, however attached. */
static LIST_HEAD(xipmap_files);
static DEFINE_MUTEX(xipmap_files_lock);
/* Serialises debugger writes into BAR mappings (xipmap_access_write()). */
static DEFINE_MUTEX(xipmap_cow_lock);

static void xipmap_seg_release(struct kref *ref)
{
	struct xipmap_seg *seg = container_of(ref, struct xipmap_seg, ref);

	if (seg->kind == XIPMAP_KIND_SHMEM) {
		mutex_lock(&xipmap_files_lock);
		list_del(&seg->node);
		mutex_unlock(&xipmap_files_lock);
		if (seg->folios) {
			unpin_folios(seg->folios, seg->nfolios);
			kvfree(seg->folios);
		}
		if (seg->denied_write)
			allow_write_access(seg->file);
		fput(seg->file);
	}
	/* A BAR's mapping belongs to its PCI device (devm). */
	kfree(seg);
}

static void xipmap_seg_put(struct xipmap_seg *seg)
{
	kref_put(&seg->ref, xipmap_seg_release);
}

/*
 * The page of segment page @idx (below seg->npages) of a shmem segment.
 * Every folio of the segment is pinned in seg->folios, in file order, for
 * the segment's life (xipmap_pin_file()): the page stays put without a
 * reference of ours and is found without the page cache.
 */
static struct page *xipmap_seg_page(struct xipmap_seg *seg, u64 idx)
{
	unsigned long lo = 0, hi = seg->nfolios, mid;

	/* As many folios as pages: each folio is one page, at its index. */
	if (seg->nfolios == seg->npages)
		return folio_page(seg->folios[idx], 0);
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (seg->folios[mid]->index <= idx)
			lo = mid;
		else
			hi = mid;
	}
	return folio_file_page(seg->folios[lo], idx);
}

/*
 * Copy @n bytes at @off in segment page @idx (checked by the caller to be
 * inside the segment) to @to.  Returns the bytes copied or -errno.
 */
static ssize_t xipmap_seg_copy(struct xipmap_seg *seg, u64 idx, size_t off,
			       size_t n, struct iov_iter *to)
{
	struct page *page;
	size_t copied;

	if (seg->kind == XIPMAP_KIND_SHMEM) {
		page = xipmap_seg_page(seg, idx);
		if (PageHWPoison(page))
			return -EIO;
		return copy_page_to_iter(page, off, n, to);
	}
	down_read(&seg->lock);
	if (seg->gone) {
		up_read(&seg->lock);
		return -EIO;
	}
	copied = copy_to_iter(seg->virt + (idx << PAGE_SHIFT) + off, n, to);
	up_read(&seg->lock);
	return copied;
}

/* ---- the backing files ---- */

/*
 * The segment page behind file page @pgoff: 0 for a hole, -1 past EOF or
 * for an index outside the segment (never true after creation's checks,
 * but cheap to recheck before it becomes a frame number).
 */
static s64 xipmap_lookup(struct xipmap_inode *xi, pgoff_t pgoff)
{
	u64 idx;

	if (pgoff >= xi->npages)
		return -1;
	idx = xi->count ? xi->pages[pgoff] : xi->first + pgoff;
	if (idx == XIPMAP_HOLE)
		return 0;
	if (idx >= xi->seg->npages) {
		pr_warn_ratelimited("page %llu outside the segment (%llu pages)\n",
				    idx, xi->seg->npages);
		return -1;
	}
	return idx;
}

/*
 * Copy from iocb->ki_pos up to @end into @to: file pages through the page
 * list of @xi, or, with @xi NULL, the raw segment (the segment handle).
 */
static ssize_t xipmap_copy_iter(struct xipmap_seg *seg, struct xipmap_inode *xi,
				struct kiocb *iocb, struct iov_iter *to, loff_t end)
{
	ssize_t done = 0, err = 0;

	while (iov_iter_count(to) && iocb->ki_pos < end) {
		pgoff_t pgoff = iocb->ki_pos >> PAGE_SHIFT;
		size_t off = offset_in_page(iocb->ki_pos);
		size_t n = min_t(u64, PAGE_SIZE - off, end - iocb->ki_pos);
		s64 idx = xi ? xipmap_lookup(xi, pgoff) : (s64)pgoff;
		ssize_t copied;

		n = min(n, iov_iter_count(to));
		if (idx < 0) {
			err = -EIO;
			break;
		}
		if (xi && idx == 0)
			copied = iov_iter_zero(n, to);
		else
			copied = xipmap_seg_copy(seg, idx, off, n, to);
		if (copied < 0) {
			err = copied;
			break;
		}
		iocb->ki_pos += copied;
		done += copied;
		if (copied < n) {
			err = -EFAULT;
			break;
		}
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
	}
	return done ? done : err;
}

static ssize_t xipmap_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct xipmap_inode *xi = xipmap_xi(file_inode(iocb->ki_filp));

	return xipmap_copy_iter(xi->seg, xi, iocb, to,
				i_size_read(file_inode(iocb->ki_filp)));
}

/* ---- the segment handle ---- */

/*
 * The handle reads as the raw segment, superblock included: inside a guest
 * this is how the daemon learns the image behind an ivshmem BAR (the BAR
 * is claimed by this driver, so sysfs resource files cannot map it).
 */
static ssize_t xipmap_seg_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct xipmap_seg *seg = iocb->ki_filp->private_data;

	return xipmap_copy_iter(seg, NULL, iocb, to, seg->npages << PAGE_SHIFT);
}

static int xipmap_seg_fop_release(struct inode *inode, struct file *file)
{
	xipmap_seg_put(file->private_data);
	return 0;
}

static long xipmap_seg_ioctl(struct file *file, unsigned int cmd,
			     unsigned long uarg)
{
	if (cmd != XIPMAP_IOC_SEG_STAT)
		return -ENOTTY;
	return xipmap_seg_stat(file->private_data, (void __user *)uarg);
}

static const struct file_operations xipmap_seg_fops = {
	.owner = THIS_MODULE,
	.read_iter = xipmap_seg_read_iter,
	.unlocked_ioctl = xipmap_seg_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = xipmap_seg_fop_release,
};

/*
 * Fault-around: a read fault maps, with the faulting page, the pages
 * around it: fault_around pages (a module parameter, a power of two from
 * 1 to PTRS_PER_PTE), aligned like the core's do_fault_around() and kept
 * inside the page table of the faulting address, the vma and the file.
 * A page already mapped (a COW copy, a racing fault) is left as it is.
 * The page cache maps 16 pages (fault_around_bytes, 64 KiB) because its
 * neighbours may need I/O or memory; segment frames are resident, so a
 * wider window costs PTEs only (refcounted ones for shmem pages, plain
 * stores for BAR frames) and saves faults.  The default is the whole page
 * table (2 MiB on x86-64): in bench/xip.sh (TCG guest) a library read
 * page by page takes 2-3 faults instead of 30-70, and less time than on
 * tmpfs.  Touching one page in 32 (XIP_BENCH_MODE=sparse), shmem segments
 * pay for the pages mapped and never touched, about as much as with 64
 * pages; BAR segments stay faster than tmpfs.  fault_around=16 maps as
 * the page cache does.  MADV_RANDOM (and userfaultfd) maps the faulting
 * page alone, MADV_SEQUENTIAL the whole page table whatever fault_around
 * says; a private write fault maps only its copy.
 *
 * The core's fault-around calls ->map_pages under RCU, where a module has
 * no exported way to set PTEs, so ->map_pages maps nothing and ->fault
 * inserts the window, with the PTE lock taken once per batch
 * (vm_insert_pages(); for BAR frames xipmap_bar_around()).
 */
#define XIPMAP_FAULT_AROUND	PTRS_PER_PTE
/* Pages handed to vm_insert_pages() at once (an array on the stack). */
#define XIPMAP_INSERT_BATCH	32

static unsigned int xipmap_fault_around = XIPMAP_FAULT_AROUND;

static int xipmap_fault_around_set(const char *val,
				   const struct kernel_param *kp)
{
	unsigned int n;
	int err = kstrtouint(val, 0, &n);

	if (err)
		return err;
	if (!n || n > PTRS_PER_PTE)
		return -EINVAL;
	WRITE_ONCE(xipmap_fault_around, rounddown_pow_of_two(n));
	return 0;
}

static const struct kernel_param_ops xipmap_fault_around_ops = {
	.set = xipmap_fault_around_set,
	.get = param_get_uint,
};
module_param_cb(fault_around, &xipmap_fault_around_ops, &xipmap_fault_around,
		0644);
MODULE_PARM_DESC(fault_around,
		 "pages a read fault maps around the faulting one: a power of two, 1 to a page table (default)");

/*
 * The file pages [*first, *last] a read fault at vmf->pgoff maps: inside
 * the vma, the page table of the faulting address and the file's pages.
 */
static void xipmap_fault_window(struct vm_fault *vmf, struct xipmap_inode *xi,
				pgoff_t *first, pgoff_t *last)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long nr = READ_ONCE(xipmap_fault_around);
	pgoff_t pte_off = pte_index(vmf->address);
	pgoff_t vma_off = vmf->pgoff - vma->vm_pgoff;
	pgoff_t from, to;

	if ((vma->vm_flags & VM_RAND_READ) || userfaultfd_armed(vma))
		nr = 1;
	else if (vma->vm_flags & VM_SEQ_READ)
		nr = PTRS_PER_PTE;
	from = max(ALIGN_DOWN(pte_off, nr), pte_off - min(pte_off, vma_off));
	to = min3(from + nr, (pgoff_t)PTRS_PER_PTE,
		  pte_off + vma_pages(vma) - vma_off) - 1;
	*first = vmf->pgoff - (pte_off - from);
	*last = min_t(u64, vmf->pgoff + (to - pte_off), xi->npages - 1);
}

/*
 * The page to map for @idx (xipmap_lookup()) of a shmem segment file: the
 * segment's page, or our zero page for a hole; NULL past EOF or for a
 * poisoned page.  No reference is taken: the segment holds its pages while
 * a backing file holds the segment.
 */
static struct page *xipmap_shmem_map_page(struct xipmap_seg *seg, s64 idx)
{
	struct page *page;

	if (idx == 0)
		return xipmap_zero_page;
	if (idx < 0)
		return NULL;
	page = xipmap_seg_page(seg, idx);
	return PageHWPoison(page) ? NULL : page;
}

/* Marks, in ->map, the PTEs from ->start on that are set. */
struct xipmap_present {
	unsigned long start;
	unsigned long map;
};

/* apply_to_existing_page_range() callback, under the PTE lock. */
static int xipmap_mark_present(pte_t *pte, unsigned long addr, void *data)
{
	struct xipmap_present *p = data;

	if (!pte_none(ptep_get(pte)))
		p->map |= BIT((addr - p->start) >> PAGE_SHIFT);
	return 0;
}

/*
 * Map @n pages at @addr (the PTEs take their own references).  A page
 * whose PTE is already set (a racing fault, a COW copy) is left as it is:
 * at the first one vm_insert_pages() stops at, the PTEs of the rest of
 * the run are read once, and only the gaps between set ones are inserted.
 * Returns 0, or the error of the page at index @want if it could not be
 * mapped (@want < 0: none of interest).
 */
static int xipmap_insert_run(struct vm_area_struct *vma, unsigned long addr,
			     struct page **pages, unsigned long n, long want)
{
	struct xipmap_present p = { .map = 0 };
	unsigned long at = 0, end, left;
	int err;

	BUILD_BUG_ON(XIPMAP_INSERT_BATCH > BITS_PER_LONG);
	while ((at = find_next_zero_bit(&p.map, n, at)) < n) {
		end = find_next_bit(&p.map, n, at);
		left = end - at;
		err = vm_insert_pages(vma, addr + (at << PAGE_SHIFT), pages + at,
				      &left);
		if (!err) {
			at = end;
			continue;
		}
		at = end - left;	/* pages[at] failed */
		if (err != -EBUSY)
			return want >= (long)at ? err : 0;
		p.start = addr;
		p.map &= BIT(at) - 1;
		apply_to_existing_page_range(vma->vm_mm,
					     addr + (at << PAGE_SHIFT),
					     (n - at) << PAGE_SHIFT,
					     xipmap_mark_present, &p);
		p.map |= BIT(at);	/* even if it went meanwhile */
	}
	return 0;
}

/*
 * Read fault on a shmem segment file: map the faulting page (@fault, from
 * xipmap_shmem_map_page()) and its neighbours as ordinary file PTEs
 * (refcounted, counted in the folio's mapcount, as the core's fault-around
 * maps the page cache), one page at a time: the pages of a huge folio need
 * not be the file's pages in order, so neither a PMD nor the folio as a
 * whole is ever mapped.
 */
static vm_fault_t xipmap_fault_shmem(struct vm_fault *vmf,
				     struct xipmap_inode *xi, struct page *fault)
{
	struct vm_area_struct *vma = vmf->vma;
	struct page *pages[XIPMAP_INSERT_BATCH];
	unsigned long start = 0, n = 0;
	pgoff_t first, last, pgoff;
	struct page *page;
	long want = -1;
	int err = 0;

	xipmap_fault_window(vmf, xi, &first, &last);
	for (pgoff = first; pgoff <= last + 1; pgoff++) {
		if (pgoff == vmf->pgoff)
			page = fault;
		else if (pgoff <= last)
			page = xipmap_shmem_map_page(xi->seg,
						     xipmap_lookup(xi, pgoff));
		else
			page = NULL;
		/* Map the run so far when it breaks or fills the batch. */
		if (n && (!page || n == ARRAY_SIZE(pages))) {
			err = xipmap_insert_run(vma, start, pages, n, want);
			n = 0;
			want = -1;
			if (err)
				break;
		}
		if (!page)
			continue;
		if (!n)
			start = vma->vm_start +
				((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
		if (pgoff == vmf->pgoff)
			want = n;
		pages[n++] = page;
	}
	return err ? vmf_error(err) : VM_FAULT_NOPAGE;
}

/*
 * Map file page @pgoff of a BAR segment file in @vma: the frame as a
 * special PTE (no struct page), a hole as our zero page.  An address that
 * is already mapped (a racing fault, a COW copy) is left as it is.
 */
static vm_fault_t xipmap_bar_insert(struct vm_area_struct *vma,
				    struct xipmap_inode *xi, pgoff_t pgoff)
{
	unsigned long addr = vma->vm_start +
		((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
	s64 idx = xipmap_lookup(xi, pgoff);
	unsigned long pfn;
	int err;

	if (idx < 0)
		return VM_FAULT_SIGBUS;
	if (idx == 0) {
		err = vm_insert_page(vma, addr, xipmap_zero_page);
		return err && err != -EBUSY ? vmf_error(err) : VM_FAULT_NOPAGE;
	}
	pfn = PHYS_PFN(xi->seg->phys) + idx;
#if KERNEL_VERSION(6, 17, 0) <= LINUX_VERSION_CODE
	return vmf_insert_mixed(vma, addr, pfn);
#else
	return vmf_insert_mixed(vma, addr, pfn_to_pfn_t(pfn));
#endif
}

/* What xipmap_bar_prot() and xipmap_bar_pte() share. */
struct xipmap_bar_around {
	struct vm_area_struct *vma;
	struct xipmap_inode *xi;
	unsigned long base_pfn;		/* the BAR's first frame */
	unsigned long fault_pfn;	/* the frame the fault inserted */
	pgprot_t prot;			/* of its PTE */
	bool have_prot;
	bool holes;			/* a hole was left to the slow path */
};

/*
 * apply_to_existing_page_range() callback on the faulting address, under
 * its PTE lock: the protection vmf_insert_mixed() gave the faulting frame.
 */
static int xipmap_bar_prot(pte_t *pte, unsigned long addr, void *data)
{
	struct xipmap_bar_around *ba = data;
	pte_t entry = ptep_get(pte);

	if (pte_present(entry) && pte_special(entry) &&
	    pte_pfn(entry) == ba->fault_pfn) {
		ba->prot = pte_pgprot(entry);
		ba->have_prot = true;
	}
	return 0;
}

/*
 * apply_to_page_range() callback, under the PTE lock: an empty PTE in the
 * window gets its segment frame as vmf_insert_mixed() makes it (special,
 * with the protection the core gave the faulting frame of the same BAR);
 * a present one (a COW copy, a racing fault) stays.
 */
static int xipmap_bar_pte(pte_t *pte, unsigned long addr, void *data)
{
	struct xipmap_bar_around *ba = data;
	s64 idx;

	if (!pte_none(ptep_get(pte)))
		return 0;
	idx = xipmap_lookup(ba->xi, linear_page_index(ba->vma, addr));
	if (idx <= 0) {
		ba->holes |= idx == 0;
		return 0;
	}
	set_pte_at(ba->vma->vm_mm, addr, pte,
		   pte_mkspecial(pfn_pte(ba->base_pfn + idx, ba->prot)));
	update_mmu_cache(ba->vma, addr, pte);
	return 0;
}

/*
 * Map the BAR frames of file pages [first, last] around a fault that
 * already mapped its own frame at vmf->address.  vmf_insert_mixed() looks
 * up the cache mode of every frame it inserts (x86 PAT: lookup_memtype(),
 * a walk of the resource tree and of the memtype tree) and takes the PTE
 * lock for each.  The whole BAR is one memremap() reservation, write-back
 * (xipmap_region_add()), so the faulting frame's lookup holds for all its
 * frames: its PTE's protection is reused for the neighbours, set in one
 * pass over the page table under one PTE lock.  Holes (our zero page,
 * refcounted) and anything unexpected go page by page.
 *
 * That protection is read back from the faulting PTE (one walk of one
 * address per fault) rather than computed here: it is vma->vm_page_prot,
 * which mprotect() may change at any time but not during the fault, with
 * the cache-mode bits the core's PAT lookup chose (track_pfn_insert() in
 * 6.12).  Neither that nor lookup_memtype() is exported, devm_memremap()
 * does not say which memory type its reservation got, and setting x86
 * cache bits by hand would repeat arch code the core may change.  The
 * PTE the core just wrote is its own answer.
 */
static void xipmap_bar_around(struct vm_fault *vmf, struct xipmap_inode *xi,
			      pgoff_t first, pgoff_t last)
{
	struct vm_area_struct *vma = vmf->vma;
	struct xipmap_bar_around ba = {
		.vma = vma,
		.xi = xi,
		.base_pfn = PHYS_PFN(xi->seg->phys),
	};
	unsigned long start = vma->vm_start +
		((first - vma->vm_pgoff) << PAGE_SHIFT);
	bool fast = false;
	pgoff_t pgoff;

	ba.fault_pfn = ba.base_pfn + xipmap_lookup(xi, vmf->pgoff);
	if (IS_ENABLED(CONFIG_ARCH_HAS_PTE_SPECIAL) &&
	    !apply_to_existing_page_range(vma->vm_mm, vmf->address & PAGE_MASK,
					  PAGE_SIZE, xipmap_bar_prot, &ba) &&
	    ba.have_prot)
		fast = !apply_to_page_range(vma->vm_mm, start,
					    (last - first + 1) << PAGE_SHIFT,
					    xipmap_bar_pte, &ba);
	if (fast && !ba.holes)
		return;
	for (pgoff = first; pgoff <= last; pgoff++) {
		if (pgoff == vmf->pgoff ||
		    (fast && xipmap_lookup(xi, pgoff) != 0))
			continue;
		xipmap_bar_insert(vma, xi, pgoff);
	}
}

/*
 * Read fault on a BAR segment file: insert the faulting frame, then its
 * neighbours.  Only the faulting page's result counts; a neighbour that
 * fails is left to its own fault.
 */
static vm_fault_t xipmap_fault_bar(struct vm_fault *vmf,
				   struct xipmap_inode *xi)
{
	struct xipmap_seg *seg = xi->seg;
	pgoff_t first, last;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	xipmap_fault_window(vmf, xi, &first, &last);
	down_read(&seg->lock);
	if (seg->gone)
		goto out;
	ret = xipmap_bar_insert(vmf->vma, xi, vmf->pgoff);
	if (ret == VM_FAULT_NOPAGE && first < last)
		xipmap_bar_around(vmf, xi, first, last);
out:
	up_read(&seg->lock);
	return ret;
}

/* Fill @page with segment page @idx (0: a hole, zeros). */
static int xipmap_seg_fill(struct xipmap_seg *seg, s64 idx, struct page *page)
{
	int err = 0;

	if (idx == 0) {
		clear_highpage(page);
		return 0;
	}
	down_read(&seg->lock);
	if (seg->gone)
		err = -EIO;
	else
		memcpy_to_page(page, 0, seg->virt + (idx << PAGE_SHIFT),
			       PAGE_SIZE);
	up_read(&seg->lock);
	return err;
}

/*
 * A private write fault on a frame without a struct page: hand the core a
 * temporary page holding the frame's bytes (our zero page for a hole); it
 * copies that into the COW page, maps the copy and frees the temporary
 * page.  (VM_FAULT_DONE_COW would leave mapping the copy to us, through
 * finish_fault(), which is not exported.)
 */
static vm_fault_t xipmap_fault_bar_cow(struct vm_fault *vmf,
				       struct xipmap_seg *seg, s64 idx)
{
	struct page *page;

	if (idx == 0) {
		get_page(xipmap_zero_page);
		vmf->page = xipmap_zero_page;
		return 0;
	}
	page = alloc_page(GFP_HIGHUSER);
	if (!page)
		return VM_FAULT_OOM;
	if (xipmap_seg_fill(seg, idx, page)) {
		put_page(page);
		return VM_FAULT_SIGBUS;
	}
	vmf->page = page;
	return 0;
}

/*
 * Read faults map the page and its neighbours themselves (VM_FAULT_NOPAGE).
 * A private write fault (vmf->cow_page) returns the page to copy in
 * vmf->page and the core makes the copy; nothing is mapped around it, as
 * the core's do_cow_fault() does no fault-around either.  Shared mappings
 * are never writable (xipmap_mmap()).
 */
static vm_fault_t xipmap_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct xipmap_inode *xi = xipmap_xi(file_inode(vma->vm_file));
	s64 idx = xipmap_lookup(xi, vmf->pgoff);	/* -1 past EOF */
	struct page *page;

	if (idx < 0)
		return VM_FAULT_SIGBUS;
	if (xi->seg->kind == XIPMAP_KIND_BAR) {
		if (vmf->cow_page)
			return xipmap_fault_bar_cow(vmf, xi->seg, idx);
		return xipmap_fault_bar(vmf, xi);
	}
	page = xipmap_shmem_map_page(xi->seg, idx);
	if (!page)
		return VM_FAULT_HWPOISON;
	if (!vmf->cow_page)
		return xipmap_fault_shmem(vmf, xi, page);
	get_page(page);		/* the core puts it after the copy */
	vmf->page = page;
	return 0;
}

/* What a BAR-backed private mapping holds at an address. */
enum xipmap_pte {
	XIPMAP_PTE_NONE,	/* nothing yet */
	XIPMAP_PTE_SEGMENT,	/* the segment's frame (a special PTE) */
	XIPMAP_PTE_SHARED,	/* a page other processes may map too */
	XIPMAP_PTE_OWN,		/* an anonymous page only this process maps */
};

/*
 * Look at the PTE for @addr under its lock.  For an ordinary page (a COW
 * copy, our zero page for a hole, or a copy xipmap_access_write() made),
 * *@pagep gets it with a reference.  A page found OWN stays so while the
 * caller holds the mmap lock and the reference: fork() needs the mmap lock
 * for writing and KSM skips pages with extra references.
 */
static enum xipmap_pte xipmap_pte_state(struct vm_area_struct *vma,
					unsigned long addr,
					struct page **pagep)
{
	struct follow_pfnmap_args args = { .vma = vma, .address = addr };
	enum xipmap_pte state = XIPMAP_PTE_SEGMENT;
	struct page *page;

	*pagep = NULL;
	if (follow_pfnmap_start(&args))
		return XIPMAP_PTE_NONE;
	if (!args.special && pfn_valid(args.pfn)) {
		page = pfn_to_page(args.pfn);
		get_page(page);
		*pagep = page;
		state = PageAnon(page) && PageAnonExclusive(page) ?
			XIPMAP_PTE_OWN : XIPMAP_PTE_SHARED;
	}
	follow_pfnmap_end(&args);
	return state;
}

/*
 * Whether a write into a private mapping without VM_WRITE may go on: only
 * FOLL_FORCE writes may, and ->access is not told the GUP flags.  ptrace(2)
 * always has FOLL_FORCE; /proc/PID/mem has it as proc_mem.force_override
 * says, which a module cannot read.  So: the tracer of a task of @mm may
 * (every setting but "never" lets it); anyone else may not (as under
 * "ptrace" and "never"); on a kernel built for "never", only inside a
 * ptrace(2) request, which freezes its tracee (JOBCTL_PTRACE_FROZEN) until
 * it returns.
 */
static bool xipmap_may_force(struct mm_struct *mm)
{
	unsigned long need = IS_ENABLED(CONFIG_PROC_MEM_NO_FORCE) ?
		JOBCTL_PTRACE_FROZEN : 0;
	struct task_struct *p, *t;
	bool found = false;

	rcu_read_lock();
	for_each_process_thread(p, t) {
		if (READ_ONCE(t->mm) == mm && READ_ONCE(t->ptrace) &&
		    rcu_access_pointer(t->parent) == current &&
		    (READ_ONCE(t->jobctl) & need) == need) {
			found = true;
			goto out;
		}
	}
out:
	rcu_read_unlock();
	return found;
}

/*
 * A debugger's write into a private mapping of a BAR segment: in place into
 * a page only this process maps, else into a copy that replaces what the
 * process maps, as a COW fault would, so neither the segment nor a page
 * fork() shares with another process ever changes.  Each replacement is
 * checked under the PTE lock: an ordinary page is copied by the core's
 * write fault (wp_page_copy() maps the copy only if the PTE still holds
 * the page it copied); a segment frame is dropped by a zap that spares
 * COW copies, and vm_insert_page() maps our copy only where the PTE is
 * still empty.  Whatever the process did meanwhile, we look again.  (The
 * core's write fault cannot copy a segment frame for another process: it
 * reads the source through the current mm.)
 */
static int xipmap_access_write(struct vm_area_struct *vma, unsigned long addr,
			       s64 idx, void *buf, int len)
{
	struct xipmap_seg *seg = xipmap_xi(file_inode(vma->vm_file))->seg;
	struct zap_details spare_cows = { .even_cows = false };
	unsigned long base = addr & PAGE_MASK;
	struct page *page;
	vm_fault_t fault;
	int tries, err = -EAGAIN;

	if (vma->vm_flags & (VM_SHARED | VM_MAYSHARE))
		return -EPERM;
	if (!(vma->vm_flags & VM_WRITE) && !xipmap_may_force(vma->vm_mm))
		return -EPERM;

	mutex_lock(&xipmap_cow_lock);
	for (tries = 0; tries < 4; tries++) {
		switch (xipmap_pte_state(vma, addr, &page)) {
		case XIPMAP_PTE_OWN:
			memcpy_to_page(page, offset_in_page(addr), buf, len);
			set_page_dirty_lock(page);
			put_page(page);
			err = len;
			goto out;
		case XIPMAP_PTE_SHARED:
			put_page(page);
			fault = handle_mm_fault(vma, base, FAULT_FLAG_WRITE |
						FAULT_FLAG_REMOTE, NULL);
			if (fault & VM_FAULT_ERROR) {
				err = fault & VM_FAULT_OOM ? -ENOMEM : -EFAULT;
				goto out;
			}
			break;
		case XIPMAP_PTE_SEGMENT:
		case XIPMAP_PTE_NONE:
			page = alloc_page(GFP_HIGHUSER);
			if (!page) {
				err = -ENOMEM;
				goto out;
			}
			err = xipmap_seg_fill(seg, idx, page);
			if (!err) {
				memcpy_to_page(page, offset_in_page(addr), buf,
					       len);
				zap_page_range_single(vma, base, PAGE_SIZE,
						      &spare_cows);
				err = vm_insert_page(vma, base, page);
			}
			put_page(page);	/* the mapping holds its own */
			if (!err)
				err = len;
			if (err != -EBUSY)
				goto out;
			err = -EAGAIN;
			break;
		}
	}
out:
	mutex_unlock(&xipmap_cow_lock);
	return err;
}

/*
 * ptrace and /proc/PID/mem.  BAR mappings are VM_IO, so GUP refuses them
 * and every such access lands here: the process's own pages (COW copies)
 * are read in place, segment frames from the segment, and writes go
 * through xipmap_access_write().
 */
static int xipmap_access(struct vm_area_struct *vma, unsigned long addr,
			 void *buf, int len, int write)
{
	struct xipmap_inode *xi = xipmap_xi(file_inode(vma->vm_file));
	struct xipmap_seg *seg = xi->seg;
	unsigned long off = addr - vma->vm_start;
	pgoff_t pgoff = vma->vm_pgoff + (off >> PAGE_SHIFT);
	size_t poff = offset_in_page(addr);
	struct iov_iter to;
	struct page *page;
	struct kvec kvec;
	s64 idx;

	len = min_t(size_t, len, PAGE_SIZE - poff);
	if (seg->kind == XIPMAP_KIND_BAR && !write) {
		xipmap_pte_state(vma, addr, &page);
		if (page) {
			memcpy_from_page(buf, page, poff, len);
			put_page(page);
			return len;
		}
	}
	idx = xipmap_lookup(xi, pgoff);
	if (idx < 0)
		return -EIO;
	if (write)
		return seg->kind == XIPMAP_KIND_BAR ?
			xipmap_access_write(vma, addr, idx, buf, len) : -EPERM;
	if (idx == 0) {
		memset(buf, 0, len);
		return len;
	}
	kvec.iov_base = buf;
	kvec.iov_len = len;
	iov_iter_kvec(&to, ITER_DEST, &kvec, 1, len);
	return xipmap_seg_copy(seg, idx, poff, len, &to);
}

/*
 * Maps nothing (see XIPMAP_FAULT_AROUND): the core then calls ->fault.
 * Having ->map_pages also tells the core that ->fault needs no mmap_lock
 * (vmf_can_call_fault(): vm_ops with ->map_pages are audited for the vma
 * lock), which spares every fault a retry under the mmap_lock.  ->fault
 * uses the vma (held by its lock), the backing inode and its segment
 * (held by the mapped file) and page-table helpers that take their own
 * locks; the BAR's removal is excluded by seg->lock.
 */
static vm_fault_t xipmap_map_pages(struct vm_fault *vmf, pgoff_t start,
				   pgoff_t end)
{
	return 0;
}

const struct vm_operations_struct xipmap_vm_ops = {
	.fault = xipmap_fault,
	.map_pages = xipmap_map_pages,
	.access = xipmap_access,
};

static int xipmap_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct xipmap_inode *xi = xipmap_xi(file_inode(file));

	if ((vma->vm_flags & (VM_SHARED | VM_MAYSHARE)) &&
	    (vma->vm_flags & VM_WRITE)) {
		pr_info_ratelimited("refused a writable shared mapping (pid %d)\n",
				    task_pid_nr(current));
		return -EACCES;
	}
	/* Shared mappings can never become writable through mprotect(). */
	if (vma->vm_flags & (VM_SHARED | VM_MAYSHARE))
		vm_flags_clear(vma, VM_MAYWRITE);
	vm_flags_set(vma, VM_DONTEXPAND);
	/*
	 * VM_IO: GUP must not try to COW a special PTE (the core would copy
	 * the page through the wrong mm for ptrace); it fails instead, and
	 * ptrace goes through xipmap_access().
	 */
	if (xi->seg->kind == XIPMAP_KIND_BAR)
		vm_flags_set(vma, VM_IO);
	/* Faults insert pages and frames themselves (vm_insert_pages()). */
	vm_flags_set(vma, VM_MIXEDMAP);
	vma->vm_ops = &xipmap_vm_ops;
	return 0;
}

/*
 * FUSE passthrough re-opens this inode by path for every open of the FUSE
 * file (backing_file_open()), with the opener's flags.
 */
static int xipmap_open(struct inode *inode, struct file *file)
{
	if (file->f_mode & FMODE_WRITE)
		return -EACCES;
	if (!xipmap_xi(inode))
		return -ENXIO;
	file->f_mode |= FMODE_CAN_ODIRECT;
	return 0;
}

/*
 * Never reached (no open has FMODE_WRITE), but FUSE passthrough on 6.9 to
 * 6.11 refuses backing files without both read_iter and write_iter.
 */
static ssize_t xipmap_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	return -EBADF;
}

/*
 * Backing files never change: the file system is read-only (no truncate,
 * O_TRUNC, chmod, chown, utimes or xattrs, through /proc/self/fd/N or
 * otherwise), and whatever reaches ->setattr anyway is refused.
 */
static int xipmap_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
			  struct iattr *attr)
{
	return -EPERM;
}

static const struct inode_operations xipmap_file_iops = {
	.setattr = xipmap_setattr,
};

static const struct file_operations xipmap_file_fops = {
	.owner = THIS_MODULE,
	.open = xipmap_open,
	.read_iter = xipmap_read_iter,
	.write_iter = xipmap_write_iter,
	.splice_read = copy_splice_read,
	.mmap = xipmap_mmap,
	.llseek = generic_file_llseek,
};

static void xipmap_evict_inode(struct inode *inode)
{
	struct xipmap_inode *xi = xipmap_xi(inode);

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	if (!xi)
		return;		/* the root inode */
	mutex_lock(&xi->seg->inodes_lock);
	list_del(&xi->node);
	mutex_unlock(&xi->seg->inodes_lock);
	xipmap_seg_put(xi->seg);
	kvfree(xi);
	/*
	 * Never the last reference to the mount: whoever drops the inode
	 * (a file or a path) holds one too, and drops it after us.
	 */
	simple_release_fs(&xipmap_mnt, &xipmap_mnt_count);
}

static const struct super_operations xipmap_sops = {
	.statfs = simple_statfs,
	.evict_inode = xipmap_evict_inode,
};

static int xipmap_init_fs_context(struct fs_context *fc)
{
	struct pseudo_fs_context *ctx = init_pseudo(fc, XIPMAP_FS_MAGIC);

	if (!ctx)
		return -ENOMEM;
	ctx->ops = &xipmap_sops;
	/*
	 * Read-only, noexec and nodev: programs run from the FUSE mount,
	 * whose own mount flags decide, never from a backing file itself.
	 */
	fc->sb_flags |= SB_RDONLY;
	fc->s_iflags |= SB_I_NOEXEC | SB_I_NODEV;
	return 0;
}

static struct file_system_type xipmap_fs_type = {
	.owner = THIS_MODULE,
	.name = "xipmap",
	.init_fs_context = xipmap_init_fs_context,
	.kill_sb = kill_anon_super,
};

/* ---- ioctls ---- */

static struct xipmap_seg *xipmap_seg_alloc(enum xipmap_kind kind)
{
	struct xipmap_seg *seg = kzalloc(sizeof(*seg), GFP_KERNEL);

	if (!seg)
		return NULL;
	kref_init(&seg->ref);
	seg->kind = kind;
	init_rwsem(&seg->lock);
	INIT_LIST_HEAD(&seg->node);
	INIT_LIST_HEAD(&seg->inodes);
	mutex_init(&seg->inodes_lock);
	return seg;
}

/*
 * Whether @folio is pinned (FOLL_PIN: io_uring fixed buffers, RDMA,
 * vfio...).  Such a pin may write the folio long after every writable
 * mapping and descriptor is gone, so a file is refused with one, as
 * F_SEAL_WRITE refuses to seal a memfd with one (memfd_wait_for_pins()).
 * The caller has made sure no new writable pin can be taken: no writer and
 * no writable mapping, and write opens denied.
 */
static bool xipmap_folio_pinned(struct folio *folio)
{
	if (folio_test_large(folio))
		return folio_maybe_dma_pinned(folio);	/* exact: _pincount */
	/* Each mapping holds a reference too: only the rest can be pins. */
	return folio_ref_count(folio) - folio_mapcount(folio) >=
		GUP_PIN_COUNTING_BIAS;
}

/* Whether any folio of @mapping is pinned. */
static bool xipmap_mapping_pinned(struct address_space *mapping)
{
	struct folio_batch fbatch;
	pgoff_t index = 0;
	bool pinned = false;
	unsigned int i, n;

	folio_batch_init(&fbatch);
	while (!pinned &&
	       (n = filemap_get_folios(mapping, &index, (pgoff_t)-1, &fbatch))) {
		for (i = 0; i < n; i++)
			pinned |= xipmap_folio_pinned(fbatch.folios[i]);
		folio_batch_release(&fbatch);
		cond_resched();
	}
	return pinned;
}

/*
 * Pin every folio of the segment, as FOLL_LONGTERM does (after moving it out
 * of ZONE_MOVABLE and CMA): the PTEs ->fault makes are not in the file's
 * rmap, so nothing may try to migrate, compact or reclaim these folios.
 * memfd_pin_folios() allocates a page array per call: go in batches.
 */
#define XIPMAP_PIN_BATCH	512

static int xipmap_pin_file(struct xipmap_seg *seg)
{
	pgoff_t first = 0, last, off;
	long n;

	seg->folios = kvmalloc_array(seg->npages, sizeof(*seg->folios),
				     GFP_KERNEL_ACCOUNT);
	if (!seg->folios)
		return -ENOMEM;
	while (first < seg->npages) {
		last = min_t(u64, first + XIPMAP_PIN_BATCH, seg->npages) - 1;
		n = memfd_pin_folios(seg->file, (loff_t)first << PAGE_SHIFT,
				     ((loff_t)(last + 1) << PAGE_SHIFT) - 1,
				     seg->folios + seg->nfolios,
				     last - first + 1, &off);
		if (n <= 0)
			return n ? n : -EIO;
		seg->nfolios += n;
		first = folio_next_index(seg->folios[seg->nfolios - 1]);
		cond_resched();
	}
	return 0;
}

/*
 * The segment of a file attached already, with a reference.  The caller
 * holds xipmap_files_lock, under which alone the list changes (a segment
 * leaves it in xipmap_seg_release(), after its last reference went: hence
 * kref_get_unless_zero()).
 */
static struct xipmap_seg *xipmap_find_file(struct inode *inode)
{
	struct xipmap_seg *seg;

	lockdep_assert_held(&xipmap_files_lock);
	list_for_each_entry(seg, &xipmap_files, node)
		if (file_inode(seg->file) == inode &&
		    kref_get_unless_zero(&seg->ref))
			return seg;
	return NULL;
}

/* xipmap_find_file() under xipmap_files_lock. */
static struct xipmap_seg *xipmap_lookup_file(struct inode *inode)
{
	struct xipmap_seg *seg;

	mutex_lock(&xipmap_files_lock);
	seg = xipmap_find_file(inode);
	mutex_unlock(&xipmap_files_lock);
	return seg;
}

/*
 * The file open as @fd, with a reference the caller owns, if it can back
 * a segment at all: open for reading, a regular memfd or tmpfs file.
 * (The caller's CAP_SYS_ADMIN was checked by xipmap_ioctl().)  Owns
 * nothing on error.
 */
static struct file *xipmap_fget_shmem(int fd)
{
	struct file *file;
	int err;

	file = fget(fd);
	if (!file) {
		pr_info_ratelimited("attach: fd %d is not open\n", fd);
		return ERR_PTR(-EBADF);
	}
	err = -EBADF;
	if (!(file->f_mode & FMODE_READ)) {
		pr_info_ratelimited("attach: fd %d is not open for reading\n",
				    fd);
		goto out_fput;
	}
	err = -EINVAL;
	if (!S_ISREG(file_inode(file)->i_mode) || !shmem_file(file)) {
		pr_info_ratelimited("attach: fd %d is not a memfd or tmpfs file\n",
				    fd);
		goto out_fput;
	}
	return file;

out_fput:
	fput(file);
	return ERR_PTR(err);
}

/*
 * Whether the seals of @file, open as @fd, and the mode it is open in let
 * it back a segment; *@sealed tells whether its seals alone keep it
 * immutable.  Takes nothing.
 *
 * A memfd sealed against writes, shrinking and growth is immutable (and
 * F_SEAL_WRITE made sure no pin could still write it).  Anything else must
 * be an unsealable tmpfs file (/dev/shm, or a memfd made without
 * MFD_ALLOW_SEALING: seals == F_SEAL_SEAL): it is refused while anyone can
 * write it, and write opens are denied while it is attached (a writable
 * shared mapping holds a writable open file, so it counts too): see
 * xipmap_deny_writers().
 */
static int xipmap_check_seals(struct file *file, int fd, bool *sealed)
{
	unsigned int seals = READ_ONCE(SHMEM_I(file_inode(file))->seals);

	*sealed = (seals & XIPMAP_SEALS) == XIPMAP_SEALS;
	if (!*sealed && seals != F_SEAL_SEAL) {
		pr_info_ratelimited("attach: memfd lacks seals %#x (has %#x): seal it with F_SEAL_WRITE|F_SEAL_SHRINK|F_SEAL_GROW\n",
				    XIPMAP_SEALS & ~seals, seals);
		return -EPERM;
	}
	if (!*sealed && (file->f_mode & FMODE_WRITE)) {
		pr_info_ratelimited("attach: fd %d is open for writing: pass a read-only fd\n",
				    fd);
		return -ETXTBSY;
	}
	return 0;
}

/*
 * Keep the unsealed file of @seg, open as @fd, unwritable for the
 * segment's life: deny write opens, then refuse the file if a writer got
 * in first, through a writable shared mapping or a pin.  The write denial
 * belongs to @seg as soon as it is taken (seg->denied_write): whether this
 * succeeds or not, xipmap_seg_put() lifts it.
 */
static int xipmap_deny_writers(struct xipmap_seg *seg, int fd)
{
	struct file *file = seg->file;

	if (deny_write_access(file)) {
		pr_info_ratelimited("attach: fd %d is open for writing somewhere: close writers\n",
				    fd);
		return -ETXTBSY;
	}
	seg->denied_write = true;
	if (mapping_writably_mapped(file->f_mapping)) {
		pr_info_ratelimited("attach: fd %d is mapped writable\n", fd);
		return -ETXTBSY;
	}
	if (xipmap_mapping_pinned(file->f_mapping)) {
		pr_info_ratelimited("attach: fd %d has pinned pages (io_uring fixed buffers, RDMA...) that may still write it\n",
				    fd);
		return -ETXTBSY;
	}
	return 0;
}

/*
 * Size @seg from its file, open as @fd, and pin all its folios.  The pins
 * belong to @seg as they are taken: whether this succeeds or fails part
 * way, xipmap_seg_put() unpins what was pinned.
 */
static int xipmap_size_and_pin(struct xipmap_seg *seg, int fd)
{
	int err;

	seg->npages = i_size_read(file_inode(seg->file)) >> PAGE_SHIFT;
	if (!seg->npages) {
		pr_info_ratelimited("attach: fd %d is smaller than a page\n", fd);
		return -EINVAL;
	}
	err = xipmap_pin_file(seg);
	if (err)
		pr_info_ratelimited("attach: fd %d: cannot pin its pages: %d\n",
				    fd, err);
	return err;
}

/*
 * Publish @seg, pinned, sized and checked, as its file's segment: another
 * attach finds it whole, never half made.  If an attach of the same file
 * won the race meanwhile, that one is the file's segment.  Takes over the
 * caller's reference to @seg and returns the file's segment with one:
 * @seg itself, or the winner after dropping @seg.
 */
static struct xipmap_seg *xipmap_publish_file(struct xipmap_seg *seg)
{
	struct xipmap_seg *other;

	mutex_lock(&xipmap_files_lock);
	other = xipmap_find_file(file_inode(seg->file));
	if (!other)
		list_add(&seg->node, &xipmap_files);
	mutex_unlock(&xipmap_files_lock);
	if (other) {
		xipmap_seg_put(seg);
		return other;
	}
	return seg;
}

/*
 * A sealed memfd, or a tmpfs file nobody can write while it is attached.
 * Attaching a file again returns its segment: the checks that need the
 * file alone are made for every descriptor, the others held since.  With
 * @existing, only a file attached already is (a look that changes nothing:
 * no pinning, no write denial), else -ENOENT.
 */
static struct xipmap_seg *xipmap_attach_file(int fd, bool existing)
{
	struct xipmap_seg *seg;
	struct file *file;
	bool sealed;
	int err;

	/* A reference to the file: ours until the new segment takes it. */
	file = xipmap_fget_shmem(fd);
	if (IS_ERR(file))
		return ERR_CAST(file);
	if (existing) {
		seg = xipmap_lookup_file(file_inode(file));
		fput(file);
		return seg ? seg : ERR_PTR(-ENOENT);
	}
	err = xipmap_check_seals(file, fd, &sealed);
	if (err)
		goto out_fput;
	seg = xipmap_lookup_file(file_inode(file));
	if (seg) {
		fput(file);
		return seg;
	}

	seg = xipmap_seg_alloc(XIPMAP_KIND_SHMEM);
	err = -ENOMEM;
	if (!seg)
		goto out_fput;
	seg->file = file;
	/*
	 * From here on @seg owns the file reference and whatever the steps
	 * below take (write denial, pins), and xipmap_seg_put() undoes all.
	 */
	if (!sealed) {
		err = xipmap_deny_writers(seg, fd);
		if (err)
			goto out_put;
	}
	err = xipmap_size_and_pin(seg, fd);
	if (err)
		goto out_put;
	return xipmap_publish_file(seg);

out_put:
	xipmap_seg_put(seg);	/* unpins, allows write access, drops file */
	return ERR_PTR(err);
out_fput:
	fput(file);
	return ERR_PTR(err);
}

/*
 * A region segment of @source (XIPMAP_SEG_IVSHMEM or XIPMAP_SEG_PMEM); an
 * all-zero @uuid takes the first one bound (in probe order).
 */
static struct xipmap_seg *xipmap_attach_bar(const u8 *uuid, u32 source)
{
	struct xipmap_seg *seg, *found = NULL;
	bool any = !memchr_inv(uuid, 0, 16);

	mutex_lock(&xipmap_bars_lock);
	list_for_each_entry(seg, &xipmap_bars, node) {
		if (!seg->gone && seg->source == source &&
		    (any || !memcmp(seg->uuid, uuid, 16))) {
			kref_get(&seg->ref);
			found = seg;
			break;
		}
	}
	mutex_unlock(&xipmap_bars_lock);
	if (!found) {
		pr_info_ratelimited("attach: no %s segment with UUID %pUb\n",
				    source == XIPMAP_SEG_PMEM ? "virtio-pmem" :
				    "ivshmem", uuid);
		return ERR_PTR(-ENOENT);
	}
	return found;
}

static long xipmap_ioc_attach(void __user *argp)
{
	struct xipmap_attach arg;
	struct xipmap_seg *seg;
	struct file *file;
	int fd;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~XIPMAP_ATTACH_EXISTING)
		return -EINVAL;
	if (arg.kind == XIPMAP_SEG_FD)
		seg = xipmap_attach_file(arg.fd,
					 arg.flags & XIPMAP_ATTACH_EXISTING);
	else if (arg.kind == XIPMAP_SEG_IVSHMEM || arg.kind == XIPMAP_SEG_PMEM)
		seg = xipmap_attach_bar(arg.uuid, arg.kind);
	else
		return -EINVAL;
	if (IS_ERR(seg))
		return PTR_ERR(seg);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		goto out_put;
	file = anon_inode_getfile("[xipmap-segment]", &xipmap_seg_fops, seg,
				  O_RDONLY);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		fd = PTR_ERR(file);
		goto out_put;
	}
	/* pread() only: the handle has no file position worth seeking. */
	file->f_mode |= FMODE_PREAD;
	arg.seg_fd = fd;
	arg.size = seg->npages << PAGE_SHIFT;
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		fput(file);	/* drops seg */
		put_unused_fd(fd);
		return -EFAULT;
	}
	fd_install(fd, file);
	return 0;

out_put:
	xipmap_seg_put(seg);
	return fd;
}

/*
 * XIPMAP_CREATE_LINEAR: file page i is segment page arg->pages + i; the
 * whole run must lie in the segment.  @arg's count and size are checked.
 */
static struct xipmap_inode *xipmap_linear_pages(const struct xipmap_create *arg,
						struct xipmap_seg *seg)
{
	struct xipmap_inode *xi;

	if (arg->pages >= seg->npages ||
	    arg->count > seg->npages - arg->pages) {
		pr_info_ratelimited("create: pages %llu..+%llu outside the segment (%llu pages)\n",
				    arg->pages, arg->count, seg->npages);
		return ERR_PTR(-ERANGE);
	}
	xi = kzalloc(sizeof(*xi), GFP_KERNEL_ACCOUNT);
	if (!xi)
		return ERR_PTR(-ENOMEM);
	xi->npages = arg->count;
	xi->first = arg->pages;
	return xi;
}

/*
 * The xipmap_inode of a new backing file (XIPMAP_IOC_CREATE @arg): its
 * page list copied from the caller, or its linear run, checked against
 * @seg.  kvfree() it.
 */
static struct xipmap_inode *xipmap_copy_pages(const struct xipmap_create *arg,
					      struct xipmap_seg *seg)
{
	struct xipmap_inode *xi;
	size_t bytes;
	u64 i;

	if (arg->count == 0 || arg->count > XIPMAP_MAX_PAGES) {
		pr_info_ratelimited("create: page count %llu not in 1..%llu\n",
				    arg->count, XIPMAP_MAX_PAGES);
		return ERR_PTR(-EINVAL);
	}
	if (arg->size == 0 ||
	    DIV_ROUND_UP_ULL(arg->size, PAGE_SIZE) != arg->count) {
		pr_info_ratelimited("create: size %llu does not need %llu pages\n",
				    arg->size, arg->count);
		return ERR_PTR(-EINVAL);
	}
	if (arg->flags & XIPMAP_CREATE_LINEAR)
		return xipmap_linear_pages(arg, seg);
	bytes = struct_size(xi, pages, arg->count);	/* saturates */
	xi = kvmalloc(bytes, GFP_KERNEL_ACCOUNT);
	if (!xi)
		return ERR_PTR(-ENOMEM);
	xi->npages = arg->count;
	xi->first = 0;
	xi->count = arg->count;
	if (copy_from_user(xi->pages, u64_to_user_ptr(arg->pages),
			   arg->count * sizeof(u64))) {
		kvfree(xi);
		return ERR_PTR(-EFAULT);
	}
	for (i = 0; i < xi->count; i++) {
		if (xi->pages[i] >= seg->npages) {
			pr_info_ratelimited("create: entry %llu: page %llu outside the segment (%llu pages)\n",
					    i, xi->pages[i], seg->npages);
			kvfree(xi);
			return ERR_PTR(-ERANGE);
		}
	}
	return xi;
}

/*
 * A backing file's inode.  Not S_PRIVATE, which would make LSMs skip every
 * check on it: they see and label it as a file of this file system.
 * (anon_inode_make_secure_inode() would label it as an anonymous inode,
 * but 6.12 exports it to KVM only.)
 */
static struct inode *xipmap_new_inode(struct super_block *sb)
{
	struct inode *inode = alloc_anon_inode(sb);

	if (!IS_ERR(inode))
		inode->i_flags &= ~S_PRIVATE;
	return inode;
}

/*
 * The segment handle open as @fd (XIPMAP_IOC_ATTACH), with a reference the
 * caller owns.  Owns nothing on error.
 */
static struct file *xipmap_fget_seg(int fd)
{
	struct file *segf;

	segf = fget(fd);
	if (!segf)
		return ERR_PTR(-EBADF);
	if (segf->f_op != &xipmap_seg_fops) {
		pr_info_ratelimited("create: fd %d is not a segment handle\n",
				    fd);
		fput(segf);
		return ERR_PTR(-EINVAL);
	}
	return segf;
}

/*
 * The backing inode of @xi: a file of @size bytes of the pages of @seg
 * @xi lists.  On success the inode owns @xi, a new reference to @seg and a
 * pin of xipmap_mnt, and xipmap_evict_inode() drops all three; on error
 * the caller still owns @xi, and nothing else is held.
 */
static struct inode *xipmap_make_inode(struct xipmap_inode *xi,
				       struct xipmap_seg *seg, u64 size)
{
	struct inode *inode;
	int err;

	err = simple_pin_fs(&xipmap_fs_type, &xipmap_mnt, &xipmap_mnt_count);
	if (err)
		return ERR_PTR(err);
	inode = xipmap_new_inode(xipmap_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		simple_release_fs(&xipmap_mnt, &xipmap_mnt_count);
		return inode;
	}
	/* The dentry's type is fixed when the file is made: mode first. */
	inode->i_mode = S_IFREG | 0555;
	inode->i_op = &xipmap_file_iops;
	inode->i_fop = &xipmap_file_fops;
	i_size_write(inode, size);
	kref_get(&seg->ref);
	xi->seg = seg;
	xi->inode = inode;
	INIT_LIST_HEAD(&xi->node);
	mutex_lock(&seg->inodes_lock);
	list_add(&xi->node, &seg->inodes);
	mutex_unlock(&seg->inodes_lock);
	inode->i_private = xi;	/* evict_inode now owns xi, seg ref and pin */
	return inode;
}

/*
 * A read-only file of the backing @inode.  On success the file owns the
 * caller's reference to @inode; on error the caller still owns it.
 */
static struct file *xipmap_open_inode(struct inode *inode)
{
	struct file *file;

	/* alloc_file_pseudo() takes no module reference; __fput() drops one. */
	__module_get(THIS_MODULE);
	file = alloc_file_pseudo(inode, xipmap_mnt, "xipmap",
				 O_RDONLY | O_LARGEFILE, &xipmap_file_fops);
	if (IS_ERR(file)) {
		module_put(THIS_MODULE);
		return file;
	}
	/* alloc_file_pseudo() leaves out what do_dentry_open() would set. */
	file->f_mode |= FMODE_CAN_ODIRECT | FMODE_LSEEK | FMODE_PREAD;
	return file;
}

/* XIPMAP_IOC_CREATE: a new descriptor of a backing file of a segment. */
static long xipmap_ioc_create(void __user *argp)
{
	struct xipmap_create arg;
	struct xipmap_inode *xi;
	struct xipmap_seg *seg;
	struct inode *inode;
	struct file *segf, *file;
	int fd, err;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~XIPMAP_CREATE_LINEAR) || arg.reserved)
		return -EINVAL;
	/* Held until we return: it keeps the segment alive meanwhile. */
	segf = xipmap_fget_seg(arg.seg_fd);
	if (IS_ERR(segf))
		return PTR_ERR(segf);
	seg = segf->private_data;

	/* Ours until the inode takes it. */
	xi = xipmap_copy_pages(&arg, seg);
	if (IS_ERR(xi)) {
		err = PTR_ERR(xi);
		goto out_segf;
	}
	inode = xipmap_make_inode(xi, seg, arg.size);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		goto out_xi;
	}
	/* Our inode reference now owns xi; iput() frees it. */

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		err = fd;
		goto out_iput;
	}
	file = xipmap_open_inode(inode);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		goto out_fd;
	}
	/* The file owns our inode reference now: fput() drops it. */
	arg.fd = fd;
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		fput(file);
		put_unused_fd(fd);
		err = -EFAULT;
		goto out_segf;
	}
	fd_install(fd, file);
	fput(segf);
	return 0;

out_fd:
	put_unused_fd(fd);
out_iput:
	iput(inode);	/* and xi with it, in xipmap_evict_inode() */
	goto out_segf;
out_xi:
	kvfree(xi);
out_segf:
	fput(segf);
	return err;
}

static long xipmap_ioctl(struct file *file, unsigned int cmd,
			 unsigned long uarg)
{
	void __user *argp = (void __user *)uarg;
	struct xipmap_version ver;

	/*
	 * Both whoever opened the device and the caller: a descriptor passed
	 * to (or inherited by) an unprivileged process is useless to it, and
	 * an unprivileged opener cannot get a privileged one to act for it.
	 */
	if (!file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN) ||
	    !capable(CAP_SYS_ADMIN)) {
		pr_info_ratelimited("refused ioctl %#x: no CAP_SYS_ADMIN (pid %d)\n",
				    cmd, task_pid_nr(current));
		return -EPERM;
	}
	switch (cmd) {
	case XIPMAP_IOC_VERSION:
		ver.version = XIPMAP_API_VERSION;
		ver.page_size = PAGE_SIZE;
		ver.max_pages = XIPMAP_MAX_PAGES;
		return copy_to_user(argp, &ver, sizeof(ver)) ? -EFAULT : 0;
	case XIPMAP_IOC_ATTACH:
		return xipmap_ioc_attach(argp);
	case XIPMAP_IOC_CREATE:
		return xipmap_ioc_create(argp);
	}
	return -ENOTTY;
}

static const struct file_operations xipmap_dev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = xipmap_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice xipmap_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "xipmap",
	.fops = &xipmap_dev_fops,
	.mode = 0600,
};

/*
 * A memory region without struct pages that holds an xipfs segment at
 * offset 0, reserved by its device's driver for @dev: an ivshmem BAR or a
 * virtio-pmem region.  @source is the XIPMAP_SEG_* kind user space attaches
 * it by.  The region is mapped write-back, and kept mapped for the device's
 * life (x86 PAT: the frames ->fault inserts must stay WB, never UC).
 */
struct xipmap_seg *xipmap_region_add(struct device *dev, u32 source,
				     phys_addr_t start, u64 len)
{
	struct xipmap_seg *seg;
	void *virt;
	u64 size;

	/* Managed: unmapped when the device unbinds. */
	virt = devm_memremap(dev, start, len, MEMREMAP_WB);
	if (IS_ERR(virt))
		return ERR_CAST(virt);
	if (len < PAGE_SIZE || memcmp(virt, XIPFS_MAGIC_STR, XIPFS_HDR_MAGIC_LEN)) {
		dev_info(dev, "region has no xipfs superblock: not binding\n");
		return ERR_PTR(-ENODEV);
	}
	size = get_unaligned_le64(virt + XIPFS_HDR_SIZE_OFF);
	if (size > len || size < PAGE_SIZE) {
		dev_warn(dev, "segment size %llu does not fit the region (%llu bytes)\n",
			 size, len);
		return ERR_PTR(-ENODEV);
	}
	seg = xipmap_seg_alloc(XIPMAP_KIND_BAR);
	if (!seg)
		return ERR_PTR(-ENOMEM);
	seg->source = source;
	seg->virt = virt;
	seg->phys = start;
	seg->npages = size >> PAGE_SHIFT;
	memcpy(seg->uuid, virt + XIPFS_HDR_UUID_OFF, 16);
	mutex_lock(&xipmap_bars_lock);
	list_add_tail(&seg->node, &xipmap_bars);
	mutex_unlock(&xipmap_bars_lock);
	dev_info(dev, "segment %pUb: %llu pages at %pa\n", seg->uuid,
		 seg->npages, &start);
	return seg;
}

/*
 * The region's device goes: fail every later access, zap every mapping,
 * drop the device's reference.  The caller unmaps the region afterwards.
 */
void xipmap_region_remove(struct xipmap_seg *seg)
{
	struct xipmap_inode *xi;

	mutex_lock(&xipmap_bars_lock);
	list_del_init(&seg->node);
	mutex_unlock(&xipmap_bars_lock);

	down_write(&seg->lock);
	seg->gone = true;
	up_write(&seg->lock);
	mutex_lock(&seg->inodes_lock);
	list_for_each_entry(xi, &seg->inodes, node)
		unmap_mapping_range(xi->inode->i_mapping, 0, 0, 1);
	mutex_unlock(&seg->inodes_lock);

	xipmap_seg_put(seg);
}

/* ---- ivshmem-plain ---- */

static int xipmap_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	resource_size_t start, len;
	struct xipmap_seg *seg;
	int err;

	err = pcim_enable_device(pdev);
	if (err)
		return err;
	start = pci_resource_start(pdev, 2);
	len = pci_resource_len(pdev, 2);
	if (!len || !(pci_resource_flags(pdev, 2) & IORESOURCE_MEM)) {
		pci_info(pdev, "no memory BAR 2: not an ivshmem-plain segment\n");
		return -ENODEV;
	}
	/* Managed: released when the device unbinds. */
	err = pcim_request_region(pdev, 2, KBUILD_MODNAME);
	if (err)
		return err;
	seg = xipmap_region_add(&pdev->dev, XIPMAP_SEG_IVSHMEM, start, len);
	if (IS_ERR(seg))
		return PTR_ERR(seg);
	pci_set_drvdata(pdev, seg);
	return 0;
}

static void xipmap_pci_remove(struct pci_dev *pdev)
{
	xipmap_region_remove(pci_get_drvdata(pdev));
}

static const struct pci_device_id xipmap_pci_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110) },
	{ }
};
MODULE_DEVICE_TABLE(pci, xipmap_pci_ids);

static struct pci_driver xipmap_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = xipmap_pci_ids,
	.probe = xipmap_pci_probe,
	.remove = xipmap_pci_remove,
	.driver.suppress_bind_attrs = true,
};

static int __init xipmap_init(void)
{
	int err;

	xipmap_zero_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!xipmap_zero_page)
		return -ENOMEM;
	err = pci_register_driver(&xipmap_pci_driver);
	if (err)
		goto out_page;
	err = xipmap_pmem_register();
	if (err)
		goto out_pci;
	err = misc_register(&xipmap_misc);
	if (err)
		goto out_pmem;
	return 0;

out_pmem:
	xipmap_pmem_unregister();
out_pci:
	pci_unregister_driver(&xipmap_pci_driver);
out_page:
	__free_page(xipmap_zero_page);
	return err;
}

static void __exit xipmap_exit(void)
{
	/* No backing file is left: each pins the module (xipmap_mnt). */
	misc_deregister(&xipmap_misc);
	xipmap_pmem_unregister();
	pci_unregister_driver(&xipmap_pci_driver);
	__free_page(xipmap_zero_page);
}

module_init(xipmap_init);
module_exit(xipmap_exit);

MODULE_DESCRIPTION("xipfs execute-in-place backing files on shared segments");
MODULE_AUTHOR("The xipfs authors");
MODULE_LICENSE("GPL");
