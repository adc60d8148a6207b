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
