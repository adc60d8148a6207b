// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-push's step language, data pattern and handle file (iser_ext/tools/push_steps.h).
#include <gtest/gtest.h>

#include <vector>

#include "push_steps.h"

namespace tgt_pmem::push::tool {
namespace {

Step ok(std::string_view text) {
  auto s = parse_step(text);
  EXPECT_TRUE(s.has_value()) << text << ": " << (s ? "" : s.error());
  return s.value_or(Step{});
}

std::string error_of(std::string_view text) {
  auto s = parse_step(text);
  EXPECT_FALSE(s.has_value()) << text << " parsed";
  return s ? "" : s.error();
}

TEST(PushSteps, Register) {
  const Step s = ok("register:1M:64k:rw");
  EXPECT_EQ(s.kind, StepKind::kRegister);
  EXPECT_EQ(s.offset, 1u << 20);
  EXPECT_EQ(s.length, 64u << 10);
  EXPECT_EQ(s.access, kRead | kWrite);
  EXPECT_FALSE(s.expect_refused);
  EXPECT_EQ(s.text, "register:1M:64k:rw");
  EXPECT_EQ(ok("register:0:4096:r").access, kRead);
  EXPECT_EQ(ok("register:0:4096:w").access, kWrite);
  EXPECT_EQ(ok("register:0:4096:wr").access, kRead | kWrite);
  EXPECT_NE(error_of("register:0:4096:x").find("access 'x'"), std::string::npos);
  EXPECT_NE(error_of("register:0:4096").find("register:OFFSET:LENGTH:r|w|rw"), std::string::npos);
  EXPECT_NE(error_of("register:zero:4096:r").find("offset"), std::string::npos);
  EXPECT_NE(error_of("register:0:4q:r").find("length"), std::string::npos);
}

TEST(PushSteps, WriteFromPatternOrFile) {
  Step s = ok("write:h2:4K:pattern:7:1M");
  EXPECT_EQ(s.kind, StepKind::kWrite);
  EXPECT_EQ(s.handle, 2u);
  EXPECT_EQ(s.offset, 4096u);
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.length, 1u << 20);
  EXPECT_FALSE(s.use_file);
  EXPECT_EQ(ok("write:h0:0:pattern:0x10:8").seed, 16u);

  s = ok("write:h0:512:file:/tmp/a:b.bin");
  EXPECT_TRUE(s.use_file);
  EXPECT_EQ(s.path, "/tmp/a:b.bin") << "a path keeps its colons";
  EXPECT_EQ(s.offset, 512u);

  EXPECT_NE(error_of("write:0:0:pattern:1:8").find("not a handle"), std::string::npos);
  EXPECT_NE(error_of("write:hx:0:pattern:1:8").find("not a handle"), std::string::npos);
  EXPECT_NE(error_of("write:h0:0:pattern:seed:8").find("seed"), std::string::npos);
  error_of("write:h0:0:pattern:1");
  error_of("write:h0:0:zeros:1:8");
  error_of("write:h0:0:file:");

