/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * srp_ext: an SRP target driver ("lld") for the distribution's tgtd.
 *
 * The only file of srp_ext that includes tgt's headers (they are C only). tgtd loads every
 * .so in its backing-store directory and calls register_bs_module(); this one registers a
 * low-level driver named "srp" instead of a backing store and starts it. The SRP protocol
 * lives in the C++ engine behind include/tgt_pmem/srp_ext.h; this file turns the engine's
 * requests into tgtd calls and reports tgtd's completions back.
 *
 * Listening address: TGTPMEM_SRP_PORTAL=ADDRESS:PORT in tgtd's environment, default
 * 0.0.0.0:5555. Without an RDMA device the driver stays in state "error" and can be started
 * later: tgtadm --lld srp --mode lld --op start.
 *
 * Target port identifier (what an initiator's add_target names): id_ext = the tid as a
 * 64-bit number, ioc_guid = the node GUID of the RDMA device; see
 * tgtadm --lld srp --mode target --op show --tid N.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "list.h"
#include "util.h"
#include "tgtd.h"
#include "scsi.h"
#include "driver.h"
#include "target.h"
#include "tgtadm.h"
#include "tgtadm_error.h"
#include "work.h"

#include "tgt_pmem/net/acl.h"
#include "tgt_pmem/srp_ext.h"
#include "tgt_pmem/tgt_abi/check.h"

#define SRP_DEFAULT_PORT 5555
#define SRP_MAX_TARGETS 1024

static struct tgtpmem_srp *srp;
static int srp_lld_index = -1;
static char srp_listen_addr[64] = "0.0.0.0";
static uint16_t srp_listen_port = SRP_DEFAULT_PORT;
/* tids of the targets created on this driver (tgt keeps no per-driver lookup we can use) */
static int srp_tids[SRP_MAX_TARGETS];
static int srp_ntids;

struct srp_task {
	struct scsi_cmd scmd;
	void *cookie;
	uint8_t cdb[260];
};

static int srp_is_our_tid(int tid)
{
	int i;

	for (i = 0; i < srp_ntids; i++)
		if (srp_tids[i] == tid)
			return 1;
	return 0;
}

/* ---- host ops for the engine ----------------------------------------------------------- */

static int srp_event_add(void *ctx, int fd,
			 void (*handler)(int fd, int events, void *data), void *data)
{
	return tgt_event_add(fd, EPOLLIN, handler, data);
}

static void srp_event_del(void *ctx, int fd)
{
	tgt_event_del(fd);
}

/*
 * A login is admitted to target tid (= id_ext) when the target was created on this driver
 * and one of its address ACL entries (-I) matches the initiator's address, or one of its name
 * entries (-Q) equals the initiator port ID "0x<32 hex digits>" - as tgt's iSCSI does.
 */
static int srp_admit(void *ctx, uint64_t id_ext, const char *initiator, const char *peer)
{
	char *entry;
	int tid, idx;

	if (id_ext == 0 || id_ext > INT_MAX || !srp_is_our_tid((int)id_ext))
		return -ENOENT;
	tid = (int)id_ext;
	for (idx = 0; (entry = acl_get(tid, idx)); idx++)
		if (tgtpmem_acl_address_match(entry, peer))
			return tid;
	for (idx = 0; (entry = iqn_acl_get(tid, idx)); idx++)
		if (!strcasecmp(entry, initiator))
			return tid;
	return -EPERM;
}

static int srp_nexus_create(void *ctx, int tid, uint64_t itn_id, const char *info)
{
	return it_nexus_create(tid, itn_id, 0, (char *)info);
}

static int srp_nexus_destroy(void *ctx, int tid, uint64_t itn_id)
{
	int err = it_nexus_destroy(tid, itn_id);

	return err == -ENOENT ? 0 : err;
}

static int srp_task_attr(int attr)
{
	switch (attr) {
	case TGTPMEM_SRP_TASK_HEAD:
		return MSG_HEAD_TAG;
	case TGTPMEM_SRP_TASK_ORDERED:
		return MSG_ORDERED_TAG;
	default:
		return MSG_SIMPLE_TAG;
	}
}

static int srp_queue_command(void *ctx, const struct tgtpmem_srp_command *c)
{
	struct srp_task *t;
	struct scsi_cmd *scmd;
	enum data_direction dir = DATA_NONE;

	if (c->cdb_len > sizeof(t->cdb))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cookie = c->cookie;
	memcpy(t->cdb, c->cdb, c->cdb_len);
	scmd = &t->scmd;
	scmd->cmd_itn_id = c->itn_id;
	scmd->scb = t->cdb;
	scmd->scb_len = c->cdb_len;
	memcpy(scmd->lun, c->lun, sizeof(scmd->lun));
	scmd->attribute = srp_task_attr(c->task_attr);
	scmd->tag = c->tag;
	if (c->out_len) {
		scsi_set_out_buffer(scmd, c->out_buf);
		scsi_set_out_length(scmd, c->out_len);
		dir = DATA_WRITE;
	}
	if (c->in_len) {
		scsi_set_in_buffer(scmd, c->in_buf);
		scsi_set_in_length(scmd, c->in_len);
		dir = dir == DATA_WRITE ? DATA_BIDIRECTIONAL : DATA_READ;
	}
	scsi_set_data_dir(scmd, dir);
	/*
	 * After a successful return t may already be gone: tgt runs inline backing stores
	 * synchronously and srp_cmd_done frees the task.
	 */
	if (target_cmd_queue(c->tid, scmd)) {
		free(t);
		return -EBUSY;
	}
	return 0;
}

static uint64_t srp_notified_mid;

static int srp_queue_tmf(void *ctx, int tid, uint64_t itn_id, uint64_t mid, int function,
			 const uint8_t *lun, uint64_t task_tag)
{
	uint8_t lun_buf[8];
	int fn;
	enum mgmt_req_result r;

	switch (function) {
	case TGTPMEM_SRP_TMF_ABORT_TASK:
		fn = ABORT_TASK;
		break;
	case TGTPMEM_SRP_TMF_ABORT_TASK_SET:
		fn = ABORT_TASK_SET;
		break;
	case TGTPMEM_SRP_TMF_CLEAR_TASK_SET:
		fn = CLEAR_TASK_SET;
		break;
	case TGTPMEM_SRP_TMF_LOGICAL_UNIT_RESET:
		fn = LOGICAL_UNIT_RESET;
		break;
	default:
		return -EINVAL;	/* CLEAR ACA (tgt has no ACA) and unknown functions */
	}
	memcpy(lun_buf, lun, sizeof(lun_buf));
	srp_notified_mid = 0;
	r = target_mgmt_request(tid, itn_id, mid, fn, lun_buf, task_tag, 0);
	/* tgt reports most failures through mgmt_end_notify; a few (no memory) not at all. */
	if (r == MGMT_REQ_FAILED && srp_notified_mid != mid)
		return -EIO;
	return 0;
}

static void srp_log(void *ctx, int error, const char *message)
{
	if (error)
		eprintf("%s\n", message);
	else
		log_warning("%s\n", message);
}

static const struct tgtpmem_srp_host_ops srp_host_ops = {
	.ctx = NULL,
	.event_add = srp_event_add,
	.event_del = srp_event_del,
	.admit = srp_admit,
	.nexus_create = srp_nexus_create,
	.nexus_destroy = srp_nexus_destroy,
	.queue_command = srp_queue_command,
	.queue_tmf = srp_queue_tmf,
	.log = srp_log,
};

/* ---- tgt driver callbacks --------------------------------------------------------------- */

static int srp_cmd_done(uint64_t nid, int result, struct scsi_cmd *scmd)
{
	struct srp_task *t = container_of(scmd, struct srp_task, scmd);
	int aborted = result == TASK_ABORTED;

	tgtpmem_srp_command_done(srp, t->cookie, aborted ? -1 : result,
				 scmd->sense_len > 0 ? scmd->sense_buffer : NULL,
				 scmd->sense_len > 0 ? scmd->sense_len : 0,
				 scsi_get_in_resid(scmd), scsi_get_out_resid(scmd));
	/*
	 * tgt's abort path already ran the device's cmd_done for an aborted command that never
	 * reached the backing store; calling target_cmd_done again would unlink it twice.
	 */
	if (!aborted)
		target_cmd_done(scmd);
	free(t);
	return 0;
}

static int srp_mgmt_done(struct mgmt_req *mreq)
{
	int result;

	srp_notified_mid = mreq->mid;
	switch (mreq->result) {
	case 0:
		result = TGTPMEM_SRP_TMF_COMPLETE;
		break;
	case -EEXIST:
		result = TGTPMEM_SRP_TMF_NO_TASK;
		break;
	case -EINVAL:
		result = TGTPMEM_SRP_TMF_NOT_SUPPORTED;
		break;
	default:
		result = TGTPMEM_SRP_TMF_FAILED;
		break;
	}
	tgtpmem_srp_tmf_done(srp, mreq->mid, result);
	return 0;
}

static int srp_parse_portal(const char *portal)
{
	const char *colon = strrchr(portal, ':');
	char *end;
	unsigned long port;
	size_t n;

	if (!colon)
		return -1;
	n = colon - portal;
	if (n == 0 || n >= sizeof(srp_listen_addr))
		return -1;
	port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535)
		return -1;
	memcpy(srp_listen_addr, portal, n);
	srp_listen_addr[n] = 0;
	if (srp_listen_addr[0] == '[' && srp_listen_addr[n - 1] == ']') {
		memmove(srp_listen_addr, srp_listen_addr + 1, n - 2);
		srp_listen_addr[n - 2] = 0;
	}
	srp_listen_port = (uint16_t)port;
	return 0;
}

