// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-push --bench: the figures and their formats (iser_ext/tools/push_bench.h), and a
// run on the fake target.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "fake_target.h"
#include "push_bench.h"
#include "tgt_pmem/flush/remote.h"

namespace tgt_pmem::push::tool {
namespace {

TEST(PushBench, SummarizesLatencies) {
  std::vector<double> us;
  for (int i = 100; i >= 1; --i) us.push_back(i);  // 1..100 in reverse
  const BenchStats s = summarize("write+commit", us, 0.5, 4096);
  EXPECT_EQ(s.method, "write+commit");
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.mean_us, 50.5);
  EXPECT_DOUBLE_EQ(s.p50_us, 50);
  EXPECT_DOUBLE_EQ(s.p99_us, 99);
  EXPECT_DOUBLE_EQ(s.iops, 200);
  EXPECT_DOUBLE_EQ(s.mib_per_s, 200.0 * 4096 / (1024 * 1024));
  const BenchStats one = summarize("x", std::vector<double>{7}, 1, 512);
  EXPECT_DOUBLE_EQ(one.p50_us, 7);
  EXPECT_DOUBLE_EQ(one.p99_us, 7);
  const BenchStats none = summarize("x", {}, 1, 512);
  EXPECT_EQ(none.count, 0u);
  EXPECT_DOUBLE_EQ(none.iops, 0);
}

TEST(PushBench, FormatsATableAndOneJsonLine) {
  const std::vector<BenchStats> rows = {{"write+commit", 10, 20.5, 20, 30, 48000, 187.5},
                                        {"write+read-after-write", 10, 8.25, 8, 9, 120000, 468.75}};
  const BenchOptions o;
  const std::string table = format_table(rows, o);
  EXPECT_NE(table.find("mean us"), std::string::npos);
  EXPECT_NE(table.find("p99 us"), std::string::npos);
  EXPECT_NE(table.find("IOPS"), std::string::npos);
  EXPECT_NE(table.find("MiB/s"), std::string::npos);
  EXPECT_NE(table.find("write+read-after-write"), std::string::npos);
  EXPECT_NE(table.find("4 KiB"), std::string::npos);
  const std::string json = format_json(rows, o);
  EXPECT_EQ(json,
            "{\"tool\":\"tgtpmem-push\",\"mode\":\"bench\",\"size\":4096,\"count\":1000,"
            "\"region\":1048576,\"results\":["
            "{\"method\":\"write+commit\",\"count\":10,\"mean_us\":20.5,\"p50_us\":20.0,"
            "\"p99_us\":30.0,\"iops\":48000.0,\"mib_s\":187.5},"
            "{\"method\":\"write+read-after-write\",\"count\":10,\"mean_us\":8.25,"
            "\"p50_us\":8.0,\"p99_us\":9.0,\"iops\":120000.0,\"mib_s\":468.75}]}\n");
}

TEST(PushBench, RunsBothMethodsOnTheFakeTarget) {
  tgt_pmem::testing::FakePeer peer;
  test_support::FakeTarget target(peer);
  auto c = Client::connect_over(peer.connect(), test_support::test_options(), target.hook());
  ASSERT_TRUE(c.has_value()) << c.error().message();
  BenchOptions o;
  o.size = 4096;
  o.count = 20;
  o.region = 16384;
  auto rows = run_bench(*c, o);
  ASSERT_TRUE(rows.has_value()) << rows.error();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].method, "write+commit");
  EXPECT_EQ((*rows)[1].method, "write+read-after-write");
  EXPECT_EQ((*rows)[0].count, 20u);
  EXPECT_EQ(target.commits.size(), 20u) << "one COMMIT per durable write, none for the other";
  for (const auto& commit : target.commits) {
    ASSERT_EQ(commit.ranges.size(), 1u);
    EXPECT_EQ(commit.ranges[0].length, 4096u);
    EXPECT_EQ(commit.ranges[0].offset % 4096, 0u);
    EXPECT_LT(commit.ranges[0].offset, 16384u) << "round the region";
  }
  EXPECT_EQ(target.unregisters.size(), 1u);
}

