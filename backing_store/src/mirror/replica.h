// SPDX-License-Identifier: GPL-2.0-only
// The secondary copy of a mirrored LUN as the primary's write path sees it (issue 16): a
// place to write bytes at an offset of the secondary LUN and have them made durable there.
// The production implementation is a push-mode client driven from tgtd's event loop (RDMA
// WRITE, then RDMA FLUSH or COMMIT); tests use a fake that completes when they say so.
//
// Threading: called and completing on one thread (tgtd's event loop).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <system_error>

#include "mirror/generations.h"

namespace tgt_pmem::bs::mirror {

class Replica {
 public:
  // The outcome of one write: empty once the bytes are durable on the secondary, else why not.
  using Done = std::function<void(std::error_code)>;

  virtual ~Replica() = default;

  // Whether writes can be sent now (connected, and the secondary accepted this primary).
  [[nodiscard]] virtual bool available() const noexcept = 0;

  // Starts writing data at the secondary LUN's byte `offset` and making it durable there.
  // data must stay valid until done is called. Returns an error if the write could not be
  // started (done is then never called); otherwise done is called exactly once, later, never
  // from inside write().
  [[nodiscard]] virtual std::error_code write(std::uint64_t offset,
                                              std::span<const std::byte> data, Done done) = 0;

  // Records generations as the secondary's own (push mode's MIRROR_STATE with set), durable
  // there before done is called with no error. Started and completed as write().
  [[nodiscard]] virtual std::error_code record_generations(const Generations& g, Done done) = 0;
};

}  // namespace tgt_pmem::bs::mirror
