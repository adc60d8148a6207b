/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The push-mode service: the C ABI through which bs_pmem's glue (the only file with tgt's
 * headers) exposes pmem LUNs to push-mode initiators. One service per RDMA CM port, created
 * when the first LUN with bsopts push=on attaches to it and destroyed with the last one.
 * Protocol: tgt_pmem/push/protocol.h, iser_ext/docs/push-protocol.md.
 *
 * Threading: tgtd's event loop only. Errors: negative TGTPMEM_PUSH_E_* values.
 */
#ifndef TGT_PMEM_PUSH_SERVICE_H
#define TGT_PMEM_PUSH_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define TGTPMEM_PUSH_NOEXCEPT noexcept
extern "C" {
#else
#define TGTPMEM_PUSH_NOEXCEPT
#endif

#define TGTPMEM_PUSH_E_NOMEM (-1)
#define TGTPMEM_PUSH_E_NODEV (-2)     /* no RDMA device to listen on */
#define TGTPMEM_PUSH_E_ADDRINUSE (-3) /* the port is taken (by another program) */
#define TGTPMEM_PUSH_E_INVAL (-4)
#define TGTPMEM_PUSH_E_IO (-5)

/* What tgt provides (through bs_pmem's glue). ctx is passed back unchanged. */
struct tgtpmem_push_host_ops {
	void *ctx;
	int (*event_add)(void *ctx, int fd, void (*handler)(int fd, int events, void *data),
			 void *data);
	void (*event_del)(void *ctx, int fd);
	/* The name (IQN) of target tid, or NULL if it no longer exists. */
	const char *(*target_name)(void *ctx, int tid);
	/* 0 if target tid's ACL admits the initiator (-Q name or -I address), else -EPERM. */
	int (*admit)(void *ctx, int tid, const char *initiator_name, const char *peer_address);
	/* 1 if an incoming CHAP account is bound to tid. */
	int (*chap_required)(void *ctx, int tid);
	/* Copies the secret of incoming account user of tid into secret (NUL-terminated);
	 * 0, or -ENOENT when tid has no such account. */
	int (*chap_secret)(void *ctx, int tid, const char *user, char *secret, size_t len);
	void (*log)(void *ctx, int error, const char *message);
};

/* A LUN attached to a service. */
struct tgtpmem_push_lun;

/*
 * Attaches the LUN (tid, lun) whose raw pmem mapping is [base, base + size) to the service
 * on port (started if needed, listening on address: numeric IPv4 or IPv6, "0.0.0.0" for
 * every IPv4 address). persist(lun_ctx, offset, len) must make that byte range durable and
 * return 0 or a negative errno. The host ops are copied; the first attach on a port decides
 * them and its address. Returns NULL and sets *err on failure: TGTPMEM_PUSH_E_NODEV where no
 * RDMA device has the address, TGTPMEM_PUSH_E_ADDRINUSE where the port is taken (also by
 * this service on another address).
 */
struct tgtpmem_push_lun *tgtpmem_push_attach(const struct tgtpmem_push_host_ops *host,
					     const char *address, uint16_t port, int tid,
					     uint64_t lun, void *base, uint64_t size,
					     uint32_t block_size,
					     int (*persist)(void *lun_ctx, uint64_t offset,
							    uint64_t len),
					     void *lun_ctx, int *err) TGTPMEM_PUSH_NOEXCEPT;

/*
 * bsopts push_poll_us: after each request on a connection to this LUN, tgtd polls (and
 * serves) that connection until it has been quiet for poll_us microseconds (0, the default:
 * not at all), handing its event loop a turn at least every millisecond meanwhile. Takes
 * effect for requests from then on.
 */
void tgtpmem_push_set_poll(struct tgtpmem_push_lun *lun, uint32_t poll_us) TGTPMEM_PUSH_NOEXCEPT;

/*
 * What the LUN allows right now, as tgt's SCSI side does: nothing while it is offline
 * (tgtadm --params online=0), reads while it is read-only (readonly=1, or software write
 * protect set by MODE SELECT), else reads and writes (the default at attach). Regions the LUN
 * no longer allows are deregistered at once (their rkeys stop working), and REGISTER follows.
 */
#define TGTPMEM_PUSH_ACCESS_NONE 0
#define TGTPMEM_PUSH_ACCESS_READ 1
#define TGTPMEM_PUSH_ACCESS_READ_WRITE 2
void tgtpmem_push_set_access(struct tgtpmem_push_lun *lun, int access) TGTPMEM_PUSH_NOEXCEPT;

/*
 * Synchronous replication (issue 16): the LUN's mirror metadata, for MIRROR_STATE. get fills
 * *out and returns 0; set records out's generations durably on a secondary and returns 0,
 * -EPERM when the LUN is not a secondary, or another negative errno (-EIO: not durable).
 * Not called: the LUN has no mirror metadata (MIRROR_STATE is answered kUnsupported).
 */
struct tgtpmem_push_mirror {
	int role;  /* 0 none, 1 primary, 2 secondary */
	uint64_t current, bitmap, history0, history1;
};
void tgtpmem_push_set_mirror(struct tgtpmem_push_lun *lun,
			     int (*get)(void *lun_ctx, struct tgtpmem_push_mirror *out),
			     int (*set)(void *lun_ctx, const struct tgtpmem_push_mirror *in))
	TGTPMEM_PUSH_NOEXCEPT;
/*
 * Detaches the LUN before its mapping goes away: every region of it is deregistered (its
 * rkeys stop working at once) and every connection to it is disconnected. The last LUN of a
 * port stops its service.
 */
void tgtpmem_push_detach(struct tgtpmem_push_lun *lun) TGTPMEM_PUSH_NOEXCEPT;

/*
 * The admitted sessions on this LUN, for the status view (tgtpmem-admin status): fills up
 * to max entries of out and returns how many there are in all (possibly more than max).
 * On tgtd's event loop.
 */
struct tgtpmem_push_session_info {
	char peer[64];        /* the client's address as RDMA CM saw it */
	char initiator[224];  /* the initiator name it was admitted with */
	uint32_t regions;     /* regions registered */
	uint64_t exposed;     /* bytes of the LUN those regions expose */
};
uint32_t tgtpmem_push_sessions(const struct tgtpmem_push_lun *lun,
			       struct tgtpmem_push_session_info *out,
			       uint32_t max) TGTPMEM_PUSH_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* TGT_PMEM_PUSH_SERVICE_H */
