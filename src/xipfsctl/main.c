// SPDX-License-Identifier: GPL-2.0-or-later
/* xipfsctl: segments, inspection and checking of xipfs images. */
#include <stdio.h>
#include <string.h>
#include <libgen.h>

#include "config.h"
#include "xipfsctl.h"

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
} cmds[] = {
	{ "info", cmd_info, "IMAGE", "show the superblock, counts and dedupe statistics" },
	{ "ls", cmd_ls, "[-l] [-R] IMAGE [PATH]", "list a directory of the image" },
	{ "cat", cmd_cat, "IMAGE PATH", "write a file of the image to standard output" },
	{ "extract", cmd_extract, "IMAGE DIR", "restore the whole tree into DIR" },
	{ "fsck", cmd_fsck, "[--verify-data] [-q] IMAGE", "check an image (fsck(8) exit codes)" },
	{ "verify", cmd_verify, "[--digest sha256:ROOT] IMAGE", "check an image against its Merkle tree" },
	{ "oci-pack", cmd_oci_pack, "IMAGE oci:DIR[:TAG]", "write IMAGE as an OCI artifact into an image layout" },
	{ "load", cmd_load, "[OPTIONS] IMAGE|oci:DIR[:TAG] NAME",
	  "load an image into the shared segment NAME" },
	{ "list", cmd_list, "[--json]", "list loaded segments and pools" },
	{ "stat", cmd_stat, "[--json] NAME", "show one segment, or a pool and its images" },
	{ "unload", cmd_unload, "[--force] NAME", "remove a segment" },
	{ "create", cmd_create, "NAME --size SIZE", "make an empty pool segment" },
	{ "add", cmd_add, "NAME IMAGE [LABEL]", "add an image to a pool (live update)" },
	{ "remove", cmd_remove, "NAME LABEL", "retire an image of a pool" },
	{ "gc", cmd_gc, "[--guests-done] NAME", "free the pages of retired images" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: xipfsctl COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %-28s %s\n", cmds[i].name, cmds[i].args, cmds[i].help);
	fprintf(f, "\nAn IMAGE may also be seg:NAME[/LABEL] (a loaded segment or pool) or,\n"
		   "inside a guest, ivshmem[:UUID][/LABEL] or pmem[:UUID][/LABEL] (a segment the\n"
		   "host shares).\n"
		   "See xipfsctl(8).\n");
}

int main(int argc, char **argv)
{
	const char *me = basename(argv[0]);

	if (!strcmp(me, "fsck.xipfs"))
		return cmd_fsck(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("xipfsctl (xipfs) %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "xipfsctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
