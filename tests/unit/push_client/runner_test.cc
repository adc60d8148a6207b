// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-push's step runner (iser_ext/tools/push_runner.h) on the fake target: the report
// lines, expect=refused, and the handle file carried to a second connection.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "fake_target.h"
#include "push_runner.h"
#include "scratch_dir.h"
#include "tgt_pmem/flush/remote.h"

namespace tgt_pmem::push::tool {
namespace {

// Parses texts (each must parse) and runs them on c; the report lines go to lines.
bool run_texts(Client& c, const std::vector<std::string>& texts, std::vector<std::string>& lines) {
  std::vector<Step> steps;
  for (const auto& t : texts) {
    auto s = parse_step(t);
    EXPECT_TRUE(s.has_value()) << t;
    if (s) steps.push_back(*s);
  }
  lines.clear();
  return run_steps(c, steps, [&](const std::string& l) { lines.push_back(l); });
}

class PushRunner : public ::testing::Test {
 protected:
  PushRunner() : target(peer) {
    auto c = Client::connect_over(peer.connect(), test_support::test_options(), target.hook());
    EXPECT_TRUE(c.has_value());
    if (c) client.emplace(std::move(*c));
    if (dir.empty()) std::abort();  // no scratch directory: nothing below is meaningful
  }

  std::string file(const std::string& name) const { return scratch.file(name); }

  bool run(const std::vector<std::string>& texts) { return run_texts(*client, texts, lines); }

