// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-admin dump's pure parts: reading tgtadm --op show, and completing tgt-admin --dump.
// The bugs they catch: a LUN renumbered or its bs-type, block size or bsopts lost in the
// dump; a target with pmem LUNs left in tgt-admin's bare form beside blocks (tgt-admin refuses
// both forms in one target); a pmem LUN silently dropped instead of refused.
#include <gtest/gtest.h>

#include "dump.h"

namespace tgt_pmem::admin {
namespace {

// As tgt 1.0.85's tgtadm prints it (abridged to the lines that matter, spacing kept).
constexpr const char* kShow = R"(Target 1: iqn.2026-12.test:one
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            Size: 0 MB, Block size: 1
            Readonly: No
            Backing store type: null
            Backing store path: None
        LUN: 2
            Type: disk
            Size: 67 MB, Block size: 512
            Readonly: Yes
            Backing store type: rdwr
            Backing store path: /s/rdwr.img
        LUN: 5
            Type: disk
            Size: 67 MB, Block size: 4096
            Readonly: No
            Backing store type: pmem
            Backing store path: /s/a.img
    Account information:
    ACL information:
        ALL
Target 2: iqn.2026-12.test:two
    System information:
    LUN information:
        LUN: 0
            Backing store type: null
            Backing store path: None
        LUN: 1
            Size: 67 MB, Block size: 512
            Backing store type: rdwr
            Backing store path: /s/other.img
    ACL information:
        192.0.2.7
)";

constexpr const char* kTgtAdminDump = R"(default-driver iscsi

<target iqn.2026-12.test:one>
	backing-store /s/rdwr.img
	backing-store /s/a.img
	initiator-address ALL
</target>

<target iqn.2026-12.test:two>
	backing-store /s/other.img
	initiator-address 192.0.2.7
</target>

)";

TEST(AdminDump, ParsesTgtadmShow) {
  const auto t = parse_tgtadm_show(kShow);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].tid, 1);
  EXPECT_EQ(t[0].name, "iqn.2026-12.test:one");
  ASSERT_EQ(t[0].luns.size(), 2u);  // the controller (LUN 0) is left out
  EXPECT_EQ(t[0].luns[0].lun, 2u);
  EXPECT_EQ(t[0].luns[0].bs_type, "rdwr");
  EXPECT_TRUE(t[0].luns[0].readonly);
  EXPECT_EQ(t[0].luns[1].lun, 5u);
  EXPECT_EQ(t[0].luns[1].block_size, 4096u);
  EXPECT_EQ(t[0].luns[1].path, "/s/a.img");
  ASSERT_EQ(t[1].luns.size(), 1u);
  EXPECT_EQ(t[1].luns[0].path, "/s/other.img");
}

TEST(AdminDump, CompletesTargetsWithPmemLuns) {
  std::vector<std::string> problems;
  const std::string out = complete_dump(
      kTgtAdminDump, parse_tgtadm_show(kShow),
      {{"iqn.2026-12.test:one", 5, "/s/a.img", "block_size=4096;write_cache=on", 4096, false}},
      problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(out, R"(default-driver iscsi

<target iqn.2026-12.test:one>
	<backing-store /s/rdwr.img>
		lun 2
		bs-type rdwr
		block-size 512
		readonly 1
	</backing-store>
	<backing-store /s/a.img>
		lun 5
		bs-type pmem
		block-size 4096
		bsopts 'block_size=4096;write_cache=on'
		# write cache now off (bsopts write_cache sets it at start; an initiator may change it)
	</backing-store>
	initiator-address ALL
</target>

<target iqn.2026-12.test:two>
	backing-store /s/other.img
	initiator-address 192.0.2.7
</target>

)");
}

TEST(AdminDump, RefusesWhatItCannotWriteCompletely) {
  std::vector<std::string> problems;
  // A pmem LUN tgtadm shows without a status file.
  (void)complete_dump(kTgtAdminDump, parse_tgtadm_show(kShow), {}, problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("lun 5: /s/a.img: a pmem LUN without a status file"),
            std::string::npos);
  // A status file for a LUN tgt-admin did not list.
  problems.clear();
  (void)complete_dump(kTgtAdminDump, parse_tgtadm_show(kShow),
                      {{"iqn.2026-12.test:one", 5, "/s/a.img", "", 4096, false},
                       {"iqn.2026-12.test:one", 6, "/s/b.img", "", 512, false}},
                      problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("lun 6: /s/b.img: a pmem LUN tgt-admin --dump did not list"),
            std::string::npos);
  // bsopts with a single quote cannot be passed through tgt-admin's shell.
  problems.clear();
  (void)complete_dump(kTgtAdminDump, parse_tgtadm_show(kShow),
                      {{"iqn.2026-12.test:one", 5, "/s/a.img", "push_address=a'b", 4096, false}},
                      problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("single quote"), std::string::npos);
}

}  // namespace
}  // namespace tgt_pmem::admin
