// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xipmap: a virtio-pmem device's region as a segment.
 *
 * Firecracker and Cloud Hypervisor have virtio-pmem and no ivshmem.  The
 * device names a guest-physical range (config space start and size) that
 * the VMM backs with a host file; the in-tree driver hands it to libnvdimm,
 * and nd_pmem gives the range struct pages (memremap_pages()), 64 bytes of
 * guest RAM per 4 KiB page.  This driver maps the range itself, write-back,
 * like the ivshmem BAR: no struct pages, no memmap, the frames inserted as
 * special PTEs (XIPMAP_KIND_BAR).  The segment is read-only for us: the
 * request queue (flush) is never used.
 *
 * Only a region that starts with an xipfs superblock is bound; probe fails
 * with -ENODEV otherwise, so virtio_pmem may take the device.  Both drivers
 * match every virtio-pmem device and the first one registered wins: the
 * operator either keeps virtio_pmem from loading (blacklist it) or moves a
 * device with the drivers' unbind and bind files in sysfs.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ioport.h>
#include <linux/module.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pmem.h>

#include "../include/xipfs/xipmap.h"
#include "internal.h"

static int xipmap_pmem_probe(struct virtio_device *vdev)
{
	struct xipmap_seg *seg;
	u64 start, size;

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "no config space access\n");
		return -EINVAL;
	}
	virtio_cread_le(vdev, struct virtio_pmem_config, start, &start);
	virtio_cread_le(vdev, struct virtio_pmem_config, size, &size);
	if (!size || start + size < start) {
		dev_err(&vdev->dev, "bad region: %llu bytes at %#llx\n", size,
			start);
		return -EINVAL;
	}
	/* Managed: released when the device unbinds, as the mapping is. */
	if (!devm_request_mem_region(&vdev->dev, start, size, KBUILD_MODNAME)) {
		dev_err(&vdev->dev, "region at %#llx is in use\n", start);
		return -EBUSY;
	}
	seg = xipmap_region_add(&vdev->dev, XIPMAP_SEG_PMEM, start, size);
	if (IS_ERR(seg))
		return PTR_ERR(seg);
	vdev->priv = seg;
	return 0;
}

static void xipmap_pmem_remove(struct virtio_device *vdev)
{
	xipmap_region_remove(vdev->priv);
	virtio_reset_device(vdev);
}

static const struct virtio_device_id xipmap_pmem_ids[] = {
	{ VIRTIO_ID_PMEM, VIRTIO_DEV_ANY_ID },
	{ }
};
MODULE_DEVICE_TABLE(virtio, xipmap_pmem_ids);

static struct virtio_driver xipmap_pmem_driver = {
	.driver.name = KBUILD_MODNAME,
	.id_table = xipmap_pmem_ids,
	.probe = xipmap_pmem_probe,
	.remove = xipmap_pmem_remove,
};

int xipmap_pmem_register(void)
{
	return register_virtio_driver(&xipmap_pmem_driver);
}

void xipmap_pmem_unregister(void)
{
	unregister_virtio_driver(&xipmap_pmem_driver);
}
