// SPDX-License-Identifier: GPL-2.0-only
// tgtd_version against real executables: the installed tgtd, and scripts that misbehave the
// ways a probe must survive (hang, fail, chatter). Each test checks that no child is left
// unreaped.
#include "tgt_pmem/tgt_abi/probe.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "scratch_dir.h"

using namespace std::chrono_literals;
using tgt_pmem::tgt_abi::tgtd_version;

namespace {

// A shell script in a fresh temporary directory; removed with it.
class Script {
 public:
  explicit Script(const std::string& body) : path_(dir_.file("tgtd")) {
    std::ofstream(path_) << "#!/bin/sh\n" << body << "\n";
    chmod(path_.c_str(), 0755);
  }
  [[nodiscard]] const char* path() const { return path_.c_str(); }

 private:
  tgt_pmem::testing::ScratchDir dir_{"tgt-abi-probe"};
  std::string path_;
};

// No child of this process is left, running or zombie.
bool no_children() { return waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD; }

}  // namespace

TEST(TgtdVersionProbe, TheInstalledTgtd) {
  if (access("/usr/sbin/tgtd", X_OK) != 0) GTEST_SKIP() << "no /usr/sbin/tgtd on this host";
  const auto out = tgtd_version("/usr/sbin/tgtd", 5000ms);
  ASSERT_TRUE(out.has_value()) << out.error();
  EXPECT_EQ(*out, TGTPMEM_TEST_TGT_RELEASE "\n");
  EXPECT_TRUE(no_children());
}

TEST(TgtdVersionProbe, PassesOnlyMinusV) {
  const Script s("[ \"$#\" = 1 ] && [ \"$1\" = -V ] && echo 1.0.99");
  const auto out = tgtd_version(s.path(), 5000ms);
  ASSERT_TRUE(out.has_value()) << out.error();
  EXPECT_EQ(*out, "1.0.99\n");
  EXPECT_TRUE(no_children());
}

TEST(TgtdVersionProbe, NoInheritedDescriptorsButStdio) {
  // fd 3 and up are closed in the child even when the parent's lack O_CLOEXEC (tgtd's do).
  const int leaked = dup(0);
  ASSERT_GE(leaked, 3);
  const Script s("ls /proc/self/fd | sort -n | tr '\\n' ' '");
  const auto out = tgtd_version(s.path(), 5000ms);
  close(leaked);
  ASSERT_TRUE(out.has_value()) << out.error();
  // 0 1 2, and the descriptor ls opens to read /proc/self/fd.
  EXPECT_EQ(*out, "0 1 2 3 ") << "the child saw descriptors it should not have";
  EXPECT_TRUE(no_children());
}

TEST(TgtdVersionProbe, KillsAndReapsAHungExecutable) {
  const Script s("exec sleep 30");
  const auto start = std::chrono::steady_clock::now();
  const auto out = tgtd_version(s.path(), 300ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(), "timed out after 300 ms");
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(no_children());
}

TEST(TgtdVersionProbe, AFailingExecutable) {
  const Script s("echo 1.0.85; exit 3");
  const auto out = tgtd_version(s.path(), 5000ms);
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(), "exited with status 3");
  EXPECT_TRUE(no_children());
}

TEST(TgtdVersionProbe, AMissingExecutable) {
  const auto out = tgtd_version("/nonexistent/tgtd", 5000ms);
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(), "cannot run: No such file or directory");
  EXPECT_TRUE(no_children());
}

TEST(TgtdVersionProbe, StopsReadingAChattyExecutable) {
  const Script s("exec yes");
  const auto out = tgtd_version(s.path(), 5000ms);
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(), "printed more than 4 KiB");
  EXPECT_TRUE(no_children());
}
