// SPDX-License-Identifier: GPL-2.0-only
// read_tgt_config: the rules of Config::General and tgt-admin that check-config relies on
// (tgt_config.h), each pinned on a small file. How the real tgt-admin acts on such files is
// tested in tests/integration/check_config_test.sh.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "scratch_dir.h"
#include "tgt_config.h"

namespace tgt_pmem::admin {
namespace {

namespace fs = std::filesystem;

class TgtConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_.file(name);
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  TgtConfig read(std::vector<std::string> files) { return read_tgt_config(files); }
  bool has_problem(const TgtConfig& c, const std::string& text) {
    for (const auto& p : c.problems)
      if (p.message.find(text) != std::string::npos) return true;
    return false;
  }
  testing::ScratchDir dir_{"tgtpmem-tgt-config"};
};

TEST_F(TgtConfigTest, BlockGivesPathTypeOptionsLunAndLine) {
  const auto f = write("a.conf",
                       "# comment\n"
                       "<target iqn.x:a>\n"
                       "    <backing-store /dev/dax0.0>\n"
                       "        bs-type pmem\n"
                       "        bsopts 'block_size=4096;write_cache=on'\n"
                       "        block-size 4096\n"
                       "        lun = 3\n"
                       "    </backing-store>\n"
                       "</target>\n");
  const auto c = read({f});
  ASSERT_EQ(c.luns.size(), 1u);
  const auto& l = c.luns[0];
  EXPECT_EQ(l.target, "iqn.x:a");
  EXPECT_EQ(l.path, "/dev/dax0.0");
  EXPECT_EQ(l.bs_type, "pmem");
  EXPECT_EQ(l.bsopts, "'block_size=4096;write_cache=on'");  // single quotes reach the shell
  EXPECT_EQ(l.block_size, "4096");
  EXPECT_EQ(l.lun, "3");  // `key = value` is `key value`
  EXPECT_EQ(l.place.file, f);
  EXPECT_EQ(l.place.line, 3);
  EXPECT_TRUE(c.problems.empty());
  EXPECT_EQ(c.files, std::vector<std::string>{f});
}

TEST_F(TgtConfigTest, DoubleQuotesGoCommentsStartAnywhereEscapedHashStays) {
  const auto f = write("a.conf",
                       "<target iqn.x:a>\n"
                       "  <backing-store /p/a>\n"
                       "    bs-type pmem  # trailing\n"
                       "    bsopts \"push=on;push_port=5566\"\n"
                       "    lun 1#2\n"  // a '#' even inside a word
                       "  </backing-store>\n"
                       "  <backing-store /p/c\\#d>\n"  // a name keeps the escape
                       "    bsopts x\\#y\n"             // a value loses it
                       "  </backing-store>\n"
                       "</target>\n");
  const auto c = read({f});
  ASSERT_EQ(c.luns.size(), 2u);
  EXPECT_EQ(c.luns[0].path, "/p/a");
  EXPECT_EQ(c.luns[0].bs_type, "pmem");
  EXPECT_EQ(c.luns[0].bsopts, "push=on;push_port=5566");
  EXPECT_EQ(c.luns[0].lun, "1");
  EXPECT_EQ(c.luns[1].path, "/p/c\\#d");
  EXPECT_EQ(c.luns[1].bsopts, "x#y");
  EXPECT_TRUE(c.problems.empty());
  // A '#' in a block's name cuts off its '>'.
  EXPECT_TRUE(has_problem(read({write("b.conf", "<target iqn.x:a>\n <backing-store /p/a#b>\n"
                                                "</backing-store>\n</target>\n")}),
                          "lacks its '>'"));
}

TEST_F(TgtConfigTest, TargetTypeAndOptionsApplyToLunsWithoutTheirOwn) {
  const auto f = write("a.conf",
                       "<target iqn.x:a>\n"
                       "  bs-type pmem\n"
                       "  bsopts write_cache=on\n"
                       "  block-size 4096\n"  // tgt-admin ignores it at this level
                       "  <backing-store /p/1>\n"
                       "  </backing-store>\n"
                       "  <backing-store /p/2>\n"
                       "    bs-type rdwr\n"
                       "    bsopts unmap=off\n"
                       "  </backing-store>\n"
                       "</target>\n"
                       "<target iqn.x:b>\n"
                       "  bs-type pmem\n"
                       "  backing-store /p/3\n"
                       "  backing-store /p/4 \\\n"
                       "     /p/5\n"
                       "</target>\n");
  const auto c = read({f});
  ASSERT_EQ(c.luns.size(), 4u);
  EXPECT_EQ(c.luns[0].bs_type, "pmem");
  EXPECT_EQ(c.luns[0].bsopts, "write_cache=on");
  EXPECT_FALSE(c.luns[0].block_size);
  EXPECT_EQ(c.luns[1].bs_type, "rdwr");
  EXPECT_EQ(c.luns[1].bsopts, "unmap=off");
  EXPECT_EQ(c.luns[2].path, "/p/3");
  EXPECT_EQ(c.luns[2].bs_type, "pmem");
  EXPECT_EQ(c.luns[3].path, "/p/4 /p/5");  // a continued line is one value
  EXPECT_EQ(c.luns[3].place.line, 15);
}

TEST_F(TgtConfigTest, IgnoreErrorsCountsAtTheTopLevelOnly) {
  EXPECT_TRUE(read({write("a.conf", "ignore-errors yes\n")}).ignore_errors);
  EXPECT_FALSE(read({write("b.conf", "ignore-errors no\n")}).ignore_errors);
  EXPECT_FALSE(read({write("c.conf", "<target iqn.x:a>\n ignore-errors yes\n</target>\n")})
                   .ignore_errors);
}

TEST_F(TgtConfigTest, SameBlocksMergeAndAKeyTwiceIsAProblem) {
  const auto f = write("a.conf",
                       "<target iqn.x:a>\n"
                       "  <backing-store /p/1>\n"
                       "    bs-type pmem\n"
                       "  </backing-store>\n"
                       "</target>\n"
                       "<target iqn.x:a>\n"
                       "  <backing-store /p/1>\n"
                       "    lun 2\n"
                       "    bs-type rdwr\n"
                       "  </backing-store>\n"
                       "</target>\n");
  const auto c = read({f});
  ASSERT_EQ(c.luns.size(), 1u);
  EXPECT_EQ(c.luns[0].lun, "2");
  EXPECT_TRUE(has_problem(c, "bs-type given twice"));
  ASSERT_FALSE(c.problems.empty());
  EXPECT_EQ(c.problems[0].place.line, 9);
}

TEST_F(TgtConfigTest, BothStoreFormsInOneTargetIsAProblem) {
  const auto f = write("a.conf",
                       "<target iqn.x:a>\n"
                       "  backing-store /p/1\n"
                       "  <backing-store /p/2>\n"
                       "  </backing-store>\n"
                       "</target>\n");
  EXPECT_TRUE(has_problem(read({f}), "not supported"));
}

TEST_F(TgtConfigTest, UnclosedAndStrayBlocksAreProblems) {
  EXPECT_TRUE(has_problem(read({write("a.conf", "<target iqn.x:a>\n  backing-store /p\n")}),
                          "<target> is not closed"));
  EXPECT_TRUE(has_problem(read({write("b.conf", "</backing-store>\n")}), "closes no open"));
}

TEST_F(TgtConfigTest, IncludesGlobsDirectoriesRelativePathsAndLoops) {
  write("conf.d/b.conf", "<target iqn.x:b>\n bs-type pmem\n backing-store /p/b\n</target>\n");
  write("conf.d/a.conf", "<target iqn.x:a>\n bs-type pmem\n backing-store /p/a\n</target>\n");
  write("dir/z.conf", "<target iqn.x:z>\n backing-store /p/z\n</target>\n");
  const std::string top = write("targets.conf",
                          "include conf.d/*.conf\n"    // relative to this file, sorted
                          "Include /nonexistent/*.conf\n"  // a glob matching nothing: nothing
                          "include " + dir_.file("dir") + "\n");
  const auto c = read({top});
  ASSERT_EQ(c.luns.size(), 3u);
  EXPECT_EQ(c.luns[0].path, "/p/a");
  EXPECT_EQ(c.luns[1].path, "/p/b");
  EXPECT_EQ(c.luns[2].path, "/p/z");
  EXPECT_EQ(c.files.size(), 4u);
  EXPECT_TRUE(c.problems.empty()) << c.problems[0].message;

  const auto missing = write("m.conf", "include /nonexistent/x.conf\n");
  EXPECT_TRUE(has_problem(read({missing}), "does not exist"));
  const auto loop = write("loop.conf", "include loop.conf\n");
  EXPECT_TRUE(has_problem(read({loop}), "include loop"));
}

TEST_F(TgtConfigTest, AnUnreadableFileIsAProblemNotAFile) {
  const auto c = read({dir_.file("none.conf")});
  EXPECT_TRUE(c.files.empty());
  EXPECT_TRUE(has_problem(c, "cannot be read"));
}

}  // namespace
}  // namespace tgt_pmem::admin
