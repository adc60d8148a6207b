// SPDX-License-Identifier: GPL-2.0-only
// Atomic layout recovery and flush errors. Bug it catches: recovery that repairs the map and
// free lists but ignores a failed flush of them, and serves the LUN anyway; a power loss
// would then undo the repair under writes already acknowledged on top of it.
#include <gtest/gtest.h>

#include <cstring>

#include "atomic_format.h"
#include "atomic_layout.h"
#include "cdb_builders.h"
#include "memory_medium.h"
#include "scsi_codes.h"
#include "scsi_exec.h"

namespace tgt_pmem::crash {
namespace {

using namespace bs::scsi;

class Plain final : public flush::Flusher {
 public:
  explicit Plain(bool fail) : fail_(fail) {}
  flush::Method method() const noexcept override { return flush::Method::kCacheFlush; }
  flush::Status flush(const void*, std::size_t) noexcept override { return result(); }
  flush::Status drain() noexcept override { return result(); }
  flush::Status sync_file() noexcept override { return result(); }
  bool fail_;

 private:
  flush::Status result() const {
    if (fail_) return std::unexpected(std::error_code(EIO, std::generic_category()));
    return {};
  }
};

// A medium whose last transaction reached its commit point, but whose map update did not:
// recovery must redo it.
std::vector<std::byte> interrupted_image(std::uint64_t lba, std::vector<std::byte>& data) {
  std::vector<std::byte> mem(5u << 19);
  Plain ok(false);
  {
    auto m = std::make_unique<testing::MemoryMedium>(mem, ok);
    auto l = bs::AtomicLayout::open(*m, 512);
    EXPECT_TRUE(l);
    bs::Lun lun(std::move(m), std::move(*l), 512);
    data.assign(512, std::byte{0x3c});
    EXPECT_TRUE(bs::execute(lun, {testing::cdb16(op::kWrite16, lba, 1), data, {}}).good());
  }
  const auto h = bs::atomic::decode_header(
      {reinterpret_cast<const std::uint8_t*>(mem.data()), bs::atomic::kHeaderSize});
  const std::uint64_t zero = 0;  // the map entry back to "identity": step 3 never happened
  std::memcpy(mem.data() + h.header.geometry.map_offset + lba * 8, &zero, 8);
  return mem;
}

TEST(AtomicRecovery, RedoesALastTransactionWhoseMapUpdateWasLost) {
  std::vector<std::byte> data;
  auto image = interrupted_image(77, data);
  Plain ok(false);
  auto m = std::make_unique<testing::MemoryMedium>(image, ok);
  auto l = bs::AtomicLayout::open(*m, 512);
  ASSERT_TRUE(l) << l.error();
  EXPECT_EQ((*l)->lanes_recovered(), 1u);
  std::vector<std::byte> back(512);
  ASSERT_TRUE((*l)->load(77 * 512, back));
  EXPECT_EQ(back, data);
}

TEST(AtomicRecovery, RefusesToOpenWhenItsFlushFails) {
  std::vector<std::byte> data;
  auto image = interrupted_image(77, data);
  Plain failing(true);
  auto m = std::make_unique<testing::MemoryMedium>(image, failing);
  auto l = bs::AtomicLayout::open(*m, 512);
  ASSERT_FALSE(l) << "a recovery whose repair is not durable must not serve the LUN";
  EXPECT_NE(l.error().find("flush failed"), std::string::npos) << l.error();
}

}  // namespace
}  // namespace tgt_pmem::crash
