/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bs_pmem: tgt backing store on persistent memory (devdax, fsdax files, plain files).
 *
 * The only file of the project that includes tgt's headers (they are C only). It adapts
 * tgt's backing-store template to the C++ engine behind include/tgt_pmem/bs_pmem.h and
 * maps the engine's results to sense data. Loaded by the distribution's tgtd from
 * /usr/lib/tgt/backing-store/, which calls register_bs_module().
 *
 * Execution models (bsopts exec=): "inline" runs commands on tgtd's event loop as they are
 * submitted (see bs_pmem_cmd_submit); "threads" uses tgt's bs_thread pool; "auto" (the
 * default) runs small commands inline and those moving more than inline_max bytes on the
 * pool (bs_pmem_on_worker).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/epoll.h>

#include "list.h"
#include "util.h"
#include "tgtd.h"
#include "scsi.h"
#include "spc.h"
#include "bs_thread.h"
#include "target.h"
#include "tgtadm.h"
#include "work.h"
#include "driver.h"

#include "tgt_pmem/bs_pmem.h"
#include "tgt_pmem/net/acl.h"
#include "tgt_pmem/push/service.h"
#include "tgt_pmem/tgt_abi/check.h"

#define BS_PMEM_NAME "pmem"
#ifndef WRITE_ATOMIC_16
#define WRITE_ATOMIC_16 0x9c /* SBC-4; not in tgt 1.0.85's scsi.h */
#endif

struct bs_pmem_lu {
	struct bs_thread_info thread_info; /* first: tgt's BS_THREAD_I() points here */
	tgtpmem_options *opts;
	tgtpmem_lun *lun;
	int exec;
	uint32_t inline_max;          /* exec=auto: the largest transfer executed inline */
	struct event_data sched;      /* inline commands: completes deferred ones */
	struct list_head pending;     /* to execute, then complete */
	struct list_head finished;    /* executed (failed), to complete */
	struct tgtpmem_push_lun *push; /* push=on: attached to the push-mode service */
	int write_cache;              /* the WCE last handed to the engine */
	struct list_head open_list;   /* on bs_pmem_open_luns while p->lun is open */
	struct scsi_lu *lu;
	char *bsopts;                 /* as given, for the status file (tgt keeps no copy) */
	const char *path;             /* tgt's, which becomes lu->path only after bs_open */
	struct event_data published;  /* the first status file, once tgt has set the LU up */
	int read_in_place;            /* bsopts read_in_place (READ IN PLACE below) */
	struct list_head lent;        /* READs whose Data-In points into the mapping */
	void (*tgt_cmd_done)(struct target *, struct scsi_cmd *); /* tgt's lu->cmd_done */
};

/* Every open LUN, for the last flush if tgtd exits with LUNs still open (see below). */
static LIST_HEAD(bs_pmem_open_luns);

static inline struct bs_pmem_lu *PMEM_LU(struct scsi_lu *lu)
{
	return (struct bs_pmem_lu *)((char *)lu + sizeof(*lu));
}

static int write_cache_enabled(struct scsi_lu *lu)
{
	struct mode_pg *pg = find_mode_page(lu, 0x08, 0);

	/* No caching page means no way to ask for a cache: write-through. */
	return pg && (pg->mode_data[0] & 0x04);
}

/*
 * A flush failure is latched by the engine (bs_pmem.h): say so once, with what it means and
 * what to do, the first time a command or a push-mode COMMIT runs into it.
 */
static void report_flush_error(struct scsi_lu *lu)
{
	struct bs_pmem_lu *p = PMEM_LU(lu);
	int e;

	if (!p->lun || !(e = tgtpmem_lun_take_flush_error_report(p->lun)))
		return;
	eprintf("bs_pmem: %s: flush failed (%s): writes acknowledged before it may not be "
		"durable; from now on every SYNCHRONIZE CACHE, FUA or write-through write and "
		"push-mode COMMIT fails with MEDIUM ERROR until the LUN is opened again (check the "
		"medium, then delete and add the LUN, or take it offline and update its path)\n",
		lu->path, strerror(e));
}

/*
 * Hands the caching mode page's WCE to the engine when it changed (MODE SELECT, or tgtadm's
 * mode_page parameter). Turning the cache off flushes what it held. On tgtd's event loop.
 * Returns 0, or -1 if that flush failed.
 */
static int bs_pmem_apply_write_cache(struct scsi_lu *lu)
{
	struct bs_pmem_lu *p = PMEM_LU(lu);
	int wce = write_cache_enabled(lu);
	int ret;

	if (!p->lun || wce == p->write_cache)
		return 0;
	p->write_cache = wce;
	ret = tgtpmem_lun_set_write_cache(p->lun, wce);
	if (ret) {
		eprintf("bs_pmem: %s: turning the write cache off: flush failed (%s)\n",
			lu->path, strerror(-ret));
		report_flush_error(lu);
		return -1;
	}
	return 0;
}

static void set_result(struct scsi_cmd *cmd, const struct tgtpmem_result *res)
{
	if (res->status == TGTPMEM_STATUS_GOOD) {
		scsi_set_result(cmd, SAM_STAT_GOOD);
		/* tgt sends sense data whenever sense_len != 0, whatever the status */
		cmd->sense_len = 0;
		return;
	}
	memset(cmd->sense_buffer, 0, sizeof(cmd->sense_buffer));
	cmd->sense_len = 0;
	if (res->info_valid)
		sense_data_build_with_info(cmd, res->sense_key, res->asc, res->info);
	else
		sense_data_build(cmd, res->sense_key, res->asc);
	scsi_set_result(cmd, res->status);
	if (scsi_get_data_dir(cmd) == DATA_READ || scsi_get_data_dir(cmd) == DATA_BIDIRECTIONAL)
		scsi_set_in_resid_by_actual(cmd, 0);
}

/* tgtd's event loop: the thread that loads the module (register_bs_module). */
static pthread_t bs_pmem_loop_thread;

static const char *bs_pmem_exec_name(int exec)
{
	return exec == TGTPMEM_EXEC_AUTO ? "auto" : exec == TGTPMEM_EXEC_THREADS ? "threads" : "inline";
}

/* A failed command in tgtd's log, rate-limited per LUN: an initiator must not be able to
 * flood the log. */
