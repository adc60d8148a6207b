// SPDX-License-Identifier: GPL-2.0-only
// libFuzzer target: the SCSI command executor on a small memory LUN, with arbitrary CDBs,
// Data-Out contents and Data-In/Data-Out buffer sizes (each buffer allocated at its exact
// size, so that ASan sees any access past it), a few injected bad ranges, and up to four
// commands per input so that state (the write cache, learnt and cleared bad ranges) carries
// over. Besides the sanitizers' findings, a result that breaks the executor's contract aborts.
//
// Input: [config][bad ranges: 4 bytes each]([cdb_len][cdb][out_len:2][in_len:2][data])*
//   config bit 0: 4096-byte blocks (else 512); bits 1-2: number of bad ranges (0-3);
//   bit 3: the write cache is on. A bad range: offset/64 (2 bytes), length (2 bytes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "lun.h"
#include "memory_medium.h"
#include "scsi_exec.h"

namespace {

// Stores are plain memory; nothing to flush.
class NullFlusher final : public tgt_pmem::flush::Flusher {
 public:
  tgt_pmem::flush::Method method() const noexcept override {
    return tgt_pmem::flush::Method::kSimulated;
  }
  tgt_pmem::flush::Status flush(const void*, std::size_t) noexcept override { return {}; }
  tgt_pmem::flush::Status drain() noexcept override { return {}; }
  tgt_pmem::flush::Status sync_file() noexcept override { return {}; }
};

constexpr std::size_t kLunBytes = 128 << 10;

class Input {
 public:
  Input(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool empty() const { return pos_ >= n_; }
  std::uint8_t byte() { return pos_ < n_ ? d_[pos_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(byte() << 8 | byte()); }
  // Exactly len bytes: what is left of the input, zero-padded.
  std::vector<std::byte> bytes(std::size_t len) {
    std::vector<std::byte> v(len);
    const std::size_t k = std::min(len, n_ - std::min(pos_, n_));
    if (k) std::memcpy(v.data(), d_ + pos_, k);
    pos_ += k;
    return v;
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_;
  std::size_t pos_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tgt_pmem;
  Input in(data, size);
  const std::uint8_t config = in.byte();
  const std::uint32_t block_size = (config & 1) ? 4096 : 512;
  const bool wce = config & 8;

  NullFlusher flusher;
  std::vector<std::byte> mem(kLunBytes);
  auto medium = std::make_unique<testing::MemoryMedium>(mem, flusher);
  for (int i = 0; i < ((config >> 1) & 3); ++i) {
    const std::uint64_t offset = std::uint64_t{in.u16()} * 64;
    const std::uint64_t len = in.u16();
    medium->bad_at_open.push_back({offset, len});  // may lie past the end: must be clipped
  }
  bs::Lun lun(std::move(medium), block_size);
  if (!lun.set_write_cache(wce)) std::abort();  // a memory medium's flush cannot fail

  for (int cmd = 0; cmd < 4 && !in.empty(); ++cmd) {
    const std::size_t cdb_len = in.byte() % 33;
    const auto cdb_bytes = in.bytes(cdb_len);
    std::vector<std::uint8_t> cdb(cdb_len);
    if (cdb_len) std::memcpy(cdb.data(), cdb_bytes.data(), cdb_len);
    const std::size_t out_len = in.u16();
    const std::size_t in_len = in.u16();
    const auto out = in.bytes(out_len);
    std::vector<std::byte> din(in_len);
    const bs::Result r = bs::execute(lun, {cdb, out, din});
    if (r.status != 0 && r.status != 2) std::abort();
    if (r.in_len > din.size()) std::abort();
    if (r.status == 0 && (r.sense_key != 0 || r.asc != 0 || r.info_valid)) std::abort();
    if (r.status == 2 && r.sense_key == 0) std::abort();
  }
  return 0;
}