  tgt_pmem::testing::FakePeer peer;
  test_support::FakeTarget target;
  std::optional<Client> client;
  std::vector<std::string> lines;
  testing::ScratchDir scratch{"tgtpmem-push-test"};
  const std::string& dir = scratch.path();
};

TEST_F(PushRunner, ASessionReportsEveryStep) {
  ASSERT_TRUE(run({"register:0:64k:rw", "write:h0:4k:pattern:7:8k", "commit:h0:4k:8k",
                   "read:h0:4k:8k:verify-pattern:7", "raf:h0:4k:8k", "commit:h0", "unregister:h0",
                   "sleep:0"}));
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[0].rfind("step 1 register:0:64k:rw: ok h0 handle=1 addr=0x", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(" length=65536"), std::string::npos);
  EXPECT_EQ(lines[1].rfind("step 2 write:h0:4k:pattern:7:8k: ok 8192 bytes written (", 0), 0u)
      << lines[1];
  EXPECT_EQ(lines[2].rfind("step 3 commit:h0:4k:8k: ok 8192 bytes committed", 0), 0u);
  EXPECT_EQ(lines[3].rfind("step 4 read:h0:4k:8k:verify-pattern:7: ok 8192 bytes verified", 0), 0u);
  EXPECT_EQ(lines[4].rfind("step 5 raf:h0:4k:8k: ok ", 0), 0u);
  EXPECT_EQ(lines[5].rfind("step 6 commit:h0: ok region committed", 0), 0u);
  EXPECT_EQ(lines[6].rfind("step 7 unregister:h0: ok", 0), 0u);
  EXPECT_EQ(lines[7].rfind("step 8 sleep:0: ok slept", 0), 0u);
  ASSERT_EQ(target.commits.size(), 2u);
  EXPECT_EQ(target.commits[0].ranges.at(0), (Range{4096, 8192}));
}

TEST_F(PushRunner, AVerifyMismatchFailsAndStops) {
  EXPECT_FALSE(run({"register:0:64k:rw", "write:h0:0:pattern:1:4k", "read:h0:0:4k:verify-pattern:2",
                    "commit:h0"}));
  ASSERT_EQ(lines.size(), 3u) << "stops at the first FAILED step";
  EXPECT_NE(lines[2].find(": FAILED data mismatch at byte 0"), std::string::npos) << lines[2];
}

TEST_F(PushRunner, ExpectRefusedInvertsAStep) {
  EXPECT_TRUE(run({"register:0:4k:r", "commit:h0:expect=refused",
                   "register:100:4k:rw:expect=refused", "write:h0:0:pattern:1:16:expect=refused"}));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[1].find(": ok refused as expected: the target answered: access denied"),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[2].find(": ok refused as expected: the target answered: range outside"),
            std::string::npos)
      << lines[2];
  EXPECT_NE(lines[3].find("without write access"), std::string::npos) << lines[3];
  EXPECT_FALSE(run({"register:0:4k:rw", "commit:h1:expect=refused"})) << "h1 is the failed one";
  EXPECT_FALSE(run({"register:0:4k:rw", "commit:h0:expect=refused"}));
  EXPECT_NE(lines[1].find(": FAILED succeeded (region committed), but expect=refused"),
            std::string::npos)
      << lines[1];
}

TEST_F(PushRunner, ToolErrorsNeverCountAsRefusals) {
  EXPECT_FALSE(run({"commit:h0:expect=refused"}));
  EXPECT_NE(lines[0].find("FAILED h0 names no register step before"), std::string::npos)
      << lines[0];
  EXPECT_FALSE(run({"register:0:4k:rw", "write:h0:0:file:" + dir + "/missing:expect=refused"}));
  EXPECT_NE(lines[1].find("FAILED cannot open"), std::string::npos) << lines[1];
}

TEST_F(PushRunner, HandleNamesFollowRegisterStepsEvenFailedOnes) {
  EXPECT_FALSE(run({"register:1:4k:rw:expect=refused", "register:0:4k:rw", "commit:h0"}));
  EXPECT_NE(lines[2].find("FAILED h0 was not registered"), std::string::npos) << lines[2];
  EXPECT_TRUE(run({"register:1:4k:rw:expect=refused", "register:0:4k:rw", "commit:h1"}));
}

TEST_F(PushRunner, FilesInAndOut) {
  const std::string in = file("in.bin"), out = file("out.bin");
  {
    std::ofstream f(in, std::ios::binary);
    f << "hello, persistent world";
  }
  ASSERT_TRUE(run({"register:0:4k:rw", "write:h0:100:file:" + in, "read:h0:100:23:out:" + out}));
  std::ifstream f(out, std::ios::binary);
  std::string back((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(back, "hello, persistent world");
}

// Catches: an output file opened through a symbolic link planted at its path (in a shared
// directory such as /tmp, another user's link would make the tool overwrite, or create, a file
// of the link's choosing with the tool user's rights).
TEST_F(PushRunner, OutputFilesDoNotFollowASymbolicLink) {
  const std::string victim = file("victim"), out = file("out.bin"), h = file("h0");
  {
    std::ofstream f(victim, std::ios::binary);
    f << "keep me";
  }
  ASSERT_EQ(::symlink(victim.c_str(), out.c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), h.c_str()), 0);
  EXPECT_FALSE(run({"register:0:4k:rw", "read:h0:0:16:out:" + out}));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("FAILED"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(out + ": a symbolic link"), std::string::npos) << lines[1];
  EXPECT_FALSE(run({"register:0:4k:rw", "save-handle:h0:" + h}));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find(h + ": a symbolic link"), std::string::npos) << lines[1];
  std::ifstream f(victim, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()),
            "keep me");

  // A dangling link would have the file created where it points.
  const std::string created = file("created"), dangling = file("dangling");
  ASSERT_EQ(::symlink(created.c_str(), dangling.c_str()), 0);
  EXPECT_FALSE(run({"register:0:4k:rw", "read:h0:0:16:out:" + dangling}));
  EXPECT_NE(lines.back().find(dangling + ": a symbolic link"), std::string::npos) << lines.back();
  EXPECT_NE(::access(created.c_str(), F_OK), 0) << "created through the link";

  // An existing regular file is overwritten, as before.
  const std::string again = file("again");
  {
    std::ofstream g(again, std::ios::binary);
    g << "a longer old content than the new one";
  }
  ASSERT_TRUE(run({"register:0:4k:rw", "write:h0:0:pattern:3:8", "read:h0:0:8:out:" + again}))
      << lines.back();
  std::ifstream g(again, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(g), std::istreambuf_iterator<char>()).size(),
            8u);
}

