// SPDX-License-Identifier: GPL-2.0-only
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tgt_pmem/load/iscsi_runner.h"
#include "tgt_pmem/load/report.h"

namespace tgt_pmem::load {
namespace {

RunReport sample() {
  RunReport r;
  r.options.url = "iscsi://127.0.0.1:3260/iqn.x:t/1";
  r.options.read_percent = 50;
  r.options.verify = true;
  r.seed = 99;
  r.lun_block_size = 512;
  r.lun_blocks = 2048;
  r.region_size = 1 << 20;
  r.elapsed_s = 2.0;
  r.read.ios = 1000;
  r.read.bytes = 1000 * 4096;
  r.write.ios = 3000;
  r.write.bytes = 3000 * 4096;
  for (int i = 1; i <= 1000; ++i) r.read.latency_ns.record(100'000);
  for (int i = 1; i <= 3000; ++i) r.write.latency_ns.record(50'000);
  r.verify.blocks_checked = 8000;
  return r;
}

TEST(Report, RatesComeFromIosBytesAndElapsed) {
  const RunReport r = sample();
  EXPECT_DOUBLE_EQ(iops(r.read, r.elapsed_s), 500.0);
  EXPECT_DOUBLE_EQ(iops(r.write, r.elapsed_s), 1500.0);
  EXPECT_DOUBLE_EQ(mib_per_s(r.write, r.elapsed_s), 3000.0 * 4096 / 1048576 / 2);
  EXPECT_DOUBLE_EQ(iops(r.read, 0.0), 0.0);
}

TEST(Report, TextHasOneRowPerOperationAndTheVerdict) {
  const std::string t = format_text(sample());
  EXPECT_NE(t.find(" read       1000       500"), std::string::npos) << t;
  EXPECT_NE(t.find("write       3000      1500"), std::string::npos) << t;
  EXPECT_NE(t.find("total       4000      2000"), std::string::npos) << t;
  EXPECT_NE(t.find("100.0"), std::string::npos) << t;  // read p50 in us
  EXPECT_NE(t.find("p99.9"), std::string::npos) << t;
  EXPECT_NE(t.find("8000 blocks checked"), std::string::npos) << t;
  EXPECT_NE(t.find("result   OK"), std::string::npos) << t;
}

TEST(Report, FailuresAreSpelledOut) {
  RunReport r = sample();
  r.io_error = "WRITE(16) LBA 8, 8 blocks: CHECK CONDITION";
  r.verify.errors = 12;
  r.verify.first_errors = {"LBA 1: stale data"};
  EXPECT_FALSE(run_succeeded(r));
  const std::string t = format_text(r);
  EXPECT_NE(t.find("error    WRITE(16) LBA 8"), std::string::npos) << t;
  EXPECT_NE(t.find("12 mismatches"), std::string::npos) << t;
  EXPECT_NE(t.find("MISMATCH LBA 1: stale data"), std::string::npos) << t;
  EXPECT_NE(t.find("... and 11 more"), std::string::npos) << t;
  EXPECT_NE(t.find("result   FAILED"), std::string::npos) << t;
  const auto j = nlohmann::json::parse(format_json(r));
  EXPECT_EQ(j["ok"], false) << j;
  EXPECT_EQ(j["verify"]["errors"], 12) << j;
  EXPECT_EQ(j["verify"]["first_errors"], nlohmann::json::array({"LBA 1: stale data"})) << j;
  EXPECT_EQ(j["error"], "WRITE(16) LBA 8, 8 blocks: CHECK CONDITION") << j;
}

TEST(Report, JsonCarriesFiguresPerOperation) {
  const std::string text = format_json(sample());
  ASSERT_EQ(text.back(), '\n');
  const auto j = nlohmann::ordered_json::parse(text);  // keeps the keys in the text's order
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"ok", "url", "lun", "region", "workload", "elapsed_s",
                                            "interrupted", "read", "write", "total", "verify",
                                            "error"}));
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["read"]["ios"], 1000);
  EXPECT_EQ(j["read"]["bytes"], 4096000);
  EXPECT_EQ(j["read"]["iops"], 500.0);
  EXPECT_EQ(j["read"]["latency_us"]["p99_9"], 100.0);
  EXPECT_EQ(j["write"]["latency_us"]["p50"], 50.0);
  EXPECT_EQ(j["total"]["ios"], 4000);
  EXPECT_EQ(j["workload"]["seed"], 99);
  EXPECT_EQ(j["workload"]["access"], "random");
  EXPECT_TRUE(j["workload"]["duration_s"].is_null());
  EXPECT_EQ(j["elapsed_s"], 2.0);
  EXPECT_TRUE(j["error"].is_null());
  // Whole numbers stay numbers with a decimal point, as before: "iops": 500.0
  EXPECT_NE(text.find("\"iops\": 500.0,"), std::string::npos) << text;
}

// Figures keep the precision the report promises (1 decimal for µs and IOPS, 3 for MiB/s,
// 6 for elapsed seconds), not the double's last digits.
TEST(Report, JsonRoundsFiguresToTheirPrecision) {
  RunReport r = sample();
  r.elapsed_s = 3.0;  // 1000 reads: 333.333... IOPS
  r.read.latency_ns = {};
  r.read.latency_ns.record(123'456);
  const auto j = nlohmann::json::parse(format_json(r));
  EXPECT_EQ(j["read"]["iops"], 333.3) << j;
  EXPECT_EQ(j["elapsed_s"], 3.0) << j;
  EXPECT_EQ(j["read"]["mib_s"], 1.302) << j;  // 4096000 B / 2^20 / 3 s = 1.30208...
  EXPECT_EQ(j["read"]["latency_us"]["mean"], 123.5) << j;
  EXPECT_NE(format_json(r).find("\"iops\": 333.3,"), std::string::npos) << format_json(r);
}

TEST(Report, JsonFailureIsOneLine) {
  EXPECT_EQ(format_json_failure("no \"target\"\n\x01"),
            "{\"ok\":false,\"error\":\"no \\\"target\\\"\\n\\u0001\"}\n");
}

TEST(DescribeScsiStatus, CheckConditionNamesSenseKeyAndAscq) {
  // 0x05 ILLEGAL REQUEST, ASC/ASCQ 0x21/0x00 LOGICAL BLOCK ADDRESS OUT OF RANGE (SPC-4).
  const std::string s = describe_scsi_status(2, 0x05, 0x2100);
  EXPECT_NE(s.find("CHECK CONDITION"), std::string::npos) << s;
  EXPECT_NE(s.find("ILLEGAL_REQUEST"), std::string::npos) << s;
  EXPECT_NE(s.find("(0x5)"), std::string::npos) << s;
  EXPECT_NE(s.find("0x21/0x00"), std::string::npos) << s;
}

TEST(DescribeScsiStatus, OtherStatusesByName) {
  EXPECT_EQ(describe_scsi_status(0x28, 0, 0), "TASK SET FULL");
  EXPECT_EQ(describe_scsi_status(0x08, 0, 0), "BUSY");
  EXPECT_EQ(describe_scsi_status(0x7e, 0, 0), "SCSI status 0x7e");
}

}  // namespace
}  // namespace tgt_pmem::load
