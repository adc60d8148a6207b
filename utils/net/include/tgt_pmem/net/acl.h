/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tgt's address ACL entries (tgtadm --op bind -I ...) matched against an RDMA CM peer
 * address, for the C glues of srp_ext and the push-mode service (tgt's own matcher is
 * private to its iSCSI code). Pure, thread-safe, noexcept on the C++ side.
 */
#ifndef TGT_PMEM_NET_ACL_H
#define TGT_PMEM_NET_ACL_H

#ifdef __cplusplus
extern "C" {
#define TGTPMEM_NET_NOEXCEPT noexcept
#else
#define TGTPMEM_NET_NOEXCEPT
#endif

/*
 * 1 if entry ("ALL", an IPv4/IPv6 address, or ADDRESS/PREFIX) admits peer ("a.b.c.d:port",
 * "[v6]:port" or a bare address), else 0 (also for anything unparsable).
 */
int tgtpmem_acl_address_match(const char *entry, const char *peer) TGTPMEM_NET_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* TGT_PMEM_NET_ACL_H */
