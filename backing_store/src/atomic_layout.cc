// SPDX-License-Identifier: GPL-2.0-only
#include "atomic_layout.h"

#include <sys/random.h>

#include <algorithm>
#include <cstring>

#include "zero_scan.h"

namespace tgt_pmem::bs {

using atomic::LogEntry;

namespace {

flush::Status corrupt_error() {
  return std::unexpected(std::make_error_code(std::errc::io_error));
}

// Recovery writes the map and free lists; if that cannot be made durable, the LUN must not
// open: serving it would acknowledge writes on top of a state a power loss could undo.
constexpr const char* kRecoveryFlushFailed =
    "recovery could not make the map durable (flush failed): the medium needs attention";

}  // namespace

std::expected<std::unique_ptr<AtomicLayout>, std::string> AtomicLayout::open(
    Medium& medium, std::uint32_t block_size) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(medium.data());
  if (medium.size() < atomic::kHeaderSize) return std::unexpected("too small for a header");
  atomic::Decoded d = atomic::decode_header({bytes, atomic::kHeaderSize});
  switch (d.state) {
    case atomic::HeaderState::kValid:
      if (d.header.geometry.block_size != block_size)
        return std::unexpected("formatted with block size " +
                               std::to_string(d.header.geometry.block_size) +
                               ", but block size " + std::to_string(block_size) + " was asked for");
      if (d.header.geometry.medium_size != medium.size())
        return std::unexpected("formatted for " + std::to_string(d.header.geometry.medium_size) +
                               " bytes, but the backing store now has " +
                               std::to_string(medium.size()));
      break;
    case atomic::HeaderState::kBlank: {
      auto g = atomic::compute_geometry(medium.size(), block_size);
      if (!g) return std::unexpected(g.error());
      // Format only a store whose whole metadata area is zero (a new file, a zeroed device):
      // anything else may be a raw LUN's data, which must never be overwritten silently.
      // Holes are zero without reading them; the data extents are read up to a budget, so that
      // the open is bounded in time and memory whatever the size (zero_scan.h).
      auto scan = scan_zero(
          g->data_offset, kOpenScanBudget,
          [&medium](std::uint64_t off) { return medium.extent_at(off); },
          mapped_nonzero_finder(medium.data()));
      if (!scan) return std::unexpected("cannot check that the metadata area is blank: " +
                                        scan.error());
      switch (scan->verdict) {
        case ZeroScan::Verdict::kZero:
          break;
        case ZeroScan::Verdict::kNonZero:
          return std::unexpected(
              "no atomic-layout header, and the first " + std::to_string(g->data_offset) +
              " bytes are not zero (offset " + std::to_string(scan->offset) +
              "): refusing to format over existing data (zero it first, or use layout=raw)");
        case ZeroScan::Verdict::kOverBudget:
          return std::unexpected(
              "no atomic-layout header, and the metadata area (the first " +
              std::to_string(g->data_offset) + " bytes) holds more than " +
              std::to_string(kOpenScanBudget >> 20) +
              " MiB of allocated data (a devdax device, or a file written before): too much to "
              "check while opening a LUN. Format it once with 'tgtpmem-admin create PATH "
              "--layout atomic --block-size " + std::to_string(block_size) +
              "' (add --force to overwrite data), or use layout=raw");
      }
      d.header.geometry = *g;
      if (::getrandom(d.header.uuid.data(), d.header.uuid.size(), 0) !=
          static_cast<ssize_t>(d.header.uuid.size()))
        return std::unexpected("cannot read random bytes for the UUID");
      d.header.uuid[6] = static_cast<std::uint8_t>((d.header.uuid[6] & 0x0f) | 0x40);  // v4
      d.header.uuid[8] = static_cast<std::uint8_t>((d.header.uuid[8] & 0x3f) | 0x80);
      const auto image = atomic::encode_header(d.header);
      auto& f = medium.flusher();
      if (!f.copy_and_flush(medium.data(), image.data(), image.size()) || !f.drain())
        return std::unexpected("cannot write the header durably");
      break;
    }
    case atomic::HeaderState::kForeign:
      return std::unexpected(d.detail + ": refusing to format over existing data");
    case atomic::HeaderState::kCorrupt:
    case atomic::HeaderState::kNewerVersion:
      return std::unexpected(d.detail);
  }
  std::unique_ptr<AtomicLayout> l(new AtomicLayout(medium, d.header));
  if (auto r = l->recover(); !r) return std::unexpected(r.error());
  return l;
}