TEST_F(PushRunner, ASavedHandleDrivesARawWrite) {
  const std::string h = file("h0");
  // The same connection may use it (its rkey is valid here)...
  ASSERT_TRUE(run({"register:0:64k:rw", "save-handle:h0:" + h,
                   "write-raw:" + h + ":4k:pattern:5:4k", "read:h0:4k:4k:verify-pattern:5"}))
      << lines.back();
  EXPECT_EQ(lines[1].rfind("step 2 save-handle:h0:" + h + ": ok saved to " + h, 0), 0u);
  EXPECT_NE(lines[2].find("ok 4096 bytes written through rkey 0x"), std::string::npos) << lines[2];
  const auto& region = target.regions.begin()->second;
  // ... one with a key from elsewhere is refused by the target's device.
  const std::string bogus = file("bogus");
  {
    std::ofstream f(bogus);
    f << format_handle({region.remote.addr, region.remote.rkey + 1, 65536});
  }
  EXPECT_TRUE(run({"write-raw:" + bogus + ":0:pattern:5:8:expect=refused"}));
  EXPECT_NE(lines[0].find("ok refused as expected: remote access error: the target refused the "
                          "access"),
            std::string::npos)
      << lines[0];
  EXPECT_FALSE(run({"commit:h0"})) << "a new run: h0 unknown, and the connection is broken";
}

TEST_F(PushRunner, AfterARemoteAccessErrorTheConnectionIsBroken) {
  const std::string bogus = file("bogus");
  {
    std::ofstream f(bogus);
    f << "addr=0x1000 rkey=0x99 length=4096\n";
  }
  EXPECT_FALSE(run(
      {"register:0:4k:rw", "write-raw:" + bogus + ":0:pattern:1:8:expect=refused", "commit:h0"}));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[2].find("FAILED the connection failed earlier"), std::string::npos) << lines[2];
}

// write-flush: the WRITE made durable one-sidedly, no COMMIT; the report names the method.
TEST_F(PushRunner, WriteFlushUsesTheOneSidedMethodAndNoCommit) {
  ASSERT_TRUE(run({"register:0:64k:rw", "write-flush:h0:4k:pattern:5:8k",
                   "read:h0:4k:8k:verify-pattern:5", "unregister:h0"}));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1].rfind("step 2 write-flush:h0:4k:pattern:5:8k: ok 8192 bytes written and "
                           "durable (read-after-write)",
                           0),
            0u)
      << lines[1] << " (a plain connection: auto is read-after-write)";
  EXPECT_TRUE(target.commits.empty()) << "one-sided: no COMMIT";
  EXPECT_TRUE(peer.rdma_flushes_run().empty());
}

TEST(PushRunnerFlush, WriteFlushWithRdmaFlushWhereItIsUnavailableFails) {
  tgt_pmem::testing::FakePeer peer;
  test_support::FakeTarget target(peer);
  ClientOptions co = test_support::test_options();
  co.flush_method = FlushMethod::kRdmaFlush;
  auto c = Client::connect_over(peer.connect(), co, target.hook());
  ASSERT_TRUE(c.has_value()) << c.error().message();
  std::vector<std::string> lines;
  EXPECT_FALSE(run_texts(*c, {"register:0:64k:rw", "write-flush:h0:0:pattern:1:4k"}, lines));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("FAILED"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("RDMA FLUSH"), std::string::npos) << lines[1];
  EXPECT_TRUE(target.commits.empty());
}

TEST(PushRunnerFlush, WriteFlushPostsRdmaFlushWhereOffered) {
  tgt_pmem::testing::FakePeer peer;
  test_support::FakeTarget target(peer);
  target.offer_flush = true;
  auto c =
      Client::connect_over(peer.connect_flush_capable(), test_support::test_options(), target.hook());
  ASSERT_TRUE(c.has_value()) << c.error().message();
  std::vector<std::string> lines;
  EXPECT_TRUE(run_texts(
      *c, {"register:0:64k:rw", "write-flush:h0:8k:pattern:2:4k", "read:h0:8k:4k:verify-pattern:2"},
      lines));
  ASSERT_EQ(lines.size(), 3u);
  if (flush::remote_method_built(flush::RemoteMethod::kRdmaFlush)) {
    EXPECT_NE(lines[1].find("durable (rdma-flush)"), std::string::npos) << lines[1];
    ASSERT_EQ(peer.rdma_flushes_run().size(), 1u);
  } else {
    EXPECT_NE(lines[1].find("durable (read-after-write)"), std::string::npos) << lines[1];
    EXPECT_TRUE(peer.rdma_flushes_run().empty());
  }
  EXPECT_TRUE(target.commits.empty());
}

}  // namespace
}  // namespace tgt_pmem::push::tool
