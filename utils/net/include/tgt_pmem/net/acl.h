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
 * 1 if entry admits peer ("a.b.c.d:port", "[v6]:port" or a bare address), else 0.
 * entry takes the forms tgt's iSCSI matcher takes (usr/iscsi/target.c, ip_match):
 *   ALL                      everyone
 *   ADDRESS, [ADDRESS]       one IPv4 or IPv6 address, in brackets or not
 *   ADDRESS/N, [ADDRESS]/N   the peers whose first N bits are ADDRESS's: "10.0.0.0/8",
 *                            "[2001:db8::]/32" (as tgt writes IPv6), "2001:db8::/32"
 * N is decimal digits only, 0..32 (IPv4) or 0..128 (IPv6), without sign, blank or leading
 * zero: tgt reads it with strtoul(.., 0), where "010" is 8 (octal) and "08" is 0 (everyone),
 * so such an entry is refused rather than read differently from tgt. Unlike tgt, /32 and /128
 * are accepted (tgt admits nobody with them), and nothing may follow "]" but "/N".
 * As with tgt, an IPv4 entry with bits set past N ("192.0.2.1/24") admits nobody, and an
 * IPv6 entry's bits past N are ignored.
 * A malformed entry, or a peer that does not parse, gives 0: it admits nobody.
 */
int tgtpmem_acl_address_match(const char *entry, const char *peer) TGTPMEM_NET_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* TGT_PMEM_NET_ACL_H */
