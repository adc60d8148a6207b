// SPDX-License-Identifier: GPL-2.0-only
// One SRP RDMA channel: a logged-in connection carrying SRP_CMD, SRP_TSK_MGMT and
// SRP_I_LOGOUT from one initiator port to one target port.
//
// Data path of a command (one slot each; slots == receives == credits granted):
//   RECV SRP_CMD -> [RDMA READ the descriptor table] -> [RDMA READ data-out | copy immediate
//   data] -> ScsiHost::queue_command -> tgt executes it (bs_pmem: durable before it
//   returns the status) -> command_done -> [RDMA WRITE data-in] -> SEND SRP_RSP -> slot free.
// The SRP_RSP is posted after the RDMA WRITEs on the same queue pair, so RC ordering puts the
// data in the initiator's memory before the response: WRITEs and SRP_RSP go as one chain
// (Connection::post_chain: one ibv_post_send), the WRITEs unsignalled, so a READ command
// costs one doorbell and one completion. A command's RDMA READs go as one chain too (each
// signalled: the command goes to tgt when the last one is in).
//
// Data buffers come from the channel's pool (buffer_pool.h: one registration, one chunk per
// credit); a command the pool cannot serve gets a buffer registered for it (the fallback),
// within the BufferBudget, else BUSY. A WRITE's response is only built once
// tgt reported the command done, so nothing is acknowledged before the backing store made
// it durable.
//
// Credits: the login grants one credit per posted receive; every SRP_RSP returns one, plus
// those of IUs that got no response (aborted commands). An initiator that sends more IUs than
// it has credits for finds no free slot: the channel is disconnected.
//
// Failure: a malformed SRP_CMD with a readable tag is answered with CHECK CONDITION; an IU
// that cannot be answered, a work completion error (e.g. a descriptor outside what the
// initiator registered: remote access error) or an I_LOGOUT disconnects the channel. A
// disconnected channel stays alive until tgt finished every command it was given (their
// buffers are tgt's until then); the Service then destroys it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "buffer_pool.h"
#include "iu.h"
#include "scsi_host.h"
#include "tgt_pmem/rdma/connection.h"
#include "tgt_pmem/rdma_host/runtime.h"

namespace tgt_pmem::srp {

struct Nexus;

struct ChannelConfig {
  std::uint32_t credits = 128;          // receives posted == slots == credits granted
  std::uint32_t max_it_iu_len = 8192;   // receive buffer size
  std::uint32_t max_ti_iu_len = 512;    // our SRP_RSP buffers
  std::uint32_t imm_data_offset = 0;    // 0: no immediate data
  std::uint64_t max_transfer = 16u << 20;  // largest data buffer of one command
  std::uint32_t send_depth = 512;       // send queue: SENDs + RDMA READs/WRITEs in flight
  std::uint32_t max_channels_per_nexus = 32;  // one initiator port's channels to one target
  // The data buffer pool: pool_chunks chunks of pool_chunk bytes (0: one per credit),
  // registered at start() and counted in the BufferBudget while the channel lives; smaller
  // (or none) when the budget cannot hold it (BufferBudget).
  std::uint32_t pool_chunk = 64u << 10;
  std::uint32_t pool_chunks = 0;
  bool trace = false;                   // log every IU, work request and completion
};

// The data buffers of every channel of a service, registered (pinned) while they exist: an
// admitted initiator sending 128 WRITEs of 16 MiB on each of 32 channels would otherwise make
// tgtd pin 64 GiB. A command whose buffer does not fit is answered BUSY (SAM), and the
// initiator retries it. Memory held for reuse - a channel's pool (its size at most half of
// max_per_channel, taken at login) and buffers of finished commands (up to 1 MiB each) -
// only while less than half of max_total is held, so that it never starves others: a
// channel that logs in beyond that gets a smaller pool, or none, and registers per command.
struct BufferBudget {
  std::uint64_t max_per_channel = 256ull << 20;
  std::uint64_t max_total = 2ull << 30;
  std::uint64_t total = 0;      // held now, by all channels (pools included)
  std::uint64_t busy = 0;       // commands answered BUSY for want of buffer
  std::uint64_t fallbacks = 0;  // commands the pool could not serve (a buffer of their own)
};

// A link of the SRP service's runtime (tgt_pmem/rdma_host/runtime.h); admitted from the start,
// since an SRP login is decided before the connection is accepted.
class Channel final : public rdma_host::Link {
 public:
  enum class State { kLive, kClosing, kDisconnected };

