# SPDX-License-Identifier: GPL-2.0-or-later
# XIPFS_WARNINGS: probe the compiler for the project's warning set and put
# the accepted flags in WARN_CFLAGS.
AC_DEFUN([XIPFS_WARNINGS], [
	WARN_CFLAGS=
	for flag in -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
		-Wmissing-prototypes -Wvla -Wundef -Wpointer-arith \
		-Wno-unused-parameter -Wno-missing-field-initializers \
		-Wnull-dereference -Wimplicit-fallthrough -fno-common; do
		AC_MSG_CHECKING([whether $CC accepts $flag])
		save_CFLAGS=$CFLAGS
		CFLAGS="$CFLAGS -Werror $flag"
		AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
			[AC_MSG_RESULT([yes]); WARN_CFLAGS="$WARN_CFLAGS $flag"],
			[AC_MSG_RESULT([no])])
		CFLAGS=$save_CFLAGS
	done
	AC_SUBST([WARN_CFLAGS])
])

# AX_PTHREAD_LITE: the C library's POSIX threads (glibc >= 2.34 has them in
# libc; -pthread stays right for older ones).
AC_DEFUN([AX_PTHREAD_LITE], [
	PTHREAD_CFLAGS=-pthread
	PTHREAD_LIBS=-pthread
	AC_SUBST([PTHREAD_CFLAGS])
	AC_SUBST([PTHREAD_LIBS])
])