static void bs_pmem_log_failed(struct scsi_cmd *cmd, const struct tgtpmem_result *res)
{
	struct bs_pmem_lu *p = PMEM_LU(cmd->dev);
	uint64_t suppressed = 0;

	if (tgtpmem_lun_log_allowed(p->lun, &suppressed)) {
		if (suppressed)
			eprintf("bs_pmem: %s: %" PRIu64 " more failed commands were not "
				"logged\n", cmd->dev->path, suppressed);
		if (res->lba_valid && res->info_valid)
			eprintf("bs_pmem: %s: opcode 0x%02x, LBA %" PRIu64 ", %u blocks, "
				"failed: key 0x%x asc 0x%04x, information %" PRIu64 "\n",
				cmd->dev->path, cmd->scb[0], res->lba, res->blocks,
				res->sense_key, res->asc, res->info);
		else if (res->lba_valid)
			eprintf("bs_pmem: %s: opcode 0x%02x, LBA %" PRIu64 ", %u blocks, "
				"failed: key 0x%x asc 0x%04x\n", cmd->dev->path,
				cmd->scb[0], res->lba, res->blocks, res->sense_key, res->asc);
		else
			eprintf("bs_pmem: %s: opcode 0x%02x failed: key 0x%x asc 0x%04x\n",
				cmd->dev->path, cmd->scb[0], res->sense_key, res->asc);
	}
	report_flush_error(cmd->dev);
}

static void bs_pmem_request(struct scsi_cmd *cmd)
{
	struct bs_pmem_lu *p = PMEM_LU(cmd->dev);
	struct tgtpmem_cmd c = {
		.on_worker = !pthread_equal(pthread_self(), bs_pmem_loop_thread),
		.cdb = cmd->scb,
		.cdb_len = (uint32_t)cmd->scb_len,
		.out_buf = scsi_get_out_buffer(cmd),
		.out_len = scsi_get_out_length(cmd),
		.in_buf = scsi_get_in_buffer(cmd),
		.in_len = scsi_get_in_length(cmd),
	};
	struct tgtpmem_result res;

	tgtpmem_execute(p->lun, &c, &res);
	if (res.status != TGTPMEM_STATUS_GOOD)
		bs_pmem_log_failed(cmd, &res);
	set_result(cmd, &res);
}

static void bs_pmem_run_pending(struct event_data *ev)
{
	struct bs_pmem_lu *p = ev->data;
	struct scsi_cmd *cmd;

	/* Commands that failed when submitted: their completion is posted from here, after
	 * tgt's SBC code returned, so that the CHECK CONDITION reaches the initiator. */
	while (!list_empty(&p->finished)) {
		cmd = list_first_entry(&p->finished, struct scsi_cmd, bs_list);
		list_del(&cmd->bs_list);
		target_cmd_io_done(cmd, scsi_get_result(cmd));
	}
	/* Commands whose tgt caller writes sense data after submitting (UNMAP): executed here,
	 * each completion posted right after its own command has executed. */
	while (!list_empty(&p->pending)) {
		cmd = list_first_entry(&p->pending, struct scsi_cmd, bs_list);
		list_del(&cmd->bs_list);
		bs_pmem_request(cmd);
		target_cmd_io_done(cmd, scsi_get_result(cmd));
	}
}

/*
 * Whether a command goes to the worker pool: always with exec=threads, never with
 * exec=inline; with exec=auto when it moves more than inline_max bytes (a 1 MiB copy on the
 * event loop holds up every other session for its duration, while a 4 KiB one costs less
 * than the hand-over to a worker), and WRITE SAME, whose work is its blocks, not its
 * one-block transfer.
 */
static int bs_pmem_on_worker(const struct bs_pmem_lu *p, struct scsi_cmd *cmd)
{
	uint32_t len;

	if (p->exec != TGTPMEM_EXEC_AUTO)
		return p->exec == TGTPMEM_EXEC_THREADS;
	if (cmd->scb[0] == WRITE_SAME || cmd->scb[0] == WRITE_SAME_16)
		return 1;
	len = scsi_get_in_length(cmd);
	if (scsi_get_out_length(cmd) > len)
		len = scsi_get_out_length(cmd);
	return len > p->inline_max;
}

/*
 * A mirror primary (bs_pmem(8), MIRRORING): a command that changes blocks goes to both copies
 * through the engine's mirror, on the loop, whatever exec says; it completes from the
 * finished list once both made it durable (or the policy answered). done may run inside
 * tgtpmem_mirror_submit: it only queues the completion.
 */
struct bs_pmem_mirrored {
	struct scsi_cmd *cmd;
	struct tgtpmem_cmd c;
	struct tgtpmem_result res;
};

static void bs_pmem_mirror_done(void *arg)
{
	struct bs_pmem_mirrored *m = arg;
	struct scsi_cmd *cmd = m->cmd;
	struct bs_pmem_lu *p = PMEM_LU(cmd->dev);

	if (m->res.status != TGTPMEM_STATUS_GOOD)
		bs_pmem_log_failed(cmd, &m->res);
	set_result(cmd, &m->res);
	free(m);
	list_add_tail(&cmd->bs_list, &p->finished);
	tgt_add_sched_event(&p->sched);
}

/* 1: taken by the mirror (completed later); 0: execute it as usual. */
static int bs_pmem_mirror_submit(struct bs_pmem_lu *p, struct scsi_cmd *cmd)
{
	struct bs_pmem_mirrored *m;

	if (!p->lun || !tgtpmem_lun_mirror_primary(p->lun))
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m) {
		/* Whether it changes blocks is not known: refused, never executed unmirrored. */
		set_cmd_async(cmd);
		sense_data_build(cmd, HARDWARE_ERROR, ASC_INTERNAL_TGT_FAILURE);
		scsi_set_result(cmd, SAM_STAT_CHECK_CONDITION);
		list_add_tail(&cmd->bs_list, &p->finished);
		tgt_add_sched_event(&p->sched);
		return 1;
	}
	m->cmd = cmd;
	m->c.cdb = cmd->scb;
	m->c.cdb_len = (uint32_t)cmd->scb_len;
	m->c.out_buf = scsi_get_out_buffer(cmd);
	m->c.out_len = scsi_get_out_length(cmd);
	m->c.in_buf = scsi_get_in_buffer(cmd);
	m->c.in_len = scsi_get_in_length(cmd);
	set_cmd_async(cmd);
	if (tgtpmem_mirror_submit(p->lun, &m->c, &m->res, bs_pmem_mirror_done, m))
		return 1;
	clear_cmd_async(cmd);
	free(m);
	return 0;
}

/*
 * READ IN PLACE (bs_pmem(8)). Over iSCSI/TCP a READ's Data-In is sent from the buffer its
 * scsi_cmd points to, after the command completed. Pointing that buffer into the mapping
 * instead of copying the blocks into tgt's own saves the copy (a 1 MiB one costs ~60 us of
 * tgtd's CPU, and a worker's hand-over besides). tgt frees the buffer it allocated when the
 * command is done: lu->cmd_done, which tgt calls for every command of the LU before it frees
 * the buffers (iscsi_free_cmd_task, and an aborted command), puts tgt's pointer back first.
 * The LU cannot be deleted meanwhile: tgt counts the command active until then.
 * Only for tgt's iSCSI/TCP driver ("iscsi"): iSER and SRP move Data-In by RDMA from buffers
 * registered with the adapter, which the mapping is not.
 */