  Channel(std::unique_ptr<rdma::Connection> conn, ScsiHost& host, Nexus& nexus,
          const ChannelConfig& config, BufferBudget& budget);
  ~Channel() override;

  // Registers the buffers and posts every receive. Errors: the registration/post failure;
  // the caller disconnects.
  [[nodiscard]] rdma::Status start();

  // The completion fd became readable (or, in tests, completions may be waiting): handles at
  // most `budget` completions; kYield if more may be waiting (resume() then carries on).
  rdma_host::Turn on_completions(std::size_t budget) override;
  rdma_host::Turn resume(std::size_t budget) override;
  [[nodiscard]] bool admitted() const noexcept override { return true; }
  // Reported by tgt (through the Service).
  void command_done(void* slot, int status, std::span<const std::uint8_t> sense,
                    std::int32_t in_resid, std::int32_t out_resid);
  void tmf_done(void* slot, int result);

  // Starts an orderly disconnect (target deleted, newer single-channel login, shutdown).
  void close(const std::string& why) override;
  // The RDMA CM reported the connection gone.
  void on_disconnected();

  // True once disconnected and tgt holds nothing of ours: the Service may destroy it.
  [[nodiscard]] bool finished() const noexcept override;
  [[nodiscard]] State state() const noexcept { return state_; }
  [[nodiscard]] Nexus& nexus() const noexcept { return nexus_; }
  [[nodiscard]] rdma::Connection& connection() const noexcept override { return *conn_; }
  [[nodiscard]] std::uint32_t in_tgt() const noexcept { return in_tgt_; }
  [[nodiscard]] const BufferPool& pool() const noexcept { return pool_; }
  [[nodiscard]] std::uint32_t send_in_flight() const noexcept { return send_in_flight_; }

  struct Slot;  // one command or task management function in flight
  // The channel a command_done/tmf_done cookie belongs to.
  [[nodiscard]] static Channel& of(void* cookie) noexcept;

 private:
  struct Buffer;
  struct Work;
  struct PendingWork;

  void handle_iu(std::uint32_t recv_index, std::uint32_t len);
  void handle_command(std::span<const std::byte> iu);
  void handle_tmf(std::span<const std::byte> iu);
  void fail_command(Slot& slot, std::uint8_t sense_key, std::uint8_t asc, std::uint8_t ascq);
  void start_data_out(Slot& slot);
  void submit_to_tgt(Slot& slot);
  // Posts the SRP_RSP, after the requests of chain (the data-in WRITEs) in one chain.
  void send_response(Slot& slot, const Response& rsp, PendingWork chain);
  void send_response(Slot& slot, const Response& rsp);
  void on_work_done(const rdma::Completion& wc);
  void post_recv(std::uint32_t index);
  void post(PendingWork chain);
  void drain_pending();
  void fatal(const std::string& why);
  void trace(const std::string& what);
  Slot* take_slot();
  void release_slot(Slot& slot);
  [[nodiscard]] bool ensure_data_buffer(Slot& slot, std::uint64_t len);
  void drop_data(Slot& slot);  // frees its own data buffer, gives the budget its bytes back
  void start_pool();            // the pool, as large as config and budget allow

  // Members in creation order; they are destroyed in reverse: every MemoryRegion before
  // the connection that registered it.
  std::unique_ptr<rdma::Connection> conn_;
  ScsiHost& host_;
  Nexus& nexus_;
  ChannelConfig config_;
  BufferBudget& budget_;
  std::uint64_t held_ = 0;  // bytes of this channel's data buffers (the pool included)
  State state_ = State::kLive;
  BufferPool pool_;
  std::vector<std::byte> recv_mem_;
  std::unique_ptr<rdma::MemoryRegion> recv_mr_;
  std::vector<std::byte> rsp_mem_;
  std::unique_ptr<rdma::MemoryRegion> rsp_mr_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> free_slots_;
  std::deque<PendingWork> pending_;  // chains waiting for room in the send queue (FIFO)
  std::vector<rdma::SendWork> chain_;  // drain_pending builds a post_chain here (reused)
  // Send-queue slots taken, unsignalled requests included (they come back with the
  // completion of the SRP_RSP chained after them).
  std::uint32_t send_in_flight_ = 0;
  std::uint32_t in_tgt_ = 0;         // commands and TMFs tgt has not finished
  std::int32_t unreturned_credits_ = 0;  // credits to add to the next SRP_RSP
};

}  // namespace tgt_pmem::srp