AtomicLayout::AtomicLayout(Medium& medium, const atomic::Header& header)
    : medium_(medium),
      media_(medium),
      header_(header),
      geometry_(header.geometry),
      lanes_(geometry_.lanes) {
  for (std::uint32_t l = 0; l < geometry_.lanes; ++l) idle_lanes_.push_back(l);
  live_lanes_ = geometry_.lanes;
}

std::byte* AtomicLayout::block(std::uint64_t pba) const noexcept {
  return medium_.data() + geometry_.data_offset + pba * geometry_.block_size;
}
std::uint64_t* AtomicLayout::map_entry(std::uint64_t lba) const noexcept {
  return reinterpret_cast<std::uint64_t*>(medium_.data() + geometry_.map_offset) + lba;
}
std::uint64_t* AtomicLayout::free_entry(std::uint32_t lane, std::uint32_t i) const noexcept {
  return reinterpret_cast<std::uint64_t*>(medium_.data() + geometry_.free_offset +
                                          lane * atomic::kFreePageSize) + i;
}
std::byte* AtomicLayout::log_slot(std::uint32_t lane) const noexcept {
  return medium_.data() + geometry_.log_offset + lane * atomic::kLogSlotSize;
}

std::uint64_t AtomicLayout::pba_of(std::uint64_t lba) const noexcept {
  // Aligned 8-byte loads and stores are single-copy atomic on x86-64; the map entry is the
  // unit of failure atomicity of the whole scheme.
  const std::uint64_t v = __atomic_load_n(map_entry(lba), __ATOMIC_ACQUIRE);
  return v == 0 ? lba : v - 1;
}

std::expected<void, std::string> AtomicLayout::recover() {
  auto& f = medium_.flusher();
  const std::uint64_t physical = geometry_.physical_blocks;
  for (std::uint32_t l = 0; l < geometry_.lanes; ++l) {
    const auto* slot = reinterpret_cast<const std::uint8_t*>(log_slot(l));
    std::uint64_t seq, checksum;
    std::uint32_t count;
    std::memcpy(&seq, slot, 8);
    std::memcpy(&count, slot + 8, 4);
    std::memcpy(&checksum, slot + 16, 8);
    const bool valid = seq != 0 && count >= 1 && count <= geometry_.max_atomic &&
                       checksum == atomic::log_checksum({slot, atomic::kLogSlotSize}, count);
    if (valid) {
      lanes_[l].seq = seq;
      bool redone = false;
      for (std::uint32_t i = 0; i < count; ++i) {
        LogEntry e;
        std::memcpy(&e, slot + atomic::kLogHeadSize + i * sizeof(LogEntry), sizeof e);
        if (e.lba >= geometry_.capacity || e.old_pba >= physical || e.new_pba >= physical)
          return std::unexpected("lane " + std::to_string(l) + " log entry is out of range");
        // Finish step 3: only where the map still holds the pre-transaction block (a later
        // transaction in another lane may have remapped the block since).
        if (pba_of(e.lba) == e.old_pba) {
          f.store_word(map_entry(e.lba), e.new_pba + 1);
          if (!f.flush(map_entry(e.lba), 8)) return std::unexpected(kRecoveryFlushFailed);
          redone = true;
        }
        if (*free_entry(l, i) != e.old_pba + 1) {
          f.store_word(free_entry(l, i), e.old_pba + 1);
          if (!f.flush(free_entry(l, i), 8)) return std::unexpected(kRecoveryFlushFailed);
          redone = true;
        }
      }
      lanes_recovered_ += redone ? 1 : 0;
    }
    auto& free = lanes_[l].free;
    free.resize(geometry_.max_atomic);
    for (std::uint32_t i = 0; i < geometry_.max_atomic; ++i) {
      const std::uint64_t v = *free_entry(l, i);
      free[i] = v == 0 ? geometry_.capacity + std::uint64_t{l} * geometry_.max_atomic + i : v - 1;
      if (free[i] >= physical) return std::unexpected("a free-list entry is out of range");
    }
  }
  if (!f.drain()) return std::unexpected(kRecoveryFlushFailed);
  return {};
}

std::optional<std::uint32_t> AtomicLayout::acquire_lane() {
  std::unique_lock lock(lanes_mu_);
  lanes_cv_.wait(lock, [&] { return !idle_lanes_.empty() || live_lanes_ == 0; });
  if (idle_lanes_.empty()) return std::nullopt;
  const std::uint32_t l = idle_lanes_.back();
  idle_lanes_.pop_back();
  return l;
}