struct bs_pmem_lent_buf {
	struct list_head list;
	struct scsi_cmd *cmd;
	void *tgt_buf;
};

static int bs_pmem_lend(struct bs_pmem_lu *p, struct scsi_cmd *cmd)
{
	struct bs_pmem_lent_buf *l;
	const void *data;
	uint32_t len;
	struct tgtpmem_cmd c = {
		.cdb = cmd->scb,
		.cdb_len = (uint32_t)cmd->scb_len,
		.in_len = scsi_get_in_length(cmd),
	};

	if (!p->read_in_place || !p->lun || scsi_get_data_dir(cmd) != DATA_READ)
		return 0;
	if (strcmp(tgt_drivers[cmd->c_target->lid]->name, "iscsi"))
		return 0;
	l = malloc(sizeof(*l));
	if (!l)
		return 0;
	if (!tgtpmem_read_in_place(p->lun, &c, &data, &len)) {
		free(l);
		return 0;
	}
	l->cmd = cmd;
	l->tgt_buf = scsi_get_in_buffer(cmd);
	list_add_tail(&l->list, &p->lent);
	scsi_set_in_buffer(cmd, (void *)data);
	scsi_set_result(cmd, SAM_STAT_GOOD);
	cmd->sense_len = 0;
	return 1;
}

static void bs_pmem_cmd_done(struct target *target, struct scsi_cmd *cmd)
{
	struct bs_pmem_lu *p = PMEM_LU(cmd->dev);
	struct bs_pmem_lent_buf *l;

	list_for_each_entry(l, &p->lent, list) {
		if (l->cmd == cmd) {
			scsi_set_in_buffer(cmd, l->tgt_buf);
			list_del(&l->list);
			free(l);
			break;
		}
	}
	p->tgt_cmd_done(target, cmd);
}

/*
 * A command executed inline runs right here, on tgtd's event loop. When it succeeds,
 * returning 0 lets tgt's SBC code complete it with GOOD at once (its data is already durable:
 * bs_pmem_request returned). A failure is completed asynchronously from a scheduled event,
 * because tgt would otherwise post GOOD. UNMAP is deferred whole: sbc_unmap() builds sense
 * data after bs_cmd_submit returns and relies on the store completing it later.
 */
static int bs_pmem_cmd_submit(struct scsi_cmd *cmd)
{
	struct bs_pmem_lu *p = PMEM_LU(cmd->dev);

	/* A mode page changed by tgtadm (not by MODE SELECT, which is hooked) is seen here. */
	bs_pmem_apply_write_cache(cmd->dev);
	if (bs_pmem_mirror_submit(p, cmd))
		return 0;
	if (bs_pmem_lend(p, cmd))
		return 0;
	if (bs_pmem_on_worker(p, cmd))
		return bs_thread_cmd_submit(cmd);

	if (cmd->scb[0] == UNMAP) {
		set_cmd_async(cmd);
		list_add_tail(&cmd->bs_list, &p->pending);
	} else {
		bs_pmem_request(cmd);
		if (scsi_get_result(cmd) == SAM_STAT_GOOD)
			return 0;
		set_cmd_async(cmd);
		list_add_tail(&cmd->bs_list, &p->finished);
	}
	tgt_add_sched_event(&p->sched);
	return 0;
}

/* GET LBA STATUS, answered by the engine (tgt's own lseeks the fd, which a devdax has not). */
static int bs_pmem_get_lba_status(int host_no, struct scsi_cmd *cmd)
{
	struct bs_pmem_lu *p = PMEM_LU(cmd->dev);
	struct tgtpmem_cmd c = {
		.cdb = cmd->scb,
		.cdb_len = (uint32_t)cmd->scb_len,
		.in_buf = scsi_get_in_buffer(cmd),
		.in_len = scsi_get_in_length(cmd),
	};
	struct tgtpmem_result res;

	if (!p->lun) {
		scsi_set_in_resid_by_actual(cmd, 0);
		sense_data_build(cmd, NOT_READY, ASC_MEDIUM_NOT_PRESENT);
		return SAM_STAT_CHECK_CONDITION;
	}
	tgtpmem_execute(p->lun, &c, &res);
	if (res.status != TGTPMEM_STATUS_GOOD) {
		set_result(cmd, &res);
		return res.status;
	}
	scsi_set_in_resid_by_actual(cmd, res.in_len);
	return SAM_STAT_GOOD;
}

/*
 * WRITE ATOMIC(16) for LUNs on the atomic layout: tgt's SBC code does not know the opcode,
 * so this is its device-type handler, doing what sbc_rw does before a write (reservations,
 * write protection) and handing the command to the engine like every other write.
 */
static int bs_pmem_write_atomic(int host_no, struct scsi_cmd *cmd)
{
	struct scsi_lu *lu = cmd->dev;

	if (device_reserved(cmd))
		return SAM_STAT_RESERVATION_CONFLICT;
	if (lu->attrs.readonly || lu->attrs.swp) {
		sense_data_build(cmd, DATA_PROTECT, ASC_WRITE_PROTECT);
		return SAM_STAT_CHECK_CONDITION;
	}
	if (bs_pmem_cmd_submit(cmd)) {
		sense_data_build(cmd, HARDWARE_ERROR, ASC_INTERNAL_TGT_FAILURE);
		return SAM_STAT_CHECK_CONDITION;
	}
	return SAM_STAT_GOOD;
}

/*
 * COMPARE AND WRITE (SBC-3 5.2; VMware's ATS, its VMFS lock): tgt 1.0.85's SBC table sends
 * opcode 0x89 to spc_illegal_op (its sbc_rw entry is commented out), although sbc_rw knows
 * the command (protection field, write protect, LBA range; the data-out buffer, the verify
 * and the write data, is left whole). This LU's table gets WRITE(16)'s entry for it - sbc_rw,
 * and a write's reservation conflicts - so that the command reaches the engine, which makes
 * the compare and the write one atomic operation (scsi_exec.cc, do_compare_and_write).
 * REPORT SUPPORTED OPERATION CODES lists it from then on: tgt builds the list from the table.
 */
static void bs_pmem_hook_compare_and_write(struct scsi_lu *lu)
{
	struct device_type_operations *ops = lu->dev_type_template.ops;

	if (ops[COMPARE_AND_WRITE].cmd_perform == spc_illegal_op &&
	    ops[WRITE_16].cmd_perform != spc_illegal_op)
		ops[COMPARE_AND_WRITE] = ops[WRITE_16];
}

