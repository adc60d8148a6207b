// SPDX-License-Identifier: GPL-2.0-only
// tgt address ACL entries against RDMA CM peer addresses (utils/net/acl.h).
#include "tgt_pmem/net/acl.h"

#include <gtest/gtest.h>

TEST(AclAddressMatch, AllAdmitsEveryone) {
  EXPECT_EQ(tgtpmem_acl_address_match("ALL", "192.0.2.1:4000"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("ALL", "[fe80::1]:4000"), 1);
}

TEST(AclAddressMatch, ExactAddressIgnoresThePort) {
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.1", "192.0.2.1:4000"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.1", "192.0.2.10:4000"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.1", "192.0.2.1"), 1);
}

TEST(AclAddressMatch, PrefixesCompareOnlyTheirBits) {
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.0/24", "192.0.2.77:1"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.0/24", "192.0.3.77:1"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.64/26", "192.0.2.100:1"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.64/26", "192.0.2.130:1"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("0.0.0.0/0", "203.0.113.9:1"), 1);
}

TEST(AclAddressMatch, Ipv6WithBracketsAndPrefixes) {
  EXPECT_EQ(tgtpmem_acl_address_match("fe80::1", "[fe80::1]:5555"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("fe80::/64", "[fe80::abcd]:5555"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("fe80::/64", "[fe81::abcd]:5555"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("fe80::1", "fe80::1"), 1);
}

TEST(AclAddressMatch, GarbageNeverMatches) {
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.1/33", "192.0.2.1:1"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.1/x", "192.0.2.1:1"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("not-an-ip", "192.0.2.1:1"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.1", "[unterminated:1"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match(nullptr, "192.0.2.1:1"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.1", nullptr), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("fe80::1", "192.0.2.1:1"), 0);  // family mismatch
}

// Catches: tgt's own form of an IPv6 entry refused. tgt's iSCSI matcher (usr/iscsi/target.c,
// ip_match) takes the address in brackets with the prefix after them, "[2001:db8::]/32", so
// the same tgtadm -I entry must admit the same initiator over iSER push mode and SRP.
TEST(AclAddressMatch, BracketedIpv6AsTgtWritesIt) {
  EXPECT_EQ(tgtpmem_acl_address_match("[2001:db8::1]", "[2001:db8::1]:4000"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("[2001:db8::1]", "[2001:db8::2]:4000"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("[2001:db8::]/32", "[2001:db8:ffff::9]:4000"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("[2001:db8::]/32", "[2001:db9::9]:4000"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("[2001:db8::]/32", "2001:db8::9"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("[::]/0", "[fe80::1]:1"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("[2001:db8::1]/128", "[2001:db8::1]:1"), 1);
  // As in tgt, the brackets only delimit the address: an IPv4 one in them is that address.
  EXPECT_EQ(tgtpmem_acl_address_match("[192.0.2.1]", "192.0.2.1:1"), 1);
}

// Catches: a malformed bracketed entry read as something else (the prefix inside the brackets,
// an unclosed bracket, text after the closing one) instead of admitting nobody.
TEST(AclAddressMatch, MalformedBracketsAdmitNobody) {
  // The peer is the entry's address: any lenient reading of the entry admits it.
  for (const char* entry : {"[2001:db8::1]/", "[2001:db8::1/128]", "[2001:db8::1", "2001:db8::1]",
                            "[2001:db8::1]x", "[2001:db8::1]:3260", "[2001:db8::1] ", "[]", "[]/0",
                            "[[2001:db8::1]]", "[2001:db8::1]/ 64", "[2001:db8::1]/129"})
    EXPECT_EQ(tgtpmem_acl_address_match(entry, "[2001:db8::1]:1"), 0) << entry;
}

// Catches: a prefix parsed leniently (strtol skips blanks and takes a sign; an empty prefix
// fell back to an exact match; "-0" meant /0, everyone). A malformed entry admits nobody, not
// even its own address (the peer below).
// Leading zeros are refused too: tgt reads the prefix with strtoul(.., 0), so "010" is 8 (octal)
// there and "08" is 0, everyone; refusing them keeps one tgtadm entry from meaning two things.
TEST(AclAddressMatch, MalformedPrefixesAdmitNobody) {
  for (const char* entry : {"10.0.0.0/ 8", "10.0.0.0/+8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/8x",
                            "10.0.0.0/-0", "10.0.0.0/-8", "10.0.0.0/08", "10.0.0.0/008",
                            "10.0.0.0/0x8", "10.0.0.0/8 ", "10.0.0.0/8/8", "10.0.0.0//8",
                            "10.0.0.0/4294967304", "10.0.0.0/99999999999999999999"})
    EXPECT_EQ(tgtpmem_acl_address_match(entry, "10.0.0.0:1"), 0) << entry;
  for (const char* entry : {"::/129", "::/ 64", "::/+64", "::/", "::/064", "::/1000"})
    EXPECT_EQ(tgtpmem_acl_address_match(entry, "[::]:1"), 0) << entry;
  // The well-formed neighbours of those do match.
  EXPECT_EQ(tgtpmem_acl_address_match("10.0.0.0/8", "10.1.2.3:1"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("0.0.0.0/0", "10.1.2.3:1"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("10.1.2.3/32", "10.1.2.3:1"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("::/0", "[::1]:1"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("::1/128", "[::1]:1"), 1);
}

// tgt's IPv4 matcher admits nobody with an entry whose address has bits past its prefix;
// ours admitted the whole /24 for "192.0.2.1/24", more over push mode and SRP than over iSCSI.
TEST(AclAddressMatch, Ipv4HostBitsPastThePrefixAdmitNobodyAsInTgt) {
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.1/24", "192.0.2.1:1"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.1/24", "192.0.2.77:1"), 0);
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.0/24", "192.0.2.77:1"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("192.0.2.128/25", "192.0.2.200:1"), 1);
  EXPECT_EQ(tgtpmem_acl_address_match("10.0.0.0/0", "192.0.2.200:1"), 0);
  // IPv6: tgt ignores them (netmask_match_v6), and so do we.
  EXPECT_EQ(tgtpmem_acl_address_match("[2001:db8::1]/32", "[2001:db8:0:1::5]:1"), 1);
}