void AtomicLayout::release_lane(std::uint32_t lane) {
  {
    std::lock_guard lock(lanes_mu_);
    idle_lanes_.push_back(lane);
  }
  lanes_cv_.notify_one();
}

void AtomicLayout::retire_lane(std::uint32_t) {
  {
    std::lock_guard lock(lanes_mu_);
    --live_lanes_;
  }
  lanes_cv_.notify_all();  // a waiter must not wait for a lane that never comes back
}

flush::Status AtomicLayout::transaction(std::uint64_t lba, std::uint32_t n, const std::byte* src,
                                        const std::uint64_t* expect_gen, bool* stale) noexcept {
  auto& f = medium_.flusher();
  const std::uint32_t bs = geometry_.block_size;
  const auto acquired = acquire_lane();
  if (!acquired) return corrupt_error();  // every lane retired after flush failures
  const std::uint32_t l = *acquired;
  // The lane goes back to the idle set unless a failure after the commit point's first store
  // retires it (below).
  bool retire = false;
  struct Release {
    AtomicLayout* self;
    std::uint32_t lane;
    const bool& retire;
    ~Release() {
      if (retire)
        self->retire_lane(lane);
      else
        self->release_lane(lane);
    }
  } release{this, l, retire};
  Lane& lane = lanes_[l];

  // 1. New data into this lane's free blocks: nobody maps or reads them.
  for (std::uint32_t i = 0; i < n; ++i)
    if (auto s = media_.store(block_offset(lane.free[i]), {src + std::uint64_t{i} * bs, bs}, true);
        !s)
      return s;  // nothing is committed: the write fails whole
  if (auto s = f.drain(); !s) return s;

  std::unique_lock commit(map_mu_);
  if (expect_gen && block_gen_[lba % kGenStripes] != *expect_gen) {
    // A read-modify-write of a partial block, and a write to that block committed since the
    // read: merge again with the new content rather than lose that write.
    *stale = true;
    return {};
  }
  // From the first store to the log slot on, a failure leaves the lane in a state only
  // recovery can judge: the log entry may or may not be durable, and the map and free list
  // may be half updated. The lane is retired until the medium is opened again (and the
  // flusher's latch fails every later durability claim anyway); its blocks are never reused,
  // so no two logical blocks can come to share one, whatever the medium kept.
  retire = true;
  // 2. The log entry: the commit point.
  std::byte* slot = log_slot(l);
  std::vector<std::uint64_t> old(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    old[i] = pba_of(lba + i);
    const LogEntry e{lba + i, old[i], lane.free[i]};
    f.copy(slot + atomic::kLogHeadSize + i * sizeof(LogEntry), &e, sizeof e);
  }
  const std::uint64_t seq = lane.seq + 1;
  std::uint8_t head[atomic::kLogHeadSize] = {};
  std::memcpy(head, &seq, 8);
  std::memcpy(head + 8, &n, 4);
  std::memcpy(head + 12, &l, 4);
  f.copy(slot, head, sizeof head);
  const std::uint64_t sum = atomic::log_checksum(
      {reinterpret_cast<const std::uint8_t*>(slot), atomic::kLogSlotSize}, n);
  f.copy(slot + 16, &sum, 8);
  if (auto s = f.persist(slot, atomic::kLogHeadSize + n * sizeof(LogEntry)); !s) return s;

  // 3. Map and free list. Recovery redoes this step from the log entry if it is cut short.
  for (std::uint32_t i = 0; i < n; ++i) {
    f.store_word(map_entry(lba + i), lane.free[i] + 1);
    f.store_word(free_entry(l, i), old[i] + 1);
    ++block_gen_[(lba + i) % kGenStripes];
  }
  if (auto s = f.flush(map_entry(lba), std::uint64_t{n} * 8); !s) return s;
  if (auto s = f.flush(free_entry(l, 0), std::uint64_t{n} * 8); !s) return s;
  if (auto s = f.drain(); !s) return s;
  for (std::uint32_t i = 0; i < n; ++i) lane.free[i] = old[i];
  lane.seq = seq;
  retire = false;
  return {};
}