/*
 * MODE SELECT (6 and 10): tgt's own handler changes the mode pages; when it turned the write
 * cache off, what the cache held is made durable before the command completes, since the
 * initiator will not send SYNCHRONIZE CACHE for it any more (SBC-3 6.5.4, WCE).
 */
static int (*tgt_mode_select6)(int host_no, struct scsi_cmd *cmd);
static int (*tgt_mode_select10)(int host_no, struct scsi_cmd *cmd);

static void bs_pmem_push_update_access(struct scsi_lu *lu);

static int bs_pmem_mode_select(int host_no, struct scsi_cmd *cmd)
{
	int ret = cmd->scb[0] == MODE_SELECT ? tgt_mode_select6(host_no, cmd) :
					       tgt_mode_select10(host_no, cmd);

	if (ret != SAM_STAT_GOOD)
		return ret;
	/* Software write protect (control mode page) reaches push mode too. */
	bs_pmem_push_update_access(cmd->dev);
	if (bs_pmem_apply_write_cache(cmd->dev)) {
		sense_data_build(cmd, MEDIUM_ERROR, ASC_WRITE_ERROR);
		return SAM_STAT_CHECK_CONDITION;
	}
	return ret;
}

static void bs_pmem_hook_mode_select(struct scsi_lu *lu)
{
	struct device_type_operations *ops = lu->dev_type_template.ops;

	if (!tgt_mode_select6) {
		tgt_mode_select6 = ops[MODE_SELECT].cmd_perform;
		tgt_mode_select10 = ops[MODE_SELECT_10].cmd_perform;
	}
	if (tgt_mode_select6)
		ops[MODE_SELECT].cmd_perform = bs_pmem_mode_select;
	if (tgt_mode_select10)
		ops[MODE_SELECT_10].cmd_perform = bs_pmem_mode_select;
}

/*
 * REPORT SUPPORTED OPERATION CODES for one command (SPC-4 6.35): tgt's table of CDB usage
 * data does not know WRITE ATOMIC(16); answer that one ourselves, everything else is tgt's.
 */
static struct service_action bs_pmem_maint_in[2];
static int (*tgt_report_opcodes)(int host_no, struct scsi_cmd *cmd);

static int bs_pmem_report_opcodes(int host_no, struct scsi_cmd *cmd)
{
	static const uint8_t usage[16] = {
		WRITE_ATOMIC_16, 0x18, /* DPO, FUA */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* LBA */
		0x00, 0x00, /* ATOMIC BOUNDARY: boundaries are not offered */
		0xff, 0xff, /* TRANSFER LENGTH */
		0x00, 0x00,
	};
	uint8_t buf[4 + sizeof(usage)] = { 0, 0x03 /* supported, standard */, 0, 16 };
	uint32_t alloc_len = get_unaligned_be32(&cmd->scb[6]);
	uint32_t len;

	if ((cmd->scb[2] & 0x87) != 0x01 || cmd->scb[3] != WRITE_ATOMIC_16)
		return tgt_report_opcodes(host_no, cmd);
	memcpy(buf + 4, usage, sizeof(usage));
	len = alloc_len < sizeof(buf) ? alloc_len : sizeof(buf);
	if (len > scsi_get_in_length(cmd))
		len = scsi_get_in_length(cmd);
	memcpy(scsi_get_in_buffer(cmd), buf, len);
	scsi_set_in_resid_by_actual(cmd, len);
	return SAM_STAT_GOOD;
}

static void bs_pmem_hook_report_opcodes(struct scsi_lu *lu)
{
	struct device_type_operations *ops = &lu->dev_type_template.ops[MAINT_PROTOCOL_IN];
	struct service_action *rsoc;

	if (!tgt_report_opcodes) {
		rsoc = find_service_action(ops->service_actions, MPI_REPORT_SUPPORTED_OPCODES);
		if (!rsoc)
			return;
		tgt_report_opcodes = rsoc->cmd_perform;
		bs_pmem_maint_in[0].service_action = MPI_REPORT_SUPPORTED_OPCODES;
		bs_pmem_maint_in[0].cmd_perform = bs_pmem_report_opcodes;
	}
	ops->service_actions = bs_pmem_maint_in;
}

static struct service_action bs_pmem_sa_in[3];

static void bs_pmem_hook_service_actions(struct scsi_lu *lu)
{
	struct device_type_operations *ops = &lu->dev_type_template.ops[SERVICE_ACTION_IN];
	struct service_action *readcap16;

	if (!bs_pmem_sa_in[0].cmd_perform) {
		readcap16 = find_service_action(ops->service_actions, SAI_READ_CAPACITY_16);
		if (!readcap16)
			return; /* not an SBC device type: leave tgt's table alone */
		bs_pmem_sa_in[0] = *readcap16;
		bs_pmem_sa_in[1].service_action = SAI_GET_LBA_STATUS;
		bs_pmem_sa_in[1].cmd_perform = bs_pmem_get_lba_status;
	}
	ops->service_actions = bs_pmem_sa_in;
}

/*
 * Block Limits VPD page (SBC-3 6.6.4), our values: tgt's generic page claims 0xffffffff
 * UNMAP block descriptors, which initiators read as -1 (libiscsi's Unmap.ZeroBlocks fails on
 * every tgt store because of it). The engine enforces these same limits. tgt calls this
 * again when the LU's thin_provisioning parameter changes. data[] omits the 4-byte header.
 */
static void bs_pmem_update_vpd_b0(struct scsi_lu *lu, void *arg)
{
	struct bs_pmem_lu *p = PMEM_LU(lu);
	uint8_t *data = lu->attrs.lu_vpd[PCODE_OFFSET(0xb0)]->data;
	uint32_t granule = 4096U >> lu->blk_shift ? 4096U >> lu->blk_shift : 1;
	struct tgtpmem_lun_info info = { .max_atomic_blocks = 0 };

	if (p->lun)
		tgtpmem_lun_get_info(p->lun, &info);
	data[1] = TGTPMEM_MAX_COMPARE_AND_WRITE_BLOCKS;
	if (info.max_atomic_blocks) {
		/* SBC-4: MAXIMUM ATOMIC TRANSFER LENGTH must not exceed MAXIMUM TRANSFER
		 * LENGTH, which tgt leaves at 0 (unreported): report 0xffff blocks. */
		put_unaligned_be32(0xffff, data + 4);
		put_unaligned_be32(info.max_atomic_blocks, data + 40); /* bytes 44-47 */
		memset(data + 44, 0, 16); /* no alignment, no granularity, no boundaries */
	} else {
		memset(data + 40, 0, 20);
	}
	if (lu->attrs.thinprovisioning) {
		put_unaligned_be32(TGTPMEM_MAX_UNMAP_BLOCKS, data + 16);
		put_unaligned_be32(TGTPMEM_MAX_UNMAP_DESCRIPTORS, data + 20);
		/* holes are punched in whole pages: say so, so initiators align to them */
		put_unaligned_be32(granule, data + 24);
		put_unaligned_be32(0x80000000U, data + 28); /* UGAVALID, alignment 0 */
	} else {
		memset(data + 16, 0, 16);
	}
}

