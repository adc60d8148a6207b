// SPDX-License-Identifier: GPL-2.0-only
#include <gtest/gtest.h>

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
  const std::string j = format_json(r);
  EXPECT_NE(j.find("\"ok\": false"), std::string::npos) << j;
  EXPECT_NE(j.find("\"errors\": 12"), std::string::npos) << j;
  EXPECT_NE(j.find("\"error\": \"WRITE(16) LBA 8, 8 blocks: CHECK CONDITION\""),
            std::string::npos)
      << j;
}

TEST(Report, JsonCarriesFiguresPerOperation) {
  const std::string j = format_json(sample());
  EXPECT_NE(j.find("\"ok\": true"), std::string::npos) << j;
  EXPECT_NE(j.find("\"read\": {\"ios\": 1000, \"bytes\": 4096000, \"iops\": 500.0"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"p99_9\": 100.0"), std::string::npos) << j;
  EXPECT_NE(j.find("\"p50\": 50.0"), std::string::npos) << j;  // write
  EXPECT_NE(j.find("\"seed\": 99"), std::string::npos) << j;
  EXPECT_NE(j.find("\"error\": null"), std::string::npos) << j;
}

TEST(Report, JsonQuoteEscapes) {
  EXPECT_EQ(json_quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(format_json_failure("no \"target\""),
            "{\"ok\": false, \"error\": \"no \\\"target\\\"\"}\n");
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
