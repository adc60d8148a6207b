// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-push's command line (iser_ext/tools/push_options.h).
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "push_options.h"

namespace tgt_pmem::push::tool {
namespace {

std::expected<ParseOutcome, std::string> parse(std::vector<std::string> args) {
  return parse_command_line(args);
}

const std::vector<std::string> kSession = {"--address", "192.0.2.1", "--initiator",
                                           "iqn.x:c",   "--target",  "iqn.x:t"};

std::vector<std::string> with(std::vector<std::string> more) {
  std::vector<std::string> v = kSession;
  v.insert(v.end(), more.begin(), more.end());
  return v;
}

ToolOptions ok(std::vector<std::string> args) {
  auto p = parse(std::move(args));
  EXPECT_TRUE(p.has_value()) << (p ? "" : p.error());
  if (!p || !std::holds_alternative<ToolOptions>(*p)) return {};
  return std::get<ToolOptions>(*p);
}

TEST(PushOptions, SessionAndStepsInOrder) {
  const ToolOptions o = ok(with({"--lun", "3", "--port", "6000", "register:0:1M:rw",
                                 "write:h0:0:pattern:1:4k", "commit:h0"}));
  EXPECT_EQ(o.client.address, "192.0.2.1");
  EXPECT_EQ(o.client.initiator_name, "iqn.x:c");
  EXPECT_EQ(o.client.target_name, "iqn.x:t");
  EXPECT_EQ(o.client.lun, 3u);
  EXPECT_EQ(o.client.port, 6000);
  ASSERT_EQ(o.steps.size(), 3u);
  EXPECT_EQ(o.steps[0].kind, StepKind::kRegister);
  EXPECT_EQ(o.steps[1].kind, StepKind::kWrite);
  EXPECT_EQ(o.steps[2].kind, StepKind::kCommit);
  EXPECT_FALSE(o.bench);
}

TEST(PushOptions, Defaults) {
  const ToolOptions o = ok(kSession);
  EXPECT_EQ(o.client.port, 5566);
  EXPECT_EQ(o.client.lun, 0u);
  EXPECT_EQ(o.client.timeout, std::chrono::milliseconds(10000));
  EXPECT_TRUE(o.steps.empty()) << "no steps: connect and report";
  EXPECT_FALSE(o.expect_connect_refused);
}

TEST(PushOptions, ChapTimeoutAndExpectations) {
  ToolOptions o = ok(with({"--chap-user", "alice", "--chap-secret", "pw", "--timeout", "0.5",
                           "--expect-connect", "refused"}));
  EXPECT_EQ(o.client.chap_user, "alice");
  EXPECT_EQ(o.client.chap_secret, "pw");
  EXPECT_EQ(o.client.timeout, std::chrono::milliseconds(500));
  EXPECT_TRUE(o.expect_connect_refused);
  EXPECT_FALSE(parse(with({"--chap-secret", "pw"})).has_value());
  EXPECT_FALSE(parse(with({"--timeout", "0"})).has_value());
  EXPECT_FALSE(parse(with({"--timeout", "-1"})).has_value());
  EXPECT_FALSE(parse(with({"--expect-connect", "maybe"})).has_value());
}

TEST(PushOptions, ChapSecretFile) {
  const ToolOptions o = ok(with({"--chap-user", "alice", "--chap-secret-file", "/etc/secret"}));
  EXPECT_EQ(o.chap_secret_file, "/etc/secret");
  EXPECT_TRUE(o.client.chap_secret.empty()) << "read only when the tool runs";
  EXPECT_TRUE(ok(kSession).chap_secret_file.empty());
  EXPECT_FALSE(parse(with({"--chap-secret-file", "/etc/secret"})).has_value()) << "no user";
  EXPECT_FALSE(parse(with({"--chap-user", "alice", "--chap-secret-file", ""})).has_value());
  auto both = parse(with({"--chap-user", "alice", "--chap-secret", "pw", "--chap-secret-file",
                          "/etc/secret"}));
  ASSERT_FALSE(both.has_value());
  EXPECT_NE(both.error().find("one of them"), std::string::npos) << both.error();
}

TEST(PushOptions, PollMicroseconds) {
  EXPECT_EQ(ok(kSession).client.poll, std::chrono::microseconds(0));
  EXPECT_EQ(ok(with({"--poll-us", "1000"})).client.poll, std::chrono::microseconds(1000));
  EXPECT_FALSE(parse(with({"--poll-us", "10001"})).has_value());
  EXPECT_FALSE(parse(with({"--poll-us", "-1"})).has_value());
}

TEST(PushOptions, RequiredOptionsAndBadSteps) {
  auto p = parse({"--address", "192.0.2.1", "--target", "iqn.x:t"});
  ASSERT_FALSE(p.has_value());
  EXPECT_NE(p.error().find("--initiator"), std::string::npos);
  p = parse(with({"register:0:1M:rwx"}));
  ASSERT_FALSE(p.has_value());
  EXPECT_NE(p.error().find("register:0:1M:rwx"), std::string::npos) << p.error();
  EXPECT_FALSE(parse(with({"--no-such-option"})).has_value());
  EXPECT_FALSE(parse(with({"--port", "70000"})).has_value());
}

TEST(PushOptions, Bench) {
  ToolOptions o = ok(with(
      {"--bench", "--size", "8K", "--count", "50", "--region", "2M", "--offset", "1M", "--json"}));
  EXPECT_TRUE(o.bench);
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.bench_options.size, 8192u);
  EXPECT_EQ(o.bench_options.count, 50u);
  EXPECT_EQ(o.bench_options.region, 2u << 20);
  EXPECT_EQ(o.bench_options.offset, 1u << 20);
  o = ok(with({"--bench"}));
  EXPECT_EQ(o.bench_options.size, 4096u);
  EXPECT_EQ(o.bench_options.count, 1000u);
  EXPECT_EQ(o.bench_options.region, 1u << 20);
  EXPECT_FALSE(parse(with({"--size", "4k"})).has_value()) << "bench options need --bench";
  EXPECT_FALSE(parse(with({"--bench", "commit:h0"})).has_value());
  EXPECT_FALSE(parse(with({"--bench", "--size", "2M", "--region", "1M"})).has_value());
  EXPECT_FALSE(parse(with({"--bench", "--count", "0"})).has_value());
  EXPECT_FALSE(parse(with({"--bench", "--size", "lots"})).has_value());
}

TEST(PushOptions, BenchRuntime) {
  ToolOptions o = ok(with({"--bench", "--runtime", "2.5"}));
  EXPECT_EQ(o.bench_options.runtime, std::chrono::microseconds(2'500'000));
  EXPECT_EQ(o.bench_options.count, kUnlimitedCount) << "the runtime alone ends a method";
  o = ok(with({"--bench", "--runtime", "1", "--count", "300"}));
  EXPECT_EQ(o.bench_options.runtime, std::chrono::seconds(1));
  EXPECT_EQ(o.bench_options.count, 300u) << "both limits, whichever comes first";
  EXPECT_EQ(ok(with({"--bench"})).bench_options.runtime.count(), 0) << "no runtime by default";
  for (const char* bad : {"0", "-1", "nan", "inf", "86401", "soon"}) {
    auto r = parse(with({"--bench", "--runtime", bad}));
    ASSERT_FALSE(r.has_value()) << bad;
  }
  auto r = parse(with({"--bench", "--runtime", "0"}));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("--runtime must be > 0"), std::string::npos) << r.error();
  r = parse(with({"--runtime", "5"}));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("need --bench"), std::string::npos) << r.error();
}