static tgtadm_err bs_pmem_init(struct scsi_lu *lu, char *bsopts)
{
	struct bs_pmem_lu *p = PMEM_LU(lu);
	struct tgtpmem_options_values v;
	struct mode_pg *pg;
	char err[512];
	int ret;

	ret = tgtpmem_options_parse(bsopts, &p->opts, err, sizeof(err));
	if (ret) {
		eprintf("bs_pmem: refused: %s\n", err);
		return TGTADM_INVALID_REQUEST;
	}
	p->bsopts = bsopts ? strdup(bsopts) : NULL;
	tgtpmem_options_get(p->opts, &v);

	if (v.block_size) {
		/* sbc_lu_init already defaulted blk_shift to 9 (512); --blocksize may have set it */
		if (lu->blk_shift != 9 && (1U << lu->blk_shift) != v.block_size) {
			eprintf("bs_pmem: refused: bsopts block_size=%u conflicts with "
				"--blocksize %u\n", v.block_size, 1U << lu->blk_shift);
			goto fail;
		}
		lu->blk_shift = v.block_size == 4096 ? 12 : 9;
	}
	if ((1U << lu->blk_shift) != 512 && (1U << lu->blk_shift) != 4096) {
		eprintf("bs_pmem: refused: block size %u (must be 512 or 4096)\n",
			1U << lu->blk_shift);
		goto fail;
	}

	/* Durability contract: write-through (WCE=0) unless the administrator asked for a
	 * volatile write cache; the initiator may still change WCE with MODE SELECT. */
	pg = find_mode_page(lu, 0x08, 0);
	if (pg) {
		if (v.write_cache)
			pg->mode_data[0] |= 0x04;
		else
			pg->mode_data[0] &= ~0x04;
	}

	lu->attrs.thinprovisioning = v.unmap;
	if (lu->attrs.lu_vpd[PCODE_OFFSET(0xb0)]) {
		lu->attrs.lu_vpd[PCODE_OFFSET(0xb0)]->vpd_update = bs_pmem_update_vpd_b0;
		bs_pmem_update_vpd_b0(lu, NULL);
	}
	if (lu->attrs.lu_vpd[PCODE_OFFSET(0xb2)])
		lu->attrs.lu_vpd[PCODE_OFFSET(0xb2)]->vpd_update(lu, NULL);

	bs_pmem_hook_service_actions(lu);

	p->exec = v.exec;
	p->inline_max = v.inline_max;
	/* The atomic layout never lends (tgtpmem_read_in_place): no READ need ask. */
	p->read_in_place = v.read_in_place && !v.atomic_layout;
	INIT_LIST_HEAD(&p->lent);
	p->tgt_cmd_done = lu->cmd_done;
	lu->cmd_done = bs_pmem_cmd_done;
	INIT_LIST_HEAD(&p->pending);
	INIT_LIST_HEAD(&p->finished);
	tgt_init_sched_event(&p->sched, bs_pmem_run_pending, p);
	if (p->exec != TGTPMEM_EXEC_INLINE) {
		if (bs_thread_open(&p->thread_info, bs_pmem_request, v.threads) != TGTADM_SUCCESS) {
			eprintf("bs_pmem: refused: cannot start %d threads\n", v.threads);
			goto fail;
		}
	}
	return TGTADM_SUCCESS;
fail:
	/* tgt does not call bs_exit when bs_init fails */
	if (p->tgt_cmd_done)
		lu->cmd_done = p->tgt_cmd_done;
	tgtpmem_options_free(p->opts);
	p->opts = NULL;
	free(p->bsopts);
	p->bsopts = NULL;
	return TGTADM_INVALID_REQUEST;
}

static void bs_pmem_exit(struct scsi_lu *lu)
{
	struct bs_pmem_lu *p = PMEM_LU(lu);

	/* bs_init succeeded (tgt calls bs_exit only then): every exec but inline has workers. */
	if (p->exec != TGTPMEM_EXEC_INLINE)
		bs_thread_close(&p->thread_info);
	tgt_remove_sched_event(&p->sched);
	lu->cmd_done = p->tgt_cmd_done;
	tgtpmem_options_free(p->opts);
	p->opts = NULL;
	free(p->bsopts);
	p->bsopts = NULL;
}

/*
 * A layout with a header (atomic) carries a UUID: it becomes the LU's serial number (VPD
 * 0x80) and its identification descriptors (VPD 0x83), so that initiators see the same LU
 * after a restart, under whatever target and LUN number it is exported. An administrator's
 * own scsi_id/scsi_sn (tgtadm --params) still override it afterwards.
 */
static void bs_pmem_set_identity(struct scsi_lu *lu, const uint8_t uuid[16])
{
	static const uint8_t zero[16];
	char hex[33];
	uint64_t hi = 0;
	int i;

	if (!memcmp(uuid, zero, sizeof(zero)))
		return;
	for (i = 0; i < 16; i++)
		sprintf(hex + 2 * i, "%02x", uuid[i]);
	for (i = 0; i < 8; i++)
		hi = hi << 8 | uuid[i];
	snprintf(lu->attrs.scsi_sn, sizeof(lu->attrs.scsi_sn), "%s", hex);
	snprintf(lu->attrs.scsi_id, sizeof(lu->attrs.scsi_id), "TGTPMEM %.28s", hex);
	lu->attrs.numeric_id = hi >> 4; /* NAA local: 60 bits */
	if (lu->attrs.lu_vpd[PCODE_OFFSET(0x80)])
		lu->attrs.lu_vpd[PCODE_OFFSET(0x80)]->vpd_update(lu, lu->attrs.scsi_sn);
	if (lu->attrs.lu_vpd[PCODE_OFFSET(0x83)])
		lu->attrs.lu_vpd[PCODE_OFFSET(0x83)]->vpd_update(lu, lu->attrs.scsi_id);
}

/* ---- push mode (iser_ext): the LUN's mapping exposed over RDMA -------------------------- */

static int push_event_add(void *ctx, int fd, void (*handler)(int fd, int events, void *data),
			  void *data)
{
	return tgt_event_add(fd, EPOLLIN, handler, data);
}

static void push_event_del(void *ctx, int fd)
{
	tgt_event_del(fd);
}

static const char *push_target_name(void *ctx, int tid)
{
	return tgt_targetname(tid);
}

