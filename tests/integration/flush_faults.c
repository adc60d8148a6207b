/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An LD_PRELOAD library for the integration tests: msync(2) and fdatasync(2) of the process
 * (tgtd) are recorded, and fail on demand, so that a test driving the real tgtd over iSCSI can
 * see when the module makes data durable, and what it answers when that fails.
 *
 * TGTPMEM_FAULTS=DIR in the environment:
 *   DIR/calls      one line per call, appended: "msync LEN" or "fdatasync", with " EIO" when
 *                  it was failed. A test appends its own marker lines between commands: a
 *                  command's reply comes after its system calls, so the file's order is
 *                  their real order.
 *   DIR/fail-next  if it exists, holding N (empty: 1), the N-th call from now fails with EIO
 *                  (and does nothing), and the file is removed: Linux, too, reports a
 *                  writeback error once.
 * Without TGTPMEM_FAULTS, the calls go straight through.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *dir(void)
{
	return getenv("TGTPMEM_FAULTS");
}

/* Counts a call down in the fail-next file; 1 when this call is the one to fail. */
static int fail_now(const char *path)
{
	char buf[32] = "";
	long n = 1;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && buf[0] >= '0' && buf[0] <= '9')
		n = strtol(buf, NULL, 10);
	fclose(f);
	if (n <= 1) {
		unlink(path);
		return 1;
	}
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%ld\n", n - 1);
		fclose(f);
	}
	return 0;
}

/* Records the call; returns 1 if it is to fail. */
static int enter(const char *what, size_t len)
{
	const char *d = dir();
	char path[PATH_MAX], line[96];
	int fail, fd, n;

	if (!d)
		return 0;
	snprintf(path, sizeof(path), "%s/fail-next", d);
	fail = fail_now(path);
	snprintf(path, sizeof(path), "%s/calls", d);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (len)
			n = snprintf(line, sizeof(line), "%s %zu%s\n", what, len, fail ? " EIO" : "");
		else
			n = snprintf(line, sizeof(line), "%s%s\n", what, fail ? " EIO" : "");
		if (write(fd, line, (size_t)n) < 0) {
			/* nothing to do: the test will miss a line and say so */
		}
		close(fd);
	}
	return fail;
}

int msync(void *addr, size_t len, int flags)
{
	static int (*real)(void *, size_t, int);

	if (!real)
		real = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "msync");
	if (enter("msync", len)) {
		errno = EIO;
		return -1;
	}
	return real(addr, len, flags);
}

int fdatasync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (enter("fdatasync", 0)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}
