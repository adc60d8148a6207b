/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The narrow C ABI between the tgt glue (glue/bs_pmem.c, the only file that includes tgt's
 * headers) and the C++ engine. Opaque handles, POD arguments, negative error codes in the
 * project's own range. Every function is noexcept on the C++ side and never throws or aborts.
 *
 * Thread-safety: tgtpmem_execute may run concurrently on one LUN from several threads;
 * open/close/info must not race with anything else on the same LUN.
 */
#ifndef TGT_PMEM_BS_PMEM_H
#define TGT_PMEM_BS_PMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define TGTPMEM_NOEXCEPT noexcept
extern "C" {
#else
#define TGTPMEM_NOEXCEPT
#endif

/* Error codes (all negative). The error buffer always says more. */
#define TGTPMEM_E_BSOPTS      (-31001) /* bsopts: unknown key, bad value, bad syntax */
#define TGTPMEM_E_OPEN        (-31002) /* backing store missing, not a file/devdax, no access */
#define TGTPMEM_E_READONLY    (-31003) /* backing store is read-only */
#define TGTPMEM_E_SIZE        (-31004) /* too small, or not a multiple of block/map alignment */
#define TGTPMEM_E_BLOCK_SIZE  (-31005) /* block size other than 512/4096, or conflicting */
#define TGTPMEM_E_MAP         (-31006) /* libpmem2 could not map it */
#define TGTPMEM_E_NOMEM       (-31007)
#define TGTPMEM_E_INTERNAL    (-31008) /* a bug: an unexpected exception was caught */
#define TGTPMEM_E_LAYOUT      (-31009) /* atomic layout: corrupt/foreign/newer header, etc. */
#define TGTPMEM_E_DURABILITY  (-31010) /* bsopts durability= does not fit the medium */
#define TGTPMEM_E_MIRROR      (-31011) /* mirror_meta=: store unusable or not for this LUN */

#define TGTPMEM_MIN_SIZE      (1u << 20) /* smallest backing store accepted: 1 MiB */

/* Limits reported in the Block Limits VPD page and enforced by the engine. */
#define TGTPMEM_MAX_COMPARE_AND_WRITE_BLOCKS 128
#define TGTPMEM_MAX_UNMAP_BLOCKS             (1u << 20) /* per descriptor */
#define TGTPMEM_MAX_UNMAP_DESCRIPTORS        256

typedef struct tgtpmem_options tgtpmem_options;
typedef struct tgtpmem_lun tgtpmem_lun;

/* Execution model of a LUN's commands, chosen by the bsopts key "exec". */
enum tgtpmem_exec {
	TGTPMEM_EXEC_INLINE = 0,  /* on tgtd's event loop */
	TGTPMEM_EXEC_THREADS = 1, /* on tgt's bs_thread worker pool */
	TGTPMEM_EXEC_AUTO = 2,    /* (default) inline up to inline_max bytes, larger on workers */
};

/* Parsed bsopts. Values of 0 mean "not given". */
struct tgtpmem_options_values {
	uint32_t block_size;   /* 512 or 4096, 0 = take tgtadm's --blocksize (default 512) */
	int write_cache;       /* 1: volatile write cache on (WCE=1); 0: write-through */
	int unmap;             /* 1: thin provisioning (UNMAP, WRITE SAME UNMAP) enabled */
	int exec;              /* enum tgtpmem_exec */
	int threads;           /* worker threads for TGTPMEM_EXEC_THREADS and _AUTO */
	uint32_t inline_max;   /* TGTPMEM_EXEC_AUTO: largest transfer executed inline, bytes */
	int read_in_place;     /* 1: read_in_place=on (tgtpmem_read_in_place) */
	int atomic_layout;     /* 1: layout=atomic */
	int push;              /* 1: push=on (iser_ext push mode for this LUN) */
	uint16_t push_port;    /* push_port=, default 5566 */
	uint32_t push_poll_us; /* push_poll_us=, default 0 */
	char push_address[64]; /* push_address=, default "0.0.0.0" (NUL-terminated) */
};

/*
 * Parses "key=value;key=value" (NULL or "" gives the defaults). On error returns
 * TGTPMEM_E_BSOPTS and writes a message to err (always NUL-terminated).
 */
int tgtpmem_options_parse(const char *bsopts, tgtpmem_options **out, char *err, size_t errlen) TGTPMEM_NOEXCEPT;
void tgtpmem_options_get(const tgtpmem_options *opts, struct tgtpmem_options_values *view) TGTPMEM_NOEXCEPT;
void tgtpmem_options_free(tgtpmem_options *opts) TGTPMEM_NOEXCEPT;

/*
 * Opens and maps the backing store at path. block_size: the final logical block size.
 * Never writes to the backing store, except: with layout=atomic, a store whose metadata area
 * is all zero is formatted (its header written), and recovery finishes the last transaction
 * of each lane. Errors: TGTPMEM_E_OPEN, _READONLY, _SIZE, _BLOCK_SIZE, _MAP, _LAYOUT,
 * _DURABILITY, _NOMEM, _INTERNAL, each with a message in err.
 */
int tgtpmem_lun_open(const char *path, const tgtpmem_options *opts, uint32_t block_size,
		     tgtpmem_lun **out, char *err, size_t errlen) TGTPMEM_NOEXCEPT;
/*
 * Makes everything a write cache holds durable, then unmaps and closes. Returns 0, or the
 * negative errno of that last flush (the LUN is closed all the same: log it, cached writes
 * may be lost). NULL is a no-op.
 */
int tgtpmem_lun_close(tgtpmem_lun *lun) TGTPMEM_NOEXCEPT;

/*
 * The volatile write cache (WCE). Turning it off makes everything it held durable before
 * returning (an initiator that clears WCE stops sending SYNCHRONIZE CACHE). Returns 0 or the
 * negative errno of that flush; the cache is off all the same. Thread-safe against
 * tgtpmem_execute.
 */
int tgtpmem_lun_set_write_cache(tgtpmem_lun *lun, int on) TGTPMEM_NOEXCEPT;

/* SYNCHRONIZE CACHE of the whole LUN: 0 or a negative errno. Thread-safe. */
int tgtpmem_lun_sync(tgtpmem_lun *lun) TGTPMEM_NOEXCEPT;

/*
 * Flush errors are latched: after the first failed flush, drain or file sync of a LUN, every
 * later command that would claim durability fails (MEDIUM ERROR, WRITE ERROR) until the LUN
 * is opened again. tgtpmem_lun_flush_error returns that first errno (positive), or 0;
 * tgtpmem_lun_take_flush_error_report returns it exactly once (then 0), for one log line.
 */
int tgtpmem_lun_flush_error(const tgtpmem_lun *lun) TGTPMEM_NOEXCEPT;
int tgtpmem_lun_take_flush_error_report(tgtpmem_lun *lun) TGTPMEM_NOEXCEPT;

struct tgtpmem_lun_info {
	uint64_t size;          /* bytes */
	uint32_t block_size;
	const char *durability; /* "cache-flush", "fence-only", "msync"; valid while open */
	const char *medium;     /* "devdax", "file" (static string) */
	int fd;                 /* the open backing store; owned by the LUN, never close it */
	const char *layout;     /* "raw" or "atomic" (static string) */
	uint32_t max_atomic_blocks; /* WRITE ATOMIC limit in blocks; 0: not supported */
	uint8_t uuid[16];       /* the atomic layout's UUID; all zero for raw */
	int emulated;           /* durability=emulated: a plain file treated as pmem */
	const char *notice;     /* raw layout: what its store record said (log it), or NULL */
};
void tgtpmem_lun_get_info(const tgtpmem_lun *lun, struct tgtpmem_lun_info *info) TGTPMEM_NOEXCEPT;

/*
 * Push mode: the LUN's bytes as they lie in the mapping (raw layout only) - *base is byte 0
 * of the LUN, *size its length. TGTPMEM_E_LAYOUT for the atomic layout.
 */
int tgtpmem_lun_expose(tgtpmem_lun *lun, void **base, uint64_t *size) TGTPMEM_NOEXCEPT;

/*
 * Makes [offset, offset + len) of the LUN durable through its durability method (after
 * writes that did not go through tgtpmem_execute, e.g. an initiator's RDMA WRITEs).
 * Returns 0 or a negative errno (-ERANGE outside the LUN, -EIO for a flush error or a
 * media error - a poisoned or truncated page is caught, never a SIGBUS -, -ENOTSUP on the
 * atomic layout).
 */
int tgtpmem_lun_persist(tgtpmem_lun *lun, uint64_t offset, uint64_t len) TGTPMEM_NOEXCEPT;

/*
 * Synchronous replication (issue 16, bsopts mirror_meta=). A LUN opened with mirror metadata
 * whose role is secondary refuses every SCSI command that would change its blocks (DATA
 * PROTECT, WRITE PROTECTED): its writes come from its primary, through push mode.
 * tgtpmem_lun_mirror_get: the role and generation identifiers; 0, or -ENOENT when the LUN is
 * not mirrored. tgtpmem_lun_mirror_set: records generations (role unchanged) durably; 0,
 * -ENOENT, -EPERM when the LUN is not a secondary, -EIO when not durable.
 */
#define TGTPMEM_MIRROR_NONE 0
#define TGTPMEM_MIRROR_PRIMARY 1
#define TGTPMEM_MIRROR_SECONDARY 2
struct tgtpmem_mirror_state {
	int role;
	uint64_t current, bitmap, history0, history1;
};
int tgtpmem_lun_mirror_get(const tgtpmem_lun *lun, struct tgtpmem_mirror_state *out) TGTPMEM_NOEXCEPT;
int tgtpmem_lun_mirror_set(tgtpmem_lun *lun, const struct tgtpmem_mirror_state *in) TGTPMEM_NOEXCEPT;

/*
 * A mirror primary (role primary, bsopts mirror=...): every SCSI command that changes blocks
 * goes to the local copy and to the secondary, and completes when both made it durable (or
 * per mirror_policy when the secondary is lost). Everything runs on tgtd's event loop.
 * tgtpmem_lun_mirror_start: for a primary LUN, starts its link (connects in the background,
 * never blocks) with tgtd's loop as ops gives it, and name for the log; 0 (also for a LUN
 * that is no primary), or TGTPMEM_E_MIRROR with a message in err (the CHAP file).
 * tgtpmem_lun_mirror_primary: 1 for a started primary, else 0.
 * tgtpmem_mirror_submit: 0 when the command changes no block (execute it as usual); 1 when
 * it was taken: *res is filled and done(arg) called later, on the loop, never from inside
 * this call. cmd, its buffers and res must stay valid until then.
 * tgtpmem_lun_mirror_tick: from a timer, about once a second (deadlines, reconnects, idle
 * regions). tgtpmem_lun_mirror_stop: drops the link (commands in flight complete, failed);
 * tgtpmem_lun_close calls it.
 */
struct tgtpmem_loop_ops {
	void *ctx;
	int (*event_add)(void *ctx, int fd, void (*handler)(int fd, int events, void *data),
			 void *data);
	void (*event_del)(void *ctx, int fd);
	void (*log)(void *ctx, int error, const char *message);
};
int tgtpmem_lun_mirror_start(tgtpmem_lun *lun, const struct tgtpmem_loop_ops *ops,
			     const char *name, char *err, size_t errlen) TGTPMEM_NOEXCEPT;
int tgtpmem_lun_mirror_primary(const tgtpmem_lun *lun) TGTPMEM_NOEXCEPT;
struct tgtpmem_cmd;
struct tgtpmem_result;
int tgtpmem_mirror_submit(tgtpmem_lun *lun, const struct tgtpmem_cmd *cmd,
			  struct tgtpmem_result *res, void (*done)(void *arg),
			  void *arg) TGTPMEM_NOEXCEPT;
void tgtpmem_lun_mirror_tick(tgtpmem_lun *lun) TGTPMEM_NOEXCEPT;
void tgtpmem_lun_mirror_stop(tgtpmem_lun *lun) TGTPMEM_NOEXCEPT;

/* One SCSI command, as the glue hands it over (tgt has already checked reservations). */
struct tgtpmem_cmd {
	const uint8_t *cdb;
	uint32_t cdb_len;
	const void *out_buf;      /* Data-Out (initiator to target), may be NULL */
	uint32_t out_len;
	void *in_buf;             /* Data-In (target to initiator), may be NULL */
	uint32_t in_len;
	int on_worker;            /* runs on a worker thread, not tgtd's event loop (counted) */
};
/* The write cache is the LUN's state (tgtpmem_lun_set_write_cache), not the command's. */

/* SAM status codes used here. */
#define TGTPMEM_STATUS_GOOD            0x00
#define TGTPMEM_STATUS_CHECK_CONDITION 0x02

struct tgtpmem_result {
	uint8_t status;        /* TGTPMEM_STATUS_* */
	uint8_t sense_key;     /* SPC sense key, with CHECK CONDITION */
	uint16_t asc;          /* (ASC << 8) | ASCQ */
	int info_valid;        /* the INFORMATION field is meaningful */
	uint64_t info;         /* LBA of a medium error, offset of a miscompare */
	uint32_t in_len;       /* bytes of Data-In produced */
	int lba_valid;         /* a failed command that addresses blocks: lba, blocks below */
	uint64_t lba;
	uint32_t blocks;
};

/* Executes one command synchronously; never fails otherwise than through *res. */
void tgtpmem_execute(tgtpmem_lun *lun, const struct tgtpmem_cmd *cmd,
		     struct tgtpmem_result *res) TGTPMEM_NOEXCEPT;

/*
 * A READ (6/10/12/16) whose Data-In the transport may send straight from the LUN's mapping
 * instead of a copy (read_in_place=on, the raw layout): returns 1 with *data and *len (the
 * bytes to send, as tgtpmem_execute would have copied them) and counts the command; 0 when it
 * must be executed with tgtpmem_execute (another command, one that fails, a known media error
 * in its range, another layout, read_in_place=off). cmd->in_buf is not used, cmd->in_len
 * bounds *len. The bytes are the medium's until they are sent: a write to the same blocks
 * meanwhile may be seen, as with any overlapping commands. Thread-safe.
 */
int tgtpmem_read_in_place(tgtpmem_lun *lun, const struct tgtpmem_cmd *cmd, const void **data,
			  uint32_t *len) TGTPMEM_NOEXCEPT;

/*
 * Whether a line about a failed command of this LUN may be logged now: at most
 * TGTPMEM_LOG_LINES_PER_MINUTE a minute per LUN, so that an initiator cannot flood tgtd's log.
 * Returns 1 (log it; *suppressed then holds how many were not logged since the last one, to
 * say so) or 0. Thread-safe (exec=threads).
 */
#define TGTPMEM_LOG_LINES_PER_MINUTE 20
int tgtpmem_lun_log_allowed(tgtpmem_lun *lun, uint64_t *suppressed) TGTPMEM_NOEXCEPT;

/*
 * The status file of a LUN (bs_pmem(8), STATUS FILES): what tgtpmem-admin status and dump
 * read. The glue says what tgt knows; the engine adds what it knows (medium, durability,
 * layout, UUID, bad ranges, counters) and writes <run dir>/tgtd.<control_port>/
 * lun.<tid>.<lun>.json whole. Counters: every command executed, those that failed, those
 * that failed with a MEDIUM ERROR, failed flushes, bad ranges cleared by writes.
 */
struct tgtpmem_status_session {
	const char *peer;
	const char *initiator;
	uint32_t regions;
	uint64_t exposed;
};
struct tgtpmem_lun_ident {
	int control_port;        /* tgtd's (-C): one status directory per tgtd */
	int tid;
	const char *target;      /* the target's name (IQN) */
	uint64_t lun;
	const char *path;
	const char *bsopts;      /* as the administrator gave them (NULL: none) */
	int write_cache;         /* WCE of the caching mode page */
	int online;
	int readonly;            /* tgtadm --params readonly=1, or software write protect */
	const char *exec;        /* "auto", "inline" or "threads" */
	const char *serial;      /* VPD 0x80 unit serial number */
	const char *push_address; /* push=on: the RDMA CM listener; NULL: push mode off */
	unsigned push_port;
	const struct tgtpmem_status_session *sessions; /* push mode's admitted sessions */
	uint32_t sessions_shown; /* entries in sessions */
	uint32_t sessions_total; /* all sessions (may exceed sessions_shown) */
};
/*
 * Writes the file if what it says changed since the last call for this LUN (a call per
 * second costs nothing while nothing changes). Returns 0 or a negative errno (the file is
 * only informative: a failure never affects the LUN).
 */
int tgtpmem_lun_publish(tgtpmem_lun *lun, const struct tgtpmem_lun_ident *ident) TGTPMEM_NOEXCEPT;
/* Removes the file (the LUN is closing). */
void tgtpmem_lun_retract(tgtpmem_lun *lun) TGTPMEM_NOEXCEPT;

/*
 * Once, while tgtd has one thread (when the module registers): takes PMEM2_FORCE_GRANULARITY
 * out of tgtd's environment, so that it weakens no LUN (emulation is per LUN: bsopts
 * durability=emulated), and prepares the flush functions. Returns the variable's value if it
 * was set (for a log line), else NULL.
 */
const char *tgtpmem_module_init(void) TGTPMEM_NOEXCEPT;

/*
 * Once, when the module registers: fixes glibc's malloc thresholds in tgtd so that the data
 * buffers tgt allocates for each large command are reused instead of mapped and faulted in
 * afresh (src/tgtd_heap.h; unless the administrator tuned malloc or set
 * TGTPMEM_TGTD_HEAP=default). Returns a line for the log.
 */
const char *tgtpmem_tune_tgtd_heap(void) TGTPMEM_NOEXCEPT;

/* The engine's version and the tgt version it was built against. */
const char *tgtpmem_version(void) TGTPMEM_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* TGT_PMEM_BS_PMEM_H */