/* Admitted by an address entry (-I) or an initiator name entry (-Q), as tgt's iSCSI does. */
static int push_admit(void *ctx, int tid, const char *initiator, const char *peer)
{
	char *entry;
	int idx;

	for (idx = 0; (entry = acl_get(tid, idx)); idx++)
		if (tgtpmem_acl_address_match(entry, peer))
			return 0;
	for (idx = 0; (entry = iqn_acl_get(tid, idx)); idx++)
		if (!strcmp(entry, initiator))
			return 0;
	return -EPERM;
}

static int push_chap_required(void *ctx, int tid)
{
	return account_available(tid, ACCOUNT_TYPE_INCOMING) ? 1 : 0;
}

static int push_chap_secret(void *ctx, int tid, const char *user, char *secret, size_t len)
{
	char name[256];

	snprintf(name, sizeof(name), "%s", user);
	memset(secret, 0, len);
	if (account_lookup(tid, ACCOUNT_TYPE_INCOMING, name, sizeof(name), secret, (int)len - 1))
		return -ENOENT;
	return 0;
}

static void push_log(void *ctx, int error, const char *message)
{
	if (error)
		eprintf("%s\n", message);
	else
		log_warning("%s\n", message);
}

/* tgtd's loop and log as a mirror primary's link uses them. */
static const struct tgtpmem_loop_ops bs_pmem_loop_ops = {
	.event_add = push_event_add,
	.event_del = push_event_del,
	.log = push_log,
};

static const struct tgtpmem_push_host_ops push_host_ops = {
	.event_add = push_event_add,
	.event_del = push_event_del,
	.target_name = push_target_name,
	.admit = push_admit,
	.chap_required = push_chap_required,
	.chap_secret = push_chap_secret,
	.log = push_log,
};

/*
 * Push mode follows what tgt's SCSI side allows the LUN (tgt_pmem/push/service.h): offline,
 * nothing; read-only or write protected, reads; else both.
 */
static void bs_pmem_push_update_access(struct scsi_lu *lu)
{
	struct bs_pmem_lu *p = PMEM_LU(lu);
	int access = TGTPMEM_PUSH_ACCESS_READ_WRITE;

	if (!p->push)
		return;
	if (!lu->attrs.online)
		access = TGTPMEM_PUSH_ACCESS_NONE;
	else if (lu->attrs.readonly || lu->attrs.swp)
		access = TGTPMEM_PUSH_ACCESS_READ;
	tgtpmem_push_set_access(p->push, access);
}

/*
 * tgtadm --op update --params (readonly=, online=, path=, ...) and tgt putting the LU online or
 * offline: push mode follows at once. The originals are tgt's SBC ones, the same for every LU.
 */
static tgtadm_err (*tgt_lu_config)(struct scsi_lu *lu, char *args);
static tgtadm_err (*tgt_lu_online)(struct scsi_lu *lu);
static tgtadm_err (*tgt_lu_offline)(struct scsi_lu *lu);

static tgtadm_err bs_pmem_lu_config(struct scsi_lu *lu, char *args)
{
	tgtadm_err ret = tgt_lu_config ? tgt_lu_config(lu, args) : TGTADM_INVALID_REQUEST;

	bs_pmem_push_update_access(lu);
	return ret;
}

static tgtadm_err bs_pmem_lu_online(struct scsi_lu *lu)
{
	tgtadm_err ret = tgt_lu_online ? tgt_lu_online(lu) : TGTADM_SUCCESS;

	bs_pmem_push_update_access(lu);
	return ret;
}

static tgtadm_err bs_pmem_lu_offline(struct scsi_lu *lu)
{
	tgtadm_err ret = tgt_lu_offline ? tgt_lu_offline(lu) : TGTADM_SUCCESS;

	bs_pmem_push_update_access(lu);
	return ret;
}

static void bs_pmem_hook_lu_state(struct scsi_lu *lu)
{
	struct device_type_template *t = &lu->dev_type_template;

	if (t->lu_config != bs_pmem_lu_config) {
		tgt_lu_config = t->lu_config;
		t->lu_config = bs_pmem_lu_config;
	}
	if (t->lu_online != bs_pmem_lu_online) {
		tgt_lu_online = t->lu_online;
		t->lu_online = bs_pmem_lu_online;
	}
	if (t->lu_offline != bs_pmem_lu_offline) {
		tgt_lu_offline = t->lu_offline;
		t->lu_offline = bs_pmem_lu_offline;
	}
}

static int push_persist(void *lun_ctx, uint64_t offset, uint64_t len)
{
	struct scsi_lu *lu = lun_ctx;
	int ret = tgtpmem_lun_persist(PMEM_LU(lu)->lun, offset, len);

	if (ret)
		report_flush_error(lu);
	return ret;
}

/* MIRROR_STATE (a mirror primary asking this LUN, its secondary): the engine's metadata. */
static int push_mirror_get(void *lun_ctx, struct tgtpmem_push_mirror *out)
{
	struct scsi_lu *lu = lun_ctx;
	struct tgtpmem_mirror_state m;
	int ret = tgtpmem_lun_mirror_get(PMEM_LU(lu)->lun, &m);

	if (ret)
		return ret;
	out->role = m.role;
	out->current = m.current;
	out->bitmap = m.bitmap;
	out->history0 = m.history0;
	out->history1 = m.history1;
	return 0;
}

static int push_mirror_set(void *lun_ctx, const struct tgtpmem_push_mirror *in)
{
	struct scsi_lu *lu = lun_ctx;
	struct tgtpmem_mirror_state m = {
		.role = in->role, .current = in->current, .bitmap = in->bitmap,
		.history0 = in->history0, .history1 = in->history1,
	};
	int ret = tgtpmem_lun_mirror_set(PMEM_LU(lu)->lun, &m);

	if (ret == 0)
		eprintf("bs_pmem: LUN %" PRIu64 " of target %d: mirror generation %016" PRIx64
			" recorded by the primary\n", lu->lun, lu->tgt->tid, in->current);
	return ret;
}