/* The driver's status file (bs_pmem(8), STATUS FILES), refreshed every second. */
extern short control_port;
static struct tgt_work srp_status_work;
static int srp_status_armed;

static void srp_status_refresh(void *data)
{
	srp_status_armed = 0;
	if (!srp)
		return;
	tgtpmem_srp_publish(srp, control_port);
	srp_status_work.func = srp_status_refresh;
	srp_status_work.data = NULL;
	add_work(&srp_status_work, 1);
	srp_status_armed = 1;
}

static int srp_init(int index, char *args)
{
	const char *portal = getenv("TGTPMEM_SRP_PORTAL");
	int err = 0;

	srp_lld_index = index;
	if (srp)
		return 0;
	if (portal && srp_parse_portal(portal)) {
		eprintf("srp: TGTPMEM_SRP_PORTAL=%s is not ADDRESS:PORT\n", portal);
		return -EINVAL;
	}
	srp = tgtpmem_srp_create(&srp_host_ops, srp_listen_addr, srp_listen_port, &err);
	if (!srp) {
		switch (err) {
		case TGTPMEM_SRP_E_NODEV:
			eprintf("srp: no RDMA device; after loading one, start the driver with "
				"tgtadm --lld srp --mode lld --op start\n");
			break;
		case TGTPMEM_SRP_E_ADDRINUSE:
			eprintf("srp: RDMA CM port %s:%u is in use (set TGTPMEM_SRP_PORTAL)\n",
				srp_listen_addr, srp_listen_port);
			break;
		default:
			eprintf("srp: cannot listen on %s:%u (error %d)\n", srp_listen_addr,
				srp_listen_port, err);
		}
		return -1;
	}
	log_warning("srp: listening with RDMA CM on %s:%u\n", srp_listen_addr,
		    tgtpmem_srp_port(srp));
	if (!srp_status_armed)
		srp_status_refresh(NULL);
	return 0;
}

