/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The narrow C ABI between srp_ext's tgt glue (glue/srp_lld.c, the only file that includes
 * tgt's headers) and its C++ engine (src/). The engine speaks SRP over RDMA CM; the glue
 * turns what the engine asks for into tgtd calls (it_nexus_create, target_cmd_queue,
 * target_mgmt_request, tgt_event_add) and reports tgtd's completions back.
 *
 * Threading: everything runs on tgtd's one event-loop thread. Completions may be reported
 * re-entrantly: host->queue_command may call tgtpmem_srp_command_done before it returns
 * (tgt executes inline backing stores synchronously).
 *
 * Errors are negative TGTPMEM_SRP_E_* values.
 */
#ifndef TGT_PMEM_SRP_EXT_H
#define TGT_PMEM_SRP_EXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define TGTPMEM_SRP_NOEXCEPT noexcept
extern "C" {
#else
#define TGTPMEM_SRP_NOEXCEPT
#endif

#define TGTPMEM_SRP_E_NOMEM (-1)     /* out of memory */
#define TGTPMEM_SRP_E_NODEV (-2)     /* no RDMA device: nothing to listen on */
#define TGTPMEM_SRP_E_ADDRINUSE (-3) /* the RDMA CM port is taken */
#define TGTPMEM_SRP_E_INVAL (-4)     /* a bad argument (address, port) */
#define TGTPMEM_SRP_E_IO (-5)        /* any other failure of the RDMA stack */

/* The SRP service of one tgtd: a listener and its channels. */
struct tgtpmem_srp;

/* Task attributes, as the glue must map them to tgt's MSG_*_TAG. */
enum tgtpmem_srp_task_attr {
	TGTPMEM_SRP_TASK_SIMPLE = 0,
	TGTPMEM_SRP_TASK_HEAD = 1,
	TGTPMEM_SRP_TASK_ORDERED = 2,
	TGTPMEM_SRP_TASK_ACA = 4,
};

/* Task management functions (SRP_TSK_MGMT), mapped by the glue to tgt's. */
enum tgtpmem_srp_tmf {
	TGTPMEM_SRP_TMF_ABORT_TASK = 1,
	TGTPMEM_SRP_TMF_ABORT_TASK_SET = 2,
	TGTPMEM_SRP_TMF_CLEAR_TASK_SET = 4,
	TGTPMEM_SRP_TMF_LOGICAL_UNIT_RESET = 8,
	TGTPMEM_SRP_TMF_CLEAR_ACA = 0x40,
};

/* Results of a task management function, as tgt reports them to the glue. */
enum tgtpmem_srp_tmf_result {
	TGTPMEM_SRP_TMF_COMPLETE = 0,
	TGTPMEM_SRP_TMF_NO_TASK = 1,       /* ABORT TASK found nothing: also complete */
	TGTPMEM_SRP_TMF_NOT_SUPPORTED = 2,
	TGTPMEM_SRP_TMF_FAILED = 3,
};

/* A SCSI command ready for tgt: its data-out bytes are already in out_buf. */
struct tgtpmem_srp_command {
	void *cookie;          /* the engine's; pass back to tgtpmem_srp_command_done */
	int tid;
	uint64_t itn_id;
	uint64_t tag;
	const uint8_t *lun;    /* 8 bytes, SAM format */
	const uint8_t *cdb;    /* valid until command_done */
	uint32_t cdb_len;
	int task_attr;         /* enum tgtpmem_srp_task_attr */
	void *out_buf;         /* data-out (initiator to target), out_len bytes */
	uint32_t out_len;
	void *in_buf;          /* data-in buffer, in_len bytes, filled by tgt */
	uint32_t in_len;
};

/* What the glue provides. ctx is passed back unchanged. */
struct tgtpmem_srp_host_ops {
	void *ctx;
	/* Watch fd for readability on tgtd's event loop; 0 or a negative errno. */
	int (*event_add)(void *ctx, int fd, void (*handler)(int fd, int events, void *data),
			 void *data);
	void (*event_del)(void *ctx, int fd);
	/*
	 * Admission of a login to the target port whose identifier extension is id_ext:
	 * returns the tid (>= 1) of the srp target it names if that target exists and its ACL
	 * admits the initiator (by name "0x<32 hex digits of the initiator port ID>" or by
	 * peer address "ip:port"); -ENOENT if no such target, -EPERM if not admitted.
	 */
	int (*admit)(void *ctx, uint64_t id_ext, const char *initiator_name,
		     const char *peer_address);
	/* Create/destroy an I_T nexus; 0 or a negative errno (-EBUSY: commands pending). */
	int (*nexus_create)(void *ctx, int tid, uint64_t itn_id, const char *info);
	int (*nexus_destroy)(void *ctx, int tid, uint64_t itn_id);
	/* Hand a command to tgt; 0 or a negative errno (then no completion will come). */
	int (*queue_command)(void *ctx, const struct tgtpmem_srp_command *cmd);
	/*
	 * Start a task management function; its result comes through tgtpmem_srp_tmf_done
	 * with mid (possibly before this returns). 0, or a negative errno (no result will come).
	 */
	int (*queue_tmf)(void *ctx, int tid, uint64_t itn_id, uint64_t mid, int function,
			 const uint8_t *lun, uint64_t task_tag);
	/* A line for tgtd's log. */
	void (*log)(void *ctx, int error, const char *message);
};

/*
 * Starts listening with RDMA CM on address:port (NULL address: every address). The host ops
 * must stay valid until tgtpmem_srp_destroy. Returns NULL and sets *err on failure.
 */
struct tgtpmem_srp *tgtpmem_srp_create(const struct tgtpmem_srp_host_ops *host,
				       const char *address, uint16_t port, int *err) TGTPMEM_SRP_NOEXCEPT;

/* Disconnects every channel and stops listening. Outstanding commands are forgotten: call
 * only when tgt has none (driver exit). */
void tgtpmem_srp_destroy(struct tgtpmem_srp *srp) TGTPMEM_SRP_NOEXCEPT;

/*
 * tgt finished a command. status: SCSI status, or -1 when tgt aborted it (no response is
 * sent). sense may be NULL. in_resid: data-in residual (> 0 underflow, < 0 overflow);
 * likewise out_resid.
 */
void tgtpmem_srp_command_done(struct tgtpmem_srp *srp, void *cookie, int status,
			      const uint8_t *sense, uint32_t sense_len, int32_t in_resid,
			      int32_t out_resid) TGTPMEM_SRP_NOEXCEPT;

/* tgt finished task management function mid (enum tgtpmem_srp_tmf_result). */
void tgtpmem_srp_tmf_done(struct tgtpmem_srp *srp, uint64_t mid, int result) TGTPMEM_SRP_NOEXCEPT;

/* Disconnects every channel logged in to target tid (the target is being deleted). */
void tgtpmem_srp_target_gone(struct tgtpmem_srp *srp, int tid) TGTPMEM_SRP_NOEXCEPT;

/* Channels currently logged in to tid (for tgtadm show); -1 if srp is NULL. */
int tgtpmem_srp_channel_count(const struct tgtpmem_srp *srp, int tid) TGTPMEM_SRP_NOEXCEPT;

/*
 * The status file of the SRP driver (bs_pmem(8), STATUS FILES): <run dir>/tgtd.<control_port>/
 * srp.json with the listening port and every channel (target, initiator port ID, peer,
 * commands in tgt), written whole when it changed since the last call; srp NULL removes it.
 * 0 or a negative errno (the file is only informative).
 */
int tgtpmem_srp_publish(const struct tgtpmem_srp *srp, int control_port) TGTPMEM_SRP_NOEXCEPT;
void tgtpmem_srp_retract(int control_port) TGTPMEM_SRP_NOEXCEPT;

/* The port the service listens on. */
uint16_t tgtpmem_srp_port(const struct tgtpmem_srp *srp) TGTPMEM_SRP_NOEXCEPT;

/*
 * The 16-byte initiator port identifier of tgt's I_T nexus itn_id of target tid, for its
 * TransportID (persistent reservations). 0, or -ENOENT when there is no such nexus.
 */
int tgtpmem_srp_initiator_port(const struct tgtpmem_srp *srp, int tid, uint64_t itn_id,
			       uint8_t port_id[16]) TGTPMEM_SRP_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* TGT_PMEM_SRP_EXT_H */
