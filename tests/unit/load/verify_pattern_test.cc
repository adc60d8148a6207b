// SPDX-License-Identifier: GPL-2.0-only
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tgt_pmem/load/verify_pattern.h"

namespace tgt_pmem::load {
namespace {

constexpr std::uint64_t kRun = 0xabcdef12345ULL;

class VerifyPattern : public ::testing::TestWithParam<std::size_t> {
 protected:
  std::vector<std::byte> block_ = std::vector<std::byte>(GetParam());
  std::span<std::byte> span() { return block_; }
};

TEST_P(VerifyPattern, FreshBlockMatchesItsStamp) {
  fill_block(span(), {77, 5, kRun});
  EXPECT_EQ(check_block(block_, 77, kRun, 5), std::nullopt);
  EXPECT_EQ(check_block(block_, 77, kRun, std::nullopt), std::nullopt);
}

TEST_P(VerifyPattern, DetectsStaleGeneration) {
  fill_block(span(), {77, 4, kRun});
  auto m = check_block(block_, 77, kRun, 5);
  ASSERT_TRUE(m.has_value());
  EXPECT_NE(m->find("stale"), std::string::npos) << *m;
  EXPECT_NE(m->find("LBA 77"), std::string::npos) << *m;
}

TEST_P(VerifyPattern, DetectsMisdirectedBlockEvenWithoutKnownContent) {
  fill_block(span(), {78, 5, kRun});
  for (auto expected : {std::optional<std::uint64_t>(5), std::optional<std::uint64_t>()}) {
    auto m = check_block(block_, 77, kRun, expected);
    ASSERT_TRUE(m.has_value());
    EXPECT_NE(m->find("LBA 78"), std::string::npos) << *m;
  }
}

TEST_P(VerifyPattern, DetectsACorruptedBodyByte) {
  fill_block(span(), {77, 5, kRun});
  block_[block_.size() - 3] ^= std::byte{0x10};
  auto m = check_block(block_, 77, kRun, 5);
  ASSERT_TRUE(m.has_value());
  EXPECT_NE(m->find("corrupted"), std::string::npos) << *m;
  EXPECT_NE(m->find(std::to_string(block_.size() - 8)), std::string::npos) << *m;
}

TEST_P(VerifyPattern, DetectsALostWrite) {
  std::memset(block_.data(), 0, block_.size());
  auto m = check_block(block_, 77, kRun, 5);
  ASSERT_TRUE(m.has_value());
  EXPECT_NE(m->find("no pattern"), std::string::npos) << *m;
}

TEST_P(VerifyPattern, AcceptsAnythingUnknownThatIsNotOurs) {
  std::memset(block_.data(), 0, block_.size());
  EXPECT_EQ(check_block(block_, 77, kRun, std::nullopt), std::nullopt);
  fill_block(span(), {77, 9, kRun + 2});  // an earlier run, right LBA
  EXPECT_EQ(check_block(block_, 77, kRun, std::nullopt), std::nullopt);
  auto m = check_block(block_, 77, kRun, 9);  // but not when this run wrote it
  ASSERT_TRUE(m.has_value());
  EXPECT_NE(m->find("another run"), std::string::npos) << *m;
}

TEST_P(VerifyPattern, BodiesDifferBetweenGenerations) {
  std::vector<std::byte> other(block_.size());
  fill_block(span(), {77, 5, kRun});
  fill_block(other, {77, 6, kRun});
  EXPECT_NE(0, std::memcmp(block_.data() + kPatternHeaderBytes,
                           other.data() + kPatternHeaderBytes,
                           block_.size() - kPatternHeaderBytes));
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, VerifyPattern, ::testing::Values(512, 4096));

}  // namespace
}  // namespace tgt_pmem::load