static void srp_exit(void)
{
	if (srp_status_armed) {
		del_work(&srp_status_work);
		srp_status_armed = 0;
	}
	tgtpmem_srp_destroy(srp);
	srp = NULL;
	tgtpmem_srp_retract(control_port);
}

static int srp_target_create(struct target *t)
{
	if (srp_ntids >= SRP_MAX_TARGETS) {
		eprintf("srp: at most %d targets\n", SRP_MAX_TARGETS);
		return -ENOSPC;
	}
	srp_tids[srp_ntids++] = t->tid;
	log_warning("srp: target %d (%s): id_ext=%016x\n", t->tid, t->name, t->tid);
	return 0;
}

static void srp_target_destroy(int tid, int force)
{
	int i;

	for (i = 0; i < srp_ntids; i++) {
		if (srp_tids[i] == tid) {
			srp_tids[i] = srp_tids[--srp_ntids];
			break;
		}
	}
	tgtpmem_srp_target_gone(srp, tid);
}

static tgtadm_err srp_show(int mode, int tid, uint64_t sid, uint32_t cid, uint64_t lun,
			   struct concat_buf *b)
{
	if (mode != MODE_TARGET || !srp_is_our_tid(tid))
		return TGTADM_SUCCESS;
	concat_printf(b, "SRP target port:\n");
	concat_printf(b, "    id_ext: %016x\n", tid);
	concat_printf(b, "    ioc_guid: the node GUID of the RDMA device (e.g. "
			 "/sys/class/infiniband/<dev>/node_guid without colons)\n");
	concat_printf(b, "    RDMA CM: %s:%u\n", srp_listen_addr,
		      srp ? tgtpmem_srp_port(srp) : srp_listen_port);
	concat_printf(b, "    Channels: %d\n", srp ? tgtpmem_srp_channel_count(srp, tid) : 0);
	return TGTADM_SUCCESS;
}

/*
 * TransportID for persistent reservations (SPC-4 7.5.4.5, protocol identifier 4h: SRP):
 * 24 bytes, the 16-byte initiator port identifier at byte 8 - the nexus's own, so that
 * REGISTER AND MOVE and the reservation reports name the real initiator port.
 */
static int srp_transportid(int tid, uint64_t itn_id, char *buf, int size)
{
	uint8_t port_id[16];

	if (size < 24)
		return 24;
	memset(buf, 0, 24);
	buf[0] = 0x04;
	if (srp && tgtpmem_srp_initiator_port(srp, tid, itn_id, port_id) == 0)
		memcpy(buf + 8, port_id, sizeof(port_id));
	return 24;
}

static struct tgt_driver srp_driver = {
	.name = "srp",
	.init = srp_init,
	.exit = srp_exit,
	.target_create = srp_target_create,
	.target_destroy = srp_target_destroy,
	.show = srp_show,
	.cmd_end_notify = srp_cmd_done,
	.mgmt_end_notify = srp_mgmt_done,
	.transportid = srp_transportid,
	.default_bst = "rdwr",
};

__attribute__((visibility("default"))) void register_bs_module(void)
{
	const char *refusal;
	int index;

	/* Built for another tgt release than this tgtd's: its structs may differ from ours. */
	refusal = tgtpmem_tgt_abi_refusal("lld_srp", TGTPMEM_TGT_RELEASE);
	if (refusal) {
		eprintf("%s\n", refusal);
		return;
	}
	if (register_driver(&srp_driver)) {
		eprintf("srp: cannot register the driver\n");
		return;
	}
	index = get_driver_index("srp");
	if (index < 0)
		return;
	/* tgtd initialised its built-in drivers before loading modules: start ours now. */
	lld_init_one(index);
}