  s = ok("write-flush:h1:8K:pattern:3:4K");
  EXPECT_EQ(s.kind, StepKind::kWriteFlush);
  EXPECT_EQ(s.handle, 1u);
  EXPECT_EQ(s.offset, 8192u);
  EXPECT_EQ(s.seed, 3u);
  EXPECT_EQ(s.length, 4096u);
  s = ok("write-flush:h0:0:file:/tmp/x");
  EXPECT_EQ(s.kind, StepKind::kWriteFlush);
  EXPECT_TRUE(s.use_file);
  EXPECT_NE(error_of("write-flush:h0:0:zeros:1:8").find("expected write-flush:hN:OFFSET:pattern"),
            std::string::npos);
}

TEST(PushSteps, ReadVerifyingOrToAFile) {
  Step s = ok("read:h1:0:8K:verify-pattern:3");
  EXPECT_EQ(s.kind, StepKind::kRead);
  EXPECT_EQ(s.handle, 1u);
  EXPECT_EQ(s.length, 8192u);
  EXPECT_EQ(s.seed, 3u);
  EXPECT_FALSE(s.use_file);
  s = ok("read:h1:16:100:out:/tmp/out");
  EXPECT_TRUE(s.use_file);
  EXPECT_EQ(s.path, "/tmp/out");
  EXPECT_EQ(s.offset, 16u);
  error_of("read:h1:0:8K:verify:3");
  error_of("read:h1:0:8K");
}

TEST(PushSteps, CommitRafUnregister) {
  Step s = ok("commit:h0");
  EXPECT_EQ(s.kind, StepKind::kCommit);
  EXPECT_TRUE(s.whole_region);
  s = ok("commit:h3:4k:8k");
  EXPECT_FALSE(s.whole_region);
  EXPECT_EQ(s.handle, 3u);
  EXPECT_EQ(s.offset, 4096u);
  EXPECT_EQ(s.length, 8192u);
  error_of("commit:h0:4k");
  s = ok("raf:h0:0:4k");
  EXPECT_EQ(s.kind, StepKind::kReadAfterWrite);
  EXPECT_EQ(s.length, 4096u);
  error_of("raf:h0");
  s = ok("unregister:h5");
  EXPECT_EQ(s.kind, StepKind::kUnregister);
  EXPECT_EQ(s.handle, 5u);
  error_of("unregister");
}

TEST(PushSteps, HandlesAcrossConnections) {
  Step s = ok("save-handle:h0:/tmp/h0");
  EXPECT_EQ(s.kind, StepKind::kSaveHandle);
  EXPECT_EQ(s.path, "/tmp/h0");
  s = ok("write-raw:/tmp/dir:x/h0:4k:pattern:9:512");
  EXPECT_EQ(s.kind, StepKind::kWriteRaw);
  EXPECT_EQ(s.path, "/tmp/dir:x/h0");
  EXPECT_EQ(s.offset, 4096u);
  EXPECT_EQ(s.seed, 9u);
  EXPECT_EQ(s.length, 512u);
  s = ok("write-raw:/tmp/h0:0:pattern:1:8:expect=refused");
  EXPECT_TRUE(s.expect_refused);
  EXPECT_EQ(s.path, "/tmp/h0");
  error_of("write-raw:/tmp/h0:0:1:8");
  error_of("write-raw:0:pattern:1:8");
}

TEST(PushSteps, SleepAndExpectations) {
  Step s = ok("sleep:0.25");
  EXPECT_EQ(s.kind, StepKind::kSleep);
  EXPECT_DOUBLE_EQ(s.seconds, 0.25);
  error_of("sleep:-1");
  error_of("sleep:soon");
  error_of("sleep:nan");
  EXPECT_TRUE(ok("commit:h0:expect=refused").expect_refused);
  EXPECT_FALSE(ok("commit:h0:expect=ok").expect_refused);
  EXPECT_NE(error_of("commit:h0:expect=maybe").find("expect=refused or expect=ok"),
            std::string::npos);
  EXPECT_NE(error_of("frobnicate:h0").find("unknown step 'frobnicate'"), std::string::npos);
  EXPECT_NE(error_of("").find("unknown step"), std::string::npos);
}

TEST(PushSteps, ErrorsNameTheStep) {
  EXPECT_EQ(error_of("raf:h0:x:1").rfind("step 'raf:h0:x:1': ", 0), 0u);
}

TEST(PushPattern, DependsOnSeedAndPositionOnly) {
  std::vector<std::byte> a(1000), b(1000), c(1000);
  fill_pattern(1, a);
  fill_pattern(1, b);
  fill_pattern(2, c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(first_pattern_mismatch(1, a), std::nullopt);
  EXPECT_EQ(first_pattern_mismatch(2, a), 0u);
  a[517] ^= std::byte{1};
  EXPECT_EQ(first_pattern_mismatch(1, a), 517u);
  // A prefix is the pattern of the shorter length.
  std::vector<std::byte> shorter(10);
  fill_pattern(1, shorter);
  EXPECT_TRUE(std::equal(shorter.begin(), shorter.end(), b.begin()));
  // Not constant: a stuck byte would pass a constant pattern.
  EXPECT_NE(b[0], b[8]);
  EXPECT_NE(b[1], b[2]);
}

TEST(PushHandleFile, RoundTrips) {
  const RemoteRegion r{0x7f0012340000, 0x1234abcd, 2 << 20};
  const std::string text = format_handle(r);
  EXPECT_EQ(text, "addr=0x7f0012340000 rkey=0x1234abcd length=2097152\n");
  auto back = parse_handle(text);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(back->addr, r.addr);
  EXPECT_EQ(back->rkey, r.rkey);
  EXPECT_EQ(back->length, r.length);
  EXPECT_FALSE(parse_handle("addr=0x1 rkey=0x2").has_value());
  EXPECT_FALSE(parse_handle("addr=0x1 rkey=0x100000000 length=1").has_value());
  EXPECT_FALSE(parse_handle("addr=0x1 rkey=2 length=1 colour=blue").has_value());
  EXPECT_FALSE(parse_handle("addr=zz rkey=2 length=1").has_value());
}

}  // namespace
}  // namespace tgt_pmem::push::tool
