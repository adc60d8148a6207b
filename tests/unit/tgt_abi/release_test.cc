// SPDX-License-Identifier: GPL-2.0-only
// The compatibility rule between a module and a tgtd: what tgtd -V output is a release, and
// which releases a module built for 1.0.85 accepts.
#include "tgt_pmem/tgt_abi/release.h"

#include <gtest/gtest.h>

using tgt_pmem::tgt_abi::parse_tgtd_version;
using tgt_pmem::tgt_abi::ProbeResult;
using tgt_pmem::tgt_abi::refusal;
using tgt_pmem::tgt_abi::same_abi;

TEST(TgtdVersion, ParsesWhatTgtdPrints) {
  EXPECT_EQ(parse_tgtd_version("1.0.85\n"), "1.0.85");
  EXPECT_EQ(parse_tgtd_version("  1.0.85 \r\n"), "1.0.85");
  EXPECT_EQ(parse_tgtd_version("1.0.100"), "1.0.100");
  EXPECT_EQ(parse_tgtd_version("1.0.85-rc1\n"), "1.0.85-rc1");  // EXTRAVERSION
  EXPECT_EQ(parse_tgtd_version("2.0"), "2.0");
}

TEST(TgtdVersion, RefusesWhatIsNoRelease) {
  EXPECT_EQ(parse_tgtd_version(""), std::nullopt);
  EXPECT_EQ(parse_tgtd_version("\n"), std::nullopt);  // tgtd built in usr/ without VERSION
  EXPECT_EQ(parse_tgtd_version("1"), std::nullopt);
  EXPECT_EQ(parse_tgtd_version("1."), std::nullopt);
  EXPECT_EQ(parse_tgtd_version(".1.0"), std::nullopt);
  EXPECT_EQ(parse_tgtd_version("v1.0.85"), std::nullopt);
  EXPECT_EQ(parse_tgtd_version("1.0.85\n1.0.86\n"), std::nullopt);
  EXPECT_EQ(parse_tgtd_version("1.0.85 extra"), std::nullopt);
  EXPECT_EQ(parse_tgtd_version("Linux SCSI Target framework daemon, version 1.0.85"),
            std::nullopt);
}

TEST(TgtAbi, SameReleaseOnly) {
  EXPECT_TRUE(same_abi("1.0.85", "1.0.85"));
  EXPECT_FALSE(same_abi("1.0.85", "1.0.86"));
  EXPECT_FALSE(same_abi("1.0.85", "1.0.84"));
  EXPECT_FALSE(same_abi("1.0.85", "1.0.8"));     // not a prefix match
  EXPECT_FALSE(same_abi("1.0.8", "1.0.85"));
  EXPECT_FALSE(same_abi("1.0.85", "1.0.85-rc1"));  // a build between releases
  EXPECT_FALSE(same_abi("", ""));                // a module that does not know
}

TEST(TgtAbiRefusal, NoneForTheSameRelease) {
  EXPECT_EQ(refusal("bs_pmem", "1.0.85", ProbeResult("1.0.85\n")), std::nullopt);
}

TEST(TgtAbiRefusal, NamesBothReleasesAndWhatToDo) {
  const auto why = refusal("bs_pmem", "1.0.85", ProbeResult("1.0.99\n"));
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why,
            "bs_pmem: not registered: built for tgt 1.0.85, but this tgtd is tgt 1.0.99 (its "
            "internal structures may differ); install the tgt-pmem built for this tgt, or "
            "rebuild tgt-pmem against its source (-DTGT_SOURCE_DIR)");
}

TEST(TgtAbiRefusal, UnknownVersionIsARefusal) {
  const auto failed = refusal("lld_srp", "1.0.85", std::unexpected(std::string("timed out after 5000 ms")));
  ASSERT_TRUE(failed.has_value());
  EXPECT_NE(failed->find("lld_srp: not registered: built for tgt 1.0.85, but this tgtd's "
                         "release is unknown ('/proc/self/exe -V' timed out after 5000 ms)"),
            std::string::npos)
      << *failed;
  const auto odd = refusal("bs_pmem", "1.0.85", ProbeResult("\n"));
  ASSERT_TRUE(odd.has_value());
  EXPECT_NE(odd->find("'/proc/self/exe -V' printed ''"), std::string::npos) << *odd;
  const auto two = refusal("bs_pmem", "1.0.85", ProbeResult("a\nb\n"));
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->find('\n'), std::string::npos) << "one log line";
}
