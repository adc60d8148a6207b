// SPDX-License-Identifier: GPL-2.0-only
// boot-deps: the unit names systemd must see (checked against systemd-escape in
// tests/integration/boot_deps_test.sh), the fstab reading, and which units a LUN waits for.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "boot_deps.h"
#include "scratch_dir.h"

namespace tgt_pmem::admin {
namespace {

TEST(SystemdEscapePath, LikeSystemdEscapePath) {
  EXPECT_EQ(systemd_escape_path("/"), "-");
  EXPECT_EQ(systemd_escape_path("/dev/dax0.0"), "dev-dax0.0");
  EXPECT_EQ(systemd_escape_path("/srv/pmem"), "srv-pmem");
  EXPECT_EQ(systemd_escape_path("//srv//pmem/./"), "srv-pmem");
  EXPECT_EQ(systemd_escape_path("/mnt/my-pmem"), "mnt-my\\x2dpmem");
  EXPECT_EQ(systemd_escape_path("/mnt/a b"), "mnt-a\\x20b");
  EXPECT_EQ(systemd_escape_path("/.hidden/x.y"), "\\x2ehidden-x.y");
  EXPECT_EQ(systemd_escape_path("relative/path"), std::nullopt);
  EXPECT_EQ(systemd_escape_path("/a/../b"), std::nullopt);
}

TEST(FstabMountPoints, SkipsCommentsSwapAndNoneDecodesOctal) {
  const auto points = fstab_mount_points(
      "# <file system> <mount point> <type>\n"
      "UUID=1 / ext4 defaults 0 1\n"
      "\n"
      "/dev/pmem0 /srv/pmem/ ext4 dax,nofail 0 0\n"
      "/dev/sda2 none swap sw 0 0\n"
      "/dev/sdb1 /mnt/with\\040blank xfs defaults 0 0\n"
      "  # indented comment\n");
  EXPECT_EQ(points, (std::vector<std::string>{"/", "/srv/pmem", "/mnt/with blank"}));
}

class BootDepsTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const auto p = dir_.file(name);
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p) << text;
    return p;
  }
  testing::ScratchDir dir_{"tgtpmem-boot-deps"};
};

TEST_F(BootDepsTest, DevdaxWantsItsDeviceFileItsMountsOthersNothing) {
  const auto f = write("targets.conf",
                       "<target iqn.x:dax>\n"
                       "  bs-type pmem\n"
                       "  backing-store /dev/dax0.0\n"
                       "</target>\n"
                       "<target iqn.x:file>\n"
                       "  <backing-store /srv/pmem/luns/a.img>\n"
                       "    bs-type pmem\n"
                       "  </backing-store>\n"
                       "  <backing-store /var/lib/x.img>\n"
                       "    bs-type pmem\n"
                       "  </backing-store>\n"
                       "  <backing-store /srv/other.img>\n"
                       "  </backing-store>\n"
                       "</target>\n");
  const std::vector<std::string> files{f};
  const TgtConfig config = read_tgt_config(files);
  const auto deps = boot_deps(config, {"/", "/srv", "/srv/pmem", "/srv/pmem/luns/a.img"});
  ASSERT_EQ(deps.size(), 3u);  // the rdwr LUN is not ours
  EXPECT_EQ(deps[0].units, (std::vector<std::string>{"dev-dax0.0.device"}));
  // Outermost first; "/" is not waited for, nor the file itself.
  EXPECT_EQ(deps[1].units, (std::vector<std::string>{"srv.mount", "srv-pmem.mount"}));
  EXPECT_TRUE(deps[2].units.empty());
  EXPECT_NE(deps[2].note.find("no file system of fstab"), std::string::npos);

  const std::string text = boot_deps_drop_in(deps, config.files);
  EXPECT_NE(text.find("[Unit]\n"), std::string::npos);
  EXPECT_NE(text.find("Wants=dev-dax0.0.device\nAfter=dev-dax0.0.device\n"), std::string::npos);
  EXPECT_NE(text.find("Wants=srv.mount srv-pmem.mount\nAfter=srv.mount srv-pmem.mount\n"),
            std::string::npos);
  EXPECT_NE(text.find(f + ":3: target iqn.x:dax, /dev/dax0.0\n"), std::string::npos);
  EXPECT_EQ(text.find("\nRequires"), std::string::npos);
}

TEST_F(BootDepsTest, AUnitNeededTwiceIsListedOnce) {
  const auto f = write("targets.conf",
                       "<target iqn.x:a>\n"
                       "  bs-type pmem\n"
                       "  backing-store /srv/pmem/a.img\n"
                       "  backing-store /srv/pmem/b.img\n"
                       "</target>\n");
  const std::vector<std::string> files{f};
  const TgtConfig config = read_tgt_config(files);
  const std::string text = boot_deps_drop_in(boot_deps(config, {"/srv/pmem"}), config.files);
  std::size_t count = 0;
  for (auto p = text.find("\nWants="); p != std::string::npos; p = text.find("\nWants=", p + 1))
    ++count;
  EXPECT_EQ(count, 1u) << text;
}

}  // namespace
}  // namespace tgt_pmem::admin