// --runtime: each method runs for the time given, however many writes that is.
TEST(PushBench, ARuntimeEndsEachMethod) {
  tgt_pmem::testing::FakePeer peer;
  test_support::FakeTarget target(peer);
  auto c = Client::connect_over(peer.connect(), test_support::test_options(), target.hook());
  ASSERT_TRUE(c.has_value()) << c.error().message();
  BenchOptions o;
  o.count = kUnlimitedCount;
  o.runtime = std::chrono::milliseconds(50);
  o.region = 16384;
  const auto start = std::chrono::steady_clock::now();
  auto rows = run_bench(*c, o);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(rows.has_value()) << rows.error();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_GE(took, std::chrono::milliseconds(100)) << "50 ms for each of two methods";
  EXPECT_LT(took, std::chrono::seconds(30)) << "the runtime ends the unlimited count";
  EXPECT_GT((*rows)[0].count, 0u);
  EXPECT_EQ(target.commits.size(), (*rows)[0].count) << "the row counts the writes made";
  EXPECT_GT((*rows)[1].count, 0u);

  // A count reached first ends the method before the runtime.
  target.commits.clear();
  o.count = 7;
  o.runtime = std::chrono::seconds(600);
  rows = run_bench(*c, o);
  ASSERT_TRUE(rows.has_value()) << rows.error();
  EXPECT_EQ((*rows)[0].count, 7u);
  EXPECT_EQ(target.commits.size(), 7u);
  EXPECT_NE(format_table(*rows, o).find("600.0 s per method (at most 7)"), std::string::npos)
      << format_table(*rows, o);
  EXPECT_NE(format_json(*rows, o).find("\"runtime_s\":600.0,"), std::string::npos)
      << format_json(*rows, o);
}

TEST(PushBench, ReportsWhatFailed) {
  tgt_pmem::testing::FakePeer peer;
  test_support::FakeTarget target(peer);
  auto c = Client::connect_over(peer.connect(), test_support::test_options(), target.hook());
  ASSERT_TRUE(c.has_value());
  target.commit_status = Status::kIoError;
  BenchOptions o;
  o.count = 3;
  auto rows = run_bench(*c, o);
  ASSERT_FALSE(rows.has_value());
  EXPECT_NE(rows.error().find("write+commit #0"), std::string::npos) << rows.error();
  EXPECT_NE(rows.error().find("I/O error"), std::string::npos) << rows.error();
}

// --remote-flush: the second row names the one-sided method used.
TEST(PushBench, NamesTheRdmaFlushRowWhereItIsUsed) {
  tgt_pmem::testing::FakePeer peer;
  test_support::FakeTarget target(peer);
  target.offer_flush = true;
  auto c =
      Client::connect_over(peer.connect_flush_capable(), test_support::test_options(), target.hook());
  ASSERT_TRUE(c.has_value()) << c.error().message();
  BenchOptions o;
  o.count = 5;
  o.region = 16384;
  auto rows = run_bench(*c, o);
  ASSERT_TRUE(rows.has_value()) << rows.error();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].method, "write+commit");
  if (flush::remote_method_built(flush::RemoteMethod::kRdmaFlush)) {
    EXPECT_EQ((*rows)[1].method, "write+rdma-flush");
    EXPECT_EQ(peer.rdma_flushes_run().size(), 5u);
  } else {
    EXPECT_EQ((*rows)[1].method, "write+read-after-write");
    EXPECT_TRUE(peer.rdma_flushes_run().empty());
  }
}

TEST(PushBench, AnRdmaFlushItCannotHaveFailsBeforeWriting) {
  tgt_pmem::testing::FakePeer peer;
  test_support::FakeTarget target(peer);
  ClientOptions co = test_support::test_options();
  co.flush_method = FlushMethod::kRdmaFlush;
  auto c = Client::connect_over(peer.connect(), co, target.hook());
  ASSERT_TRUE(c.has_value());
  BenchOptions o;
  o.count = 3;
  auto rows = run_bench(*c, o);
  ASSERT_FALSE(rows.has_value());
  EXPECT_NE(rows.error().find("RDMA FLUSH is not available"), std::string::npos) << rows.error();
  EXPECT_TRUE(target.commits.empty()) << "nothing measured";
  EXPECT_EQ(target.unregisters.size(), 1u) << "the region is not left behind";
}

}  // namespace
}  // namespace tgt_pmem::push::tool
