/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xipfsctl subcommands.  main.c parses the command word and hands argc/argv
 * (argv[0] = the command word) to one of these; each returns the process
 * exit status.  Image commands (fsck too) live in image.c, segment commands
 * in segment.c.
 */
#ifndef XIPFSCTL_H
#define XIPFSCTL_H

int cmd_info(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_oci_pack(int argc, char **argv);

int cmd_load(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_unload(int argc, char **argv);

int cmd_create(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_remove(int argc, char **argv);
int cmd_gc(int argc, char **argv);

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xipfs_segment;

/* pool.c: the pool views of list, stat and fsck (fsck(8) exit codes). */
struct xipfs_mapped;
/* `xipfsctl stat`'s lines (or JSON member) for xipfs_segment_mapped(). */
void mapped_print(int err, const struct xipfs_mapped *m, bool json);
/* `xipfsctl list` of a pool: its live images, all its images, its fill in %. */
int pool_list_counts(struct xipfs_segment *seg, const char *name, unsigned int *live,
		     unsigned int *images, double *pct);
int pool_stat(struct xipfs_segment *seg, const char *name, const char *path, int users,
	      bool json);
int pool_fsck(struct xipfs_segment *seg, const char *name, unsigned flags, bool quiet);
/* Parse a --digest argument (sha256:HEX), or say what is wrong: 0 or -1. */
int digest_arg(const char *arg, uint8_t out[32]);

struct xipfs_load_opts;
/* Load the xipfs layer of oci:DIR[:TAG] as segment @name (oci.c). */
int oci_load(const char *ref, const char *name, struct xipfs_load_opts *o);

#endif
