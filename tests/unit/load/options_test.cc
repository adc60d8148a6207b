// SPDX-License-Identifier: GPL-2.0-only
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tgt_pmem/load/options.h"

namespace tgt_pmem::load {
namespace {

const std::string kUrl = "iscsi://127.0.0.1:3260/iqn.2024-01.org.example:t1/1";

std::expected<ParseOutcome, std::string> parse(std::vector<std::string> args) {
  return parse_options(args);
}

LoadOptions parse_ok(std::vector<std::string> args) {
  auto r = parse(std::move(args));
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error());
  if (!r) return {};
  EXPECT_TRUE(std::holds_alternative<LoadOptions>(*r));
  return std::get<LoadOptions>(*r);
}

std::string parse_error(std::vector<std::string> args) {
  auto r = parse(std::move(args));
  EXPECT_FALSE(r.has_value());
  return r ? std::string() : r.error();
}

TEST(ParseSize, AcceptsBinarySuffixes) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("512b"), 512u);
  EXPECT_EQ(parse_size("4k"), 4096u);
  EXPECT_EQ(parse_size("4K"), 4096u);
  EXPECT_EQ(parse_size("4KiB"), 4096u);
  EXPECT_EQ(parse_size("3m"), 3u << 20);
  EXPECT_EQ(parse_size("2G"), std::uint64_t{2} << 30);
  EXPECT_EQ(parse_size("1t"), std::uint64_t{1} << 40);
}

TEST(ParseSize, RejectsJunkAndOverflow) {
  EXPECT_FALSE(parse_size("").has_value());
  EXPECT_FALSE(parse_size("k").has_value());
  EXPECT_FALSE(parse_size("-1").has_value());
  EXPECT_FALSE(parse_size("4x").has_value());
  EXPECT_FALSE(parse_size("4kb").has_value());  // ambiguous decimal/binary: refused
  EXPECT_FALSE(parse_size("99999999999999999999").has_value());
  EXPECT_FALSE(parse_size("16777216t").has_value());  // 2^64
}

TEST(FormatSize, PicksTheLargestExactUnit) {
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(4096), "4 KiB");
  EXPECT_EQ(format_size(std::uint64_t{1} << 30), "1 GiB");
  EXPECT_EQ(format_size(1536), "1.50 KiB");
}

TEST(ParseOptions, DefaultsAreReadOnlyRandomForTenSeconds) {
  const LoadOptions o = parse_ok({kUrl});
  EXPECT_EQ(o.url, kUrl);
  EXPECT_EQ(o.queue_depth, 16u);
  EXPECT_EQ(o.block_size, 4096u);
  EXPECT_EQ(o.read_percent, 100u);
  EXPECT_EQ(o.access, AccessPattern::kRandom);
  EXPECT_FALSE(o.fua);
  ASSERT_TRUE(o.duration_s.has_value());
  EXPECT_DOUBLE_EQ(*o.duration_s, 10.0);
  EXPECT_FALSE(o.io_count.has_value());
  EXPECT_FALSE(o.verify);
  EXPECT_FALSE(o.json);
  EXPECT_EQ(o.offset, 0u);
  EXPECT_FALSE(o.size.has_value());
  EXPECT_FALSE(o.seed.has_value());
}

TEST(ParseOptions, ReadsEveryOption) {
  const LoadOptions o =
      parse_ok({"--url", kUrl, "-q", "32", "-b", "64k", "-r", "70", "--access", "sequential",
                "--fua", "-t", "2.5", "-n", "1000", "--ramp", "1", "--offset", "1m", "--size",
                "256m", "--verify", "--json", "--seed", "42", "--initiator-name", "iqn.x:y",
                "--timeout", "7"});
  EXPECT_EQ(o.queue_depth, 32u);
  EXPECT_EQ(o.block_size, 65536u);
  EXPECT_EQ(o.read_percent, 70u);
  EXPECT_EQ(o.access, AccessPattern::kSequential);
  EXPECT_TRUE(o.fua);
  EXPECT_DOUBLE_EQ(o.duration_s.value_or(0), 2.5);
  EXPECT_EQ(o.io_count.value_or(0), 1000u);
  EXPECT_DOUBLE_EQ(o.ramp_s, 1.0);
  EXPECT_EQ(o.offset, 1u << 20);
  EXPECT_EQ(o.size.value_or(0), 256u << 20);
  EXPECT_TRUE(o.verify);
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.seed.value_or(0), 42u);
  EXPECT_EQ(o.initiator_name, "iqn.x:y");
  EXPECT_EQ(o.timeout_s, 7u);
}

TEST(ParseOptions, IoCountAloneMeansNoDurationLimit) {
  const LoadOptions o = parse_ok({kUrl, "--ios", "500"});
  EXPECT_FALSE(o.duration_s.has_value());
  EXPECT_EQ(o.io_count.value_or(0), 500u);
}

TEST(ParseOptions, HelpWinsAndDescribesTheOptions) {
  auto r = parse({"--help"});
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(std::holds_alternative<HelpRequested>(*r));
  const std::string& text = std::get<HelpRequested>(*r).text;
  for (const char* word : {"Usage:", "--queue-depth", "--block-size", "--read-percent",
                           "--access", "--fua", "--duration", "--ios", "--offset", "--size",
                           "--verify", "--json", "Exit status"}) {
    EXPECT_NE(text.find(word), std::string::npos) << word;
  }
}

TEST(ParseOptions, RejectsOutOfRangeValues) {
  EXPECT_NE(parse_error({kUrl, "-q", "0"}).find("--queue-depth"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "-q", "5000"}).find("--queue-depth"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "-b", "1000"}).find("--block-size"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "-b", "0"}).find("--block-size"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "-b", "2g"}).find("--block-size"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "-q", "1024", "-b", "8m"}).find("4 GiB"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "-r", "101"}).find("--read-percent"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "-t", "0"}).find("--duration"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "-n", "0"}).find("--ios"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "--ramp", "-1"}).find("--ramp"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "--offset", "100"}).find("--offset"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "--size", "2k"}).find("--size"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "--access", "zigzag"}).find("--access"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, "--timeout", "0"}).find("--timeout"), std::string::npos);
}

TEST(ParseOptions, RejectsMissingBadOrDuplicateUrls) {
  EXPECT_NE(parse_error({}).find("URL"), std::string::npos);
  EXPECT_NE(parse_error({"http://x/y/1"}).find("iscsi://"), std::string::npos);
  EXPECT_NE(parse_error({kUrl, kUrl}).find("more than one"), std::string::npos);
}

TEST(ParseOptions, RejectsUnknownOptionsAndBadNumbers) {
  EXPECT_FALSE(parse({kUrl, "--frobnicate"}).has_value());
  EXPECT_FALSE(parse({kUrl, "-q", "many"}).has_value());
  EXPECT_FALSE(parse({kUrl, "-q"}).has_value());
}

}  // namespace
}  // namespace tgt_pmem::load