TEST(PushOptions, RemoteFlush) {
  EXPECT_EQ(ok(with({"--bench"})).client.flush_method, FlushMethod::kAuto);
  EXPECT_EQ(ok(with({"--bench", "--remote-flush", "auto"})).client.flush_method,
            FlushMethod::kAuto);
  EXPECT_EQ(ok(with({"--bench", "--remote-flush", "read-after-write"})).client.flush_method,
            FlushMethod::kReadAfterWrite);
  EXPECT_EQ(ok(with({"--bench", "--remote-flush=rdma-flush"})).client.flush_method,
            FlushMethod::kRdmaFlush);
  auto bad = parse(with({"--bench", "--remote-flush", "raf"}));
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find("--remote-flush"), std::string::npos) << bad.error();
  // Also for write-flush steps, without --bench.
  EXPECT_EQ(ok(with({"--remote-flush", "rdma-flush", "register:0:4k:rw"})).client.flush_method,
            FlushMethod::kRdmaFlush);
}

TEST(PushOptions, Help) {
  auto p = parse({"--help"});
  ASSERT_TRUE(p.has_value());
  ASSERT_TRUE(std::holds_alternative<HelpRequested>(*p));
  const std::string& text = std::get<HelpRequested>(*p).text;
  EXPECT_NE(text.find("register:OFFSET:LENGTH:r|w|rw"), std::string::npos);
  EXPECT_NE(text.find("expect=refused"), std::string::npos);
  EXPECT_NE(text.find("--bench"), std::string::npos);
  EXPECT_NE(text.find("--remote-flush"), std::string::npos);
}

}  // namespace
}  // namespace tgt_pmem::push::tool
