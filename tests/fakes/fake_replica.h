// SPDX-License-Identifier: GPL-2.0-only
// A secondary copy in memory for the mirror's write path (backing_store/src/mirror/replica.h):
// writes wait until the test completes them, in any order, with success (the bytes land) or an
// error (the bytes land or not, as the test says: an RDMA WRITE may have reached the peer's
// memory before the connection failed).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <vector>

#include "mirror/replica.h"

namespace tgt_pmem::testing {

class FakeReplica final : public bs::mirror::Replica {
 public:
  explicit FakeReplica(std::size_t size) : bytes(size) {}

  bool available() const noexcept override { return up; }
  std::error_code write(std::uint64_t offset, std::span<const std::byte> data,
                        Done done) override {
    ++writes;
    if (refuse) return refuse;
    pending.push_back({offset, data, std::move(done)});
    return {};
  }

  std::error_code record_generations(const bs::mirror::Generations& g, Done done) override {
    if (refuse) return refuse;
    records.push_back({g, std::move(done)});
    return {};
  }
  // Completes the oldest pending record_generations: the secondary then has them.
  void complete_record(std::error_code ec = {}) {
    Record r = std::move(records.front());
    records.erase(records.begin());
    if (!ec) generations = r.generations;
    r.done(ec);
  }

  // Completes the i-th pending write (in the order they were posted).
  void complete(std::size_t i, std::error_code ec = {}, bool lands = true) {
    Pending p = std::move(pending.at(i));
    pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
    if (!ec || lands) std::memcpy(bytes.data() + p.offset, p.data.data(), p.data.size());
    p.done(ec);
  }
  void complete_all(std::error_code ec = {}) {
    while (!pending.empty()) complete(0, ec);
  }

  struct Pending {
    std::uint64_t offset;
    std::span<const std::byte> data;
    Done done;
  };
  struct Record {
    bs::mirror::Generations generations;
    Done done;
  };
  std::vector<std::byte> bytes;   // the secondary LUN
  std::vector<Record> records;
  bs::mirror::Generations generations;  // what the secondary has recorded
  std::vector<Pending> pending;
  bool up = true;
  std::error_code refuse;         // write() fails to start with this
  std::size_t writes = 0;         // write() calls
};

}  // namespace tgt_pmem::testing