flush::Status AtomicLayout::write_blocks(std::uint64_t offset,
                                         std::span<const std::byte> src) noexcept {
  const std::uint32_t bs = geometry_.block_size;
  std::uint64_t lba = offset / bs;
  const std::uint64_t whole = src.size() / bs;
  for (std::uint64_t done = 0; done < whole;) {
    const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(geometry_.max_atomic,
                                                                      whole - done));
    if (auto s = transaction(lba, n, src.data() + done * bs); !s) return s;
    lba += n;
    done += n;
  }
  if (const std::size_t tail = src.size() % bs; tail != 0) {
    // A Data-Out buffer ending inside a block: the rest of the block keeps its content. The
    // read and the commit must not let a concurrent write of that block slip in between.
    std::vector<std::byte> last(bs);
    for (;;) {
      std::uint64_t gen;
      {
        std::shared_lock lock(map_mu_);
        gen = block_gen_[lba % kGenStripes];
        const std::uint64_t pba = pba_of(lba);
        if (pba >= geometry_.physical_blocks) return corrupt_error();
        if (media_.read(block_offset(pba), last)) return corrupt_error();
      }
      std::memcpy(last.data(), src.data() + whole * bs, tail);
      bool stale = false;
      if (auto s = transaction(lba, 1, last.data(), &gen, &stale); !s || !stale) return s;
    }
  }
  return {};
}

flush::Status AtomicLayout::load(std::uint64_t offset, std::span<std::byte> dst) noexcept {
  const std::uint32_t bs = geometry_.block_size;
  std::shared_lock lock(map_mu_);
  for (std::uint64_t done = 0; done < dst.size();) {
    const std::uint64_t lba = (offset + done) / bs;
    const std::uint64_t in_block = (offset + done) % bs;
    const std::uint64_t n = std::min<std::uint64_t>(bs - in_block, dst.size() - done);
    const std::uint64_t pba = pba_of(lba);
    if (pba >= geometry_.physical_blocks) return corrupt_error();
    if (media_.read(block_offset(pba) + in_block, dst.subspan(done, n))) return corrupt_error();
    done += n;
  }
  return {};
}

std::optional<std::uint64_t> AtomicLayout::media_error_at(std::uint64_t offset,
                                                          std::uint64_t len,
                                                          bool write) const noexcept {
  // A failed write changed nothing: report where it starts. A failed read: the first logical
  // block whose physical block is bad.
  if (write) return offset;
  try {
    const std::uint32_t bs = geometry_.block_size;
    std::shared_lock lock(map_mu_);
    for (std::uint64_t lba = offset / bs; lba * bs < offset + len; ++lba)
      if (media_.bad_ranges().first_bad(block_offset(pba_of(lba)), bs))
        return std::max(offset, lba * bs);
  } catch (...) {
  }
  return std::nullopt;
}

flush::Status AtomicLayout::store(std::uint64_t offset, std::span<const std::byte> src,
                                  Sync) noexcept {
  return write_blocks(offset, src);
}

flush::Status AtomicLayout::store_atomic(std::uint64_t offset,
                                         std::span<const std::byte> src) noexcept {
  const std::uint32_t bs = geometry_.block_size;
  if (src.size() % bs != 0 || src.size() / bs > geometry_.max_atomic)
    return std::unexpected(std::make_error_code(std::errc::invalid_argument));
  if (src.empty()) return {};
  return transaction(offset / bs, static_cast<std::uint32_t>(src.size() / bs), src.data());
}

flush::Status AtomicLayout::store_repeated(std::uint64_t offset, std::uint64_t len,
                                           std::span<const std::byte> pattern, Sync) noexcept {
  const std::uint32_t bs = geometry_.block_size;
  const std::uint64_t chunk_blocks =
      std::min<std::uint64_t>(geometry_.max_atomic, std::max<std::uint64_t>(len / bs, 1));
  std::vector<std::byte> chunk(chunk_blocks * bs);
  for (std::uint64_t i = 0; i < chunk.size(); i += pattern.size())
    std::memcpy(chunk.data() + i, pattern.data(), std::min<std::uint64_t>(pattern.size(), chunk.size() - i));
  for (std::uint64_t done = 0; done < len;) {
    const std::uint64_t n = std::min<std::uint64_t>(chunk.size(), len - done);
    if (auto s = write_blocks(offset + done, {chunk.data(), n}); !s) return s;
    done += n;
  }
  return {};
}

flush::Status AtomicLayout::deallocate(std::uint64_t offset, std::uint64_t len,
                                       Sync sync) noexcept {
  // No thin provisioning on this layout (UNMAP is not offered); deallocation writes zeros.
  std::vector<std::byte> zero(geometry_.block_size);
  return store_repeated(offset, len, zero, sync);
}

flush::Status AtomicLayout::sync() noexcept {
  // Every acknowledged write is already durable; drain anything a caller flushed.
  return medium_.flusher().drain();
}

}  // namespace tgt_pmem::bs