/* push=on: attach the LUN to the push service on its port; 0 or -1 (logged). */
static int bs_pmem_push_attach(struct scsi_lu *lu, const char *path)
{
	struct bs_pmem_lu *p = PMEM_LU(lu);
	struct tgtpmem_options_values v;
	void *base;
	uint64_t size;
	int err = 0;

	tgtpmem_options_get(p->opts, &v);
	if (!v.push)
		return 0;
	if (tgtpmem_lun_expose(p->lun, &base, &size)) {
		eprintf("bs_pmem: refused: %s: push=on needs layout=raw\n", path);
		return -1;
	}
	p->push = tgtpmem_push_attach(&push_host_ops, v.push_address, v.push_port, lu->tgt->tid,
				      lu->lun, base, size, 1U << lu->blk_shift, push_persist,
				      lu, &err);
	if (!p->push) {
		eprintf("bs_pmem: refused: %s: push mode cannot listen on RDMA CM %s port %u (%s)\n",
			path, v.push_address, v.push_port,
			err == TGTPMEM_PUSH_E_NODEV ? "no RDMA device for that address" :
			err == TGTPMEM_PUSH_E_ADDRINUSE ?
			"port in use, by another program or by push mode on another push_address" :
			"RDMA error");
		return -1;
	}
	tgtpmem_push_set_poll(p->push, v.push_poll_us);
	{
		struct tgtpmem_mirror_state m;

		if (tgtpmem_lun_mirror_get(p->lun, &m) == 0)
			tgtpmem_push_set_mirror(p->push, push_mirror_get, push_mirror_set);
	}
	bs_pmem_hook_lu_state(lu);
	bs_pmem_push_update_access(lu);
	if (v.push_poll_us)
		eprintf("bs_pmem: %s: push mode on RDMA CM port %u (target %d, LUN %" PRIu64
			"), polled %u us after each request\n",
			path, v.push_port, lu->tgt->tid, lu->lun, v.push_poll_us);
	else
		eprintf("bs_pmem: %s: push mode on RDMA CM port %u (target %d, LUN %" PRIu64 ")\n",
			path, v.push_port, lu->tgt->tid, lu->lun);
	return 0;
}

/* ---- status files (bs_pmem(8), STATUS FILES): what tgtpmem-admin status and dump read --- */

extern short control_port; /* tgtd's -C: one status directory per tgtd */

#define BS_PMEM_STATUS_SESSIONS 16  /* push sessions listed per LUN; all are counted */
#define BS_PMEM_STATUS_PERIOD 1     /* seconds between refreshes of the counters */

static struct tgt_work bs_pmem_status_work;
static int bs_pmem_status_armed;

static void bs_pmem_publish(struct bs_pmem_lu *p)
{
	struct scsi_lu *lu = p->lu;
	struct tgtpmem_options_values v;
	struct tgtpmem_push_session_info pushed[BS_PMEM_STATUS_SESSIONS];
	struct tgtpmem_status_session sessions[BS_PMEM_STATUS_SESSIONS];
	struct tgtpmem_lun_ident id;
	uint32_t i, total = 0;
	int ret;

	memset(&id, 0, sizeof(id));
	tgtpmem_options_get(p->opts, &v);
	id.control_port = control_port;
	id.tid = lu->tgt->tid;
	id.target = lu->tgt->name;
	id.lun = lu->lun;
	id.path = lu->path ? lu->path : p->path;
	id.bsopts = p->bsopts;
	id.write_cache = write_cache_enabled(lu);
	id.online = lu->attrs.online;
	id.readonly = lu->attrs.readonly || lu->attrs.swp;
	id.exec = bs_pmem_exec_name(p->exec);
	id.serial = lu->attrs.scsi_sn;
	if (p->push) {
		total = tgtpmem_push_sessions(p->push, pushed, BS_PMEM_STATUS_SESSIONS);
		for (i = 0; i < total && i < BS_PMEM_STATUS_SESSIONS; i++) {
			sessions[i].peer = pushed[i].peer;
			sessions[i].initiator = pushed[i].initiator;
			sessions[i].regions = pushed[i].regions;
			sessions[i].exposed = pushed[i].exposed;
		}
		id.push_address = v.push_address;
		id.push_port = v.push_port;
		id.sessions = sessions;
		id.sessions_shown = i;
		id.sessions_total = total;
	}
	ret = tgtpmem_lun_publish(p->lun, &id);
	if (ret)
		dprintf("bs_pmem: %s: status file not written (%s)\n", lu->path, strerror(-ret));
}

/* On tgtd's event loop, every BS_PMEM_STATUS_PERIOD while LUNs are open. */
static void bs_pmem_status_refresh(void *data)
{
	struct bs_pmem_lu *p;

	bs_pmem_status_armed = 0;
	if (list_empty(&bs_pmem_open_luns))
		return;
	list_for_each_entry(p, &bs_pmem_open_luns, open_list) {
		tgtpmem_lun_mirror_tick(p->lun);
		bs_pmem_publish(p);
	}
	bs_pmem_status_work.func = bs_pmem_status_refresh;
	bs_pmem_status_work.data = NULL;
	add_work(&bs_pmem_status_work, BS_PMEM_STATUS_PERIOD);
	bs_pmem_status_armed = 1;
}

static void bs_pmem_status_arm(void)
{
	if (bs_pmem_status_armed)
		return;
	bs_pmem_status_work.func = bs_pmem_status_refresh;
	bs_pmem_status_work.data = NULL;
	add_work(&bs_pmem_status_work, BS_PMEM_STATUS_PERIOD);
	bs_pmem_status_armed = 1;
}

/* tgt puts a new LU online only after bs_open: the first file is written just after. */
static void bs_pmem_publish_first(struct event_data *ev)
{
	struct bs_pmem_lu *p = ev->data;

	if (p->lun)
		bs_pmem_publish(p);
}

