// SPDX-License-Identifier: GPL-2.0-only
// libFuzzer target: the atomic layout's on-media metadata. Two parts per input:
//   1. decode_header() on the raw bytes: it must classify, never crash, and a header it calls
//      valid must encode back to one that decodes to the same thing;
//   2. recovery: a valid header is written to a memory medium and the input fills the
//      metadata behind it (lane logs, free lists, map), with every log slot's checksum made
//      right so that recovery really parses the entries; AtomicLayout::open() must then
//      either refuse with a message or give a LUN whose blocks can be read and written.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "atomic_format.h"
#include "atomic_layout.h"
#include "memory_medium.h"
#include "tgt_pmem/flush/recording.h"

namespace {

using namespace tgt_pmem;
constexpr std::size_t kSize = 2 << 20;  // 512-byte blocks: 1 MiB of spares, ~1900 LBAs

void check_decode(const std::uint8_t* data, std::size_t size) {
  const auto d = bs::atomic::decode_header({data, size});
  if (d.state != bs::atomic::HeaderState::kValid) return;
  const auto image = bs::atomic::encode_header(d.header);
  const auto again = bs::atomic::decode_header(image);
  if (again.state != bs::atomic::HeaderState::kValid ||
      !(again.header.geometry == d.header.geometry) || again.header.uuid != d.header.uuid)
    std::abort();
}

void check_recovery(const std::uint8_t* data, std::size_t size) {
  const std::uint32_t bs = 512;
  static std::vector<std::byte> mem(kSize);  // allocated once: inputs are many
  std::memset(mem.data(), 0, mem.size());
  bs::atomic::Header h;
  const auto geometry = bs::atomic::compute_geometry(kSize, bs);
  if (!geometry) std::abort();  // kSize is chosen to fit
  h.geometry = *geometry;
  const auto image = bs::atomic::encode_header(h);
  std::memcpy(mem.data(), image.data(), image.size());
  const auto& g = h.geometry;
  std::memcpy(mem.data() + g.log_offset, data, std::min<std::size_t>(size, g.data_offset - g.log_offset));
  for (std::uint32_t l = 0; l < g.lanes; ++l) {
    auto* slot = reinterpret_cast<std::uint8_t*>(mem.data() + g.log_offset + l * bs::atomic::kLogSlotSize);
    std::uint32_t count;
    std::memcpy(&count, slot + 8, 4);
    if (count == 0 || count > g.max_atomic) continue;
    const std::uint64_t sum = bs::atomic::log_checksum({slot, bs::atomic::kLogSlotSize}, count);
    std::memcpy(slot + 16, &sum, 8);
  }
  flush::RecordingFlusher f;
  testing::MemoryMedium m(mem, f);
  auto l = bs::AtomicLayout::open(m, bs);
  if (!l) {
    if (l.error().empty()) std::abort();
    return;
  }
  std::vector<std::byte> block(bs);
  const std::uint64_t blocks = (*l)->capacity() / bs;
  for (std::uint64_t lba : {std::uint64_t{0}, blocks / 2, blocks - 1}) {
    if (!(*l)->load(lba * bs, block)) continue;  // a corrupt map entry: EIO, not a crash
    (void)(*l)->store(lba * bs, block, bs::Sync::kNow);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_decode(data, size);
  check_recovery(data, size);
  return 0;
}
