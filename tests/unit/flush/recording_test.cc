// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_pmem/flush/recording.h"

#include <gtest/gtest.h>

#include <array>

namespace tgt_pmem::flush {
namespace {

TEST(RecordingFlusher, FlushWithoutDrainIsNotDurable) {
  RecordingFlusher f;
  std::array<char, 256> buf{};
  ASSERT_TRUE(f.flush(buf.data(), 64));
  const auto end = f.mark("end");
  EXPECT_FALSE(f.durable_before(buf.data(), 64, end));
}

TEST(RecordingFlusher, FlushThenDrainIsDurable) {
  RecordingFlusher f;
  std::array<char, 256> buf{};
  ASSERT_TRUE(f.flush(buf.data(), 64));
  ASSERT_TRUE(f.drain());
  const auto end = f.mark("end");
  EXPECT_TRUE(f.durable_before(buf.data(), 64, end));
  EXPECT_FALSE(f.durable_before(buf.data(), 65, end)) << "one byte past the flushed range";
}

TEST(RecordingFlusher, PiecesMustCoverTheWholeRange) {
  RecordingFlusher f;
  std::array<char, 256> buf{};
  ASSERT_TRUE(f.flush(buf.data(), 100));
  ASSERT_TRUE(f.flush(buf.data() + 100, 100));
  ASSERT_TRUE(f.drain());
  ASSERT_TRUE(f.flush(buf.data() + 201, 55));
  ASSERT_TRUE(f.drain());
  const auto end = f.mark("end");
  EXPECT_TRUE(f.durable_before(buf.data(), 200, end));
  EXPECT_FALSE(f.durable_before(buf.data(), 256, end)) << "byte 200 was never flushed";
}

TEST(RecordingFlusher, OnlyEventsBeforeTheMarkCount) {
  RecordingFlusher f;
  std::array<char, 64> buf{};
  ASSERT_TRUE(f.flush(buf.data(), 64));
  const auto completed = f.mark("completion");
  ASSERT_TRUE(f.drain());
  EXPECT_FALSE(f.durable_before(buf.data(), 64, completed));
  EXPECT_TRUE(f.durable_before(buf.data(), 64, f.mark("later")));
}

}  // namespace
}  // namespace tgt_pmem::flush