static int bs_pmem_open(struct scsi_lu *lu, char *path, int *fd, uint64_t *size)
{
	struct bs_pmem_lu *p = PMEM_LU(lu);
	struct tgtpmem_lun_info info;
	char err[512];
	char name[512];
	int ret;

	ret = tgtpmem_lun_open(path, p->opts, 1U << lu->blk_shift, &p->lun, err, sizeof(err));
	if (ret) {
		eprintf("bs_pmem: refused: %s\n", err);
		*fd = -1;
		return -1;
	}
	if (bs_pmem_push_attach(lu, path)) {
		tgtpmem_lun_close(p->lun);
		p->lun = NULL;
		*fd = -1;
		return -1;
	}
	snprintf(name, sizeof(name), "%s (target %d, LUN %" PRIu64 ")", path, lu->tgt->tid,
		 lu->lun);
	ret = tgtpmem_lun_mirror_start(p->lun, &bs_pmem_loop_ops, name, err, sizeof(err));
	if (ret) {
		eprintf("bs_pmem: refused: %s: %s\n", path, err);
		tgtpmem_push_detach(p->push);
		p->push = NULL;
		tgtpmem_lun_close(p->lun);
		p->lun = NULL;
		*fd = -1;
		return -1;
	}
	p->lu = lu;
	p->path = path;
	list_add_tail(&p->open_list, &bs_pmem_open_luns);
	/* The engine starts write-through; the mode page (bsopts write_cache) says more. */
	p->write_cache = 0;
	bs_pmem_apply_write_cache(lu);
	bs_pmem_hook_mode_select(lu);
	tgtpmem_lun_get_info(p->lun, &info);
	*fd = info.fd;
	*size = info.size;
	bs_pmem_hook_compare_and_write(lu);
	if (info.max_atomic_blocks) {
		struct device_type_operations *op = &lu->dev_type_template.ops[WRITE_ATOMIC_16];

		op->cmd_perform = bs_pmem_write_atomic;
		op->pr_conflict_bits = PR_WE_FA | PR_EA_FA | PR_WE_FN | PR_EA_FN;
		bs_pmem_hook_report_opcodes(lu);
	}
	if (lu->attrs.lu_vpd[PCODE_OFFSET(0xb0)])
		bs_pmem_update_vpd_b0(lu, NULL);
	bs_pmem_set_identity(lu, info.uuid);
	if (info.notice)
		eprintf("bs_pmem: %s\n", info.notice);
	/* The one line an administrator greps for; documented in bs_pmem(8). */
	eprintf("bs_pmem: opened %s: %s, %" PRIu64 " bytes, block size %u, durability %s%s, "
		"write cache %s, exec %s, layout %s\n", path, info.medium, info.size,
		info.block_size, info.durability,
		info.emulated ? " (emulated pmem: survives a crash of tgtd, not a power loss)" : "",
		write_cache_enabled(lu) ? "on" : "off",
		bs_pmem_exec_name(p->exec), info.layout);
	{
		struct tgtpmem_mirror_state m;

		if (tgtpmem_lun_mirror_get(p->lun, &m) == 0 && m.role == TGTPMEM_MIRROR_SECONDARY)
			eprintf("bs_pmem: %s: mirror secondary, generation %016" PRIx64
				": SCSI writes refused (DATA PROTECT); %s\n", path, m.current,
				p->push ? "its primary writes through push mode" :
				"push=off: it cannot receive its primary's writes");
		else if (tgtpmem_lun_mirror_primary(p->lun))
			eprintf("bs_pmem: %s: mirror primary, generation %016" PRIx64 "%s: every "
				"write goes to the secondary too (bs_pmem(8), MIRRORING)\n", path,
				m.current, m.bitmap ? " (apart from its secondary: resync pending)" : "");
	}
	tgt_init_sched_event(&p->published, bs_pmem_publish_first, p);
	tgt_add_sched_event(&p->published);
	bs_pmem_status_arm();
	return 0;
}

/* Flushes what a write cache held (the engine does), then unmaps. */
static void bs_pmem_close_lun(struct scsi_lu *lu)
{
	struct bs_pmem_lu *p = PMEM_LU(lu);
	int ret;

	if (!p->lun)
		return;
	tgtpmem_lun_retract(p->lun);
	ret = tgtpmem_lun_close(p->lun);
	p->lun = NULL;
	if (ret)
		eprintf("bs_pmem: %s: closing: the last flush failed (%s): writes the cache "
			"held may be lost\n", lu->path, strerror(-ret));
}

/*
 * tgtd deletes every LUN before it exits normally (tgtadm --op delete --mode system refuses
 * while targets exist; tgtd ignores SIGTERM). Should it call exit() with LUNs still open
 * (one of its fatal error paths), their write caches are flushed here all the same.
 */
__attribute__((destructor)) static void bs_pmem_flush_at_exit(void)
{
	struct bs_pmem_lu *p, *n;

	list_for_each_entry_safe(p, n, &bs_pmem_open_luns, open_list) {
		list_del(&p->open_list);
		bs_pmem_close_lun(p->lu);
	}
}

static void bs_pmem_close(struct scsi_lu *lu)
{
	struct bs_pmem_lu *p = PMEM_LU(lu);

	/* Before the mapping goes: every push-mode rkey of this LUN dies here. */
	tgtpmem_push_detach(p->push);
	p->push = NULL;
	if (p->lun) {
		list_del(&p->open_list);
		tgt_remove_sched_event(&p->published);
	}
	bs_pmem_close_lun(lu);
	p->path = NULL;
}

static struct backingstore_template pmem_bst = {
	.bs_name		= BS_PMEM_NAME,
	.bs_datasize		= sizeof(struct bs_pmem_lu),
	.bs_open		= bs_pmem_open,
	.bs_close		= bs_pmem_close,
	.bs_init		= bs_pmem_init,
	.bs_exit		= bs_pmem_exit,
	.bs_cmd_submit		= bs_pmem_cmd_submit,
};

__attribute__((visibility("default"))) void register_bs_module(void)
{
	static unsigned char opcodes[] = {
		ALLOW_MEDIUM_REMOVAL,
		COMPARE_AND_WRITE,
		FORMAT_UNIT,
		INQUIRY,
		MAINT_PROTOCOL_IN,
		MODE_SELECT,
		MODE_SELECT_10,
		MODE_SENSE,
		MODE_SENSE_10,
		ORWRITE_16,
		PERSISTENT_RESERVE_IN,
		PERSISTENT_RESERVE_OUT,
		PRE_FETCH_10,
		PRE_FETCH_16,
		READ_10,
		READ_12,
		READ_16,
		READ_6,
		READ_CAPACITY,
		RELEASE,
		REPORT_LUNS,
		REQUEST_SENSE,
		RESERVE,
		SEND_DIAGNOSTIC,
		SERVICE_ACTION_IN,
		START_STOP,
		SYNCHRONIZE_CACHE,
		SYNCHRONIZE_CACHE_16,
		TEST_UNIT_READY,
		UNMAP,
		VERIFY_10,
		VERIFY_12,
		VERIFY_16,
		WRITE_10,
		WRITE_12,
		WRITE_16,
		WRITE_6,
		WRITE_SAME,
		WRITE_SAME_16,
		WRITE_VERIFY,
		WRITE_VERIFY_12,
		WRITE_VERIFY_16,
		WRITE_ATOMIC_16, /* served only on the atomic layout, see bs_pmem_open */
	};

	const char *forced, *refusal;

	/* Built for another tgt release than this tgtd's: its structs may differ from ours. */
	refusal = tgtpmem_tgt_abi_refusal("bs_pmem", TGTPMEM_TGT_RELEASE);
	if (refusal) {
		eprintf("%s\n", refusal);
		return;
	}
	bs_create_opcode_map(&pmem_bst, opcodes, ARRAY_SIZE(opcodes));
	register_backingstore_template(&pmem_bst);
	eprintf("%s registered as bstype %s\n", tgtpmem_version(), BS_PMEM_NAME);
	bs_pmem_loop_thread = pthread_self();
	/* tgtd still has one thread here: the one moment its environment may be changed. */
	forced = tgtpmem_module_init();
	eprintf("%s\n", tgtpmem_tune_tgtd_heap());
	if (forced)
		eprintf("bs_pmem: PMEM2_FORCE_GRANULARITY=%s in tgtd's environment is ignored: "
			"every LUN gets what its medium needs; to treat a plain file as pmem, give "
			"that LUN bsopts durability=emulated\n", forced);
}
