// SPDX-License-Identifier: GPL-2.0-only
#include "channel.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "nexus.h"

namespace tgt_pmem::srp {
namespace {

// wr_id: kind in the top 8 bits, slot or receive index in the next 24, a part number below.
enum class Kind : std::uint8_t { kRecv = 1, kTableRead, kDataRead, kDataWrite, kSend };
constexpr std::uint64_t make_wr_id(Kind kind, std::uint32_t index, std::uint32_t part = 0) {
  return (std::uint64_t{static_cast<std::uint8_t>(kind)} << 56) |
         (std::uint64_t{index & 0xffffffu} << 32) | part;
}
constexpr Kind wr_kind(std::uint64_t wr_id) { return static_cast<Kind>(wr_id >> 56); }
constexpr std::uint32_t wr_index(std::uint64_t wr_id) {
  return static_cast<std::uint32_t>((wr_id >> 32) & 0xffffffu);
}

// SCSI sense: fixed format, current error (SPC-4 4.5.3).
constexpr std::size_t kSenseLen = 18;
void fixed_sense(std::uint8_t (&s)[kSenseLen], std::uint8_t key, std::uint8_t asc,
                 std::uint8_t ascq) {
  std::memset(s, 0, sizeof(s));
  s[0] = 0x70;
  s[2] = key;
  s[7] = kSenseLen - 8;
  s[12] = asc;
  s[13] = ascq;
}
constexpr std::uint8_t kCheckCondition = 0x02;
constexpr std::uint8_t kBusy = 0x08;
constexpr std::uint8_t kIllegalRequest = 0x05;
constexpr std::uint8_t kAbortedCommand = 0x0b;

// SRP_RSP response codes for task management (T10 SRP r16a table 24).
constexpr std::uint8_t kTmfComplete = 0x00;
constexpr std::uint8_t kTmfNotSupported = 0x04;
constexpr std::uint8_t kTmfFailed = 0x05;

std::uint64_t sum_lengths(const std::vector<Descriptor>& d) {
  std::uint64_t total = 0;
  for (const auto& x : d) total += x.len;
  return total;
}

}  // namespace

// Registered memory owned by a slot: the descriptor table buffer, and the fallback data
// buffer of a command the pool could not serve (kept for reuse up to 1 MiB, see release_slot).
struct Channel::Buffer {
  std::byte* data = nullptr;
  std::size_t capacity = 0;
  std::unique_ptr<rdma::MemoryRegion> mr;

  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }
  void reset() {
    mr.reset();  // deregister before the memory goes
    std::free(data);
    data = nullptr;
    capacity = 0;
  }
};

struct Channel::Slot {
  enum class Phase { kFree, kTableRead, kDataRead, kInTgt, kResponding, kTmf };
  Channel* channel = nullptr;
  std::uint32_t index = 0;
  Phase phase = Phase::kFree;
  bool is_tmf = false;
  std::uint64_t tag = 0;
  std::array<std::uint8_t, 8> lun{};
  std::vector<std::uint8_t> cdb;
  TaskAttribute attr = TaskAttribute::kSimple;
  std::vector<Descriptor> out_desc, in_desc;
  bool out_table_pending = false, in_table_pending = false;
  Descriptor out_table{}, in_table{};
  std::uint64_t out_len = 0, in_len = 0;
  std::uint32_t reads_outstanding = 0;
  std::uint32_t sq_unsignalled = 0;  // unsignalled RDMA WRITEs of its response chain
  bool rdma_failed = false;
  // The data buffer: data-out, then data-in (a command has one direction in practice; BIDI
  // uses the first out_len bytes for data-out and the rest for data-in). From the pool
  // (lease), else the slot's own registration (data).
  std::byte* buf = nullptr;
  std::uint32_t buf_lkey = 0;
  BufferPool::Lease lease;
  Buffer data;
  Buffer table;  // indirect descriptor tables fetched with RDMA READ
  std::byte* rsp = nullptr;  // this slot's SRP_RSP buffer (inside rsp_mem_)
};

struct Channel::Work {
  rdma::WorkType type = rdma::WorkType::kSend;
  std::uint64_t wr_id = 0;
  rdma::LocalBuffer local{};
  rdma::RemoteBuffer remote{};
  bool signaled = true;
};

// Work requests posted together with one post_chain.
struct Channel::PendingWork {
  std::vector<Work> wrs;
};

Channel& Channel::of(void* cookie) noexcept { return *static_cast<Slot*>(cookie)->channel; }

Channel::Channel(std::unique_ptr<rdma::Connection> conn, ScsiHost& host, Nexus& nexus,
                 const ChannelConfig& config, BufferBudget& budget)
    : conn_(std::move(conn)), host_(host), nexus_(nexus), config_(config), budget_(budget) {
  conn_->user = this;
  ++nexus_.channels;
}

Channel::~Channel() {
  // Slots (and their registrations) go before recv/rsp registrations, all before conn_.
  for (auto& s : slots_) drop_data(*s);
  slots_.clear();
  held_ -= pool_.bytes();
  budget_.total -= pool_.bytes();
  pool_.reset();
  rsp_mr_.reset();
  recv_mr_.reset();
  --nexus_.channels;
}

rdma::Status Channel::start() {
  recv_mem_.resize(std::size_t{config_.credits} * config_.max_it_iu_len);
  rsp_mem_.resize(std::size_t{config_.credits} * config_.max_ti_iu_len);
  auto r = conn_->register_memory(recv_mem_.data(), recv_mem_.size(), rdma::kLocalWrite);
  if (!r) return std::unexpected(r.error());
  recv_mr_ = std::move(*r);
  auto s = conn_->register_memory(rsp_mem_.data(), rsp_mem_.size(), 0);
  if (!s) return std::unexpected(s.error());
  rsp_mr_ = std::move(*s);
  slots_.reserve(config_.credits);
  for (std::uint32_t i = 0; i < config_.credits; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->channel = this;
    slot->index = i;
    slot->rsp = rsp_mem_.data() + std::size_t{i} * config_.max_ti_iu_len;
    free_slots_.push_back(slot.get());
    slots_.push_back(std::move(slot));
  }
  std::reverse(free_slots_.begin(), free_slots_.end());
  start_pool();
  for (std::uint32_t i = 0; i < config_.credits; ++i) {
    rdma::LocalBuffer buf{recv_mem_.data() + std::size_t{i} * config_.max_it_iu_len,
                          config_.max_it_iu_len, recv_mr_->lkey()};
    if (auto p = conn_->post_recv(make_wr_id(Kind::kRecv, i), buf); !p) return p;
  }
  return {};
}

void Channel::start_pool() {
  const std::uint64_t chunk = config_.pool_chunk;
  if (chunk == 0) return;
  std::uint64_t bytes = std::uint64_t{config_.pool_chunks != 0 ? config_.pool_chunks
                                                                : config_.credits} * chunk;
  // Held for the channel's life, like kept buffers: at most half of what the channel may
  // hold, and only while the service holds less than half its budget (BufferBudget).
  bytes = std::min(bytes, budget_.max_per_channel / 2);
  const std::uint64_t half_total = budget_.max_total / 2;
  bytes = std::min(bytes, half_total > budget_.total ? half_total - budget_.total : 0);
  const auto chunks = static_cast<std::uint32_t>(bytes / chunk);
  if (chunks == 0) return;  // every command registers its own buffer (the fallback)
  if (auto p = pool_.init(*conn_, chunk, chunks); !p) {
    host_.log(true, "srp: channel " + std::to_string(id()) + ": no data buffer pool (" +
                        p.error().message() + "): buffers are registered per command");
    return;
  }
  held_ += pool_.bytes();
  budget_.total += pool_.bytes();
}

bool Channel::finished() const noexcept {
  // A peer found gone by a liveness probe sends no DREP: RDMA CM's DISCONNECTED would come
  // only after its DREQ retries, and with it the channel's buffers.
  return (state_ == State::kDisconnected || peer_gone()) && in_tgt_ == 0;
}

void Channel::close(const std::string& why) {
  if (state_ == State::kLive) {
    host_.log(false, "srp: channel " + std::to_string(id()) + " from " +
                         conn_->peer_address() + ": closing: " + why);
    state_ = State::kClosing;
  }
  conn_->disconnect();
}

void Channel::fatal(const std::string& why) {
  if (state_ == State::kLive) {
    host_.log(true, "srp: channel " + std::to_string(id()) + " from " +
                        conn_->peer_address() + ": " + why + "; disconnecting");
    state_ = State::kClosing;
  }
  pending_.clear();
  conn_->disconnect();
}

void Channel::trace(const std::string& what) {
  if (config_.trace) host_.log(false, "srp: channel " + std::to_string(id()) + ": " + what);
}

void Channel::on_disconnected() {
  state_ = State::kDisconnected;
  pending_.clear();
}

rdma_host::Turn Channel::on_completions(std::size_t budget) {
  if (auto a = conn_->arm(); !a) {
    fatal("cannot re-arm the completion queue: " + a.error().message());
  }
  return resume(budget);
}

// At most `budget` completions, then the loop's other events: an initiator that keeps the
// queue full (128 credits of tiny commands, completed at once) must not keep tgtd here.
rdma_host::Turn Channel::resume(std::size_t budget) {
  rdma::Completion wcs[32];
  for (std::size_t taken = 0; taken < budget;) {
    const std::size_t batch = std::min<std::size_t>(std::size(wcs), budget - taken);
    auto n = conn_->poll(std::span(wcs, batch));
    if (!n) {
      fatal("polling the completion queue failed: " + n.error().message());
      return rdma_host::Turn::kIdle;
    }
    taken += *n;
    for (std::size_t i = 0; i < *n; ++i) {
      if (runtime_completion(wcs[i])) continue;  // a liveness probe of the runtime's
      on_work_done(wcs[i]);
    }
    if (*n < batch) return rdma_host::Turn::kIdle;  // drained for now
  }
  return rdma_host::Turn::kYield;
}

Channel::Slot* Channel::take_slot() {
  if (free_slots_.empty()) return nullptr;
  Slot* s = free_slots_.back();
  free_slots_.pop_back();
  return s;
}

void Channel::release_slot(Slot& slot) {
  slot.phase = Slot::Phase::kFree;
  slot.is_tmf = false;
  slot.cdb.clear();
  slot.out_desc.clear();
  slot.in_desc.clear();
  slot.reads_outstanding = 0;
  slot.sq_unsignalled = 0;
  slot.rdma_failed = false;
  pool_.give(slot.lease);
  slot.buf = nullptr;
  slot.buf_lkey = 0;
  // The fallback's large buffers are not kept: a burst of 16 MiB commands must not pin memory forever; nor
  // any while the service holds half its budget (BufferBudget).
  if (slot.data.capacity > (1u << 20) || budget_.total > budget_.max_total / 2) drop_data(slot);
  free_slots_.push_back(&slot);
}

void Channel::drop_data(Slot& slot) {
  held_ -= slot.data.capacity;
  budget_.total -= slot.data.capacity;
  slot.data.reset();
}

bool Channel::ensure_data_buffer(Slot& slot, std::uint64_t len) {
  if (len == 0) return true;
  // The pool first: nothing to allocate or register.
  slot.lease = pool_.take(len);
  if (slot.lease) {
    slot.buf = slot.lease.data;
    slot.buf_lkey = slot.lease.lkey;
    return true;
  }
  // The fallback, for a command larger than the pool or when no run of free chunks is long
  // enough: a buffer of the slot's own, registered for it (kept for reuse up to 1 MiB, see
  // release_slot), within the budget.
  ++budget_.fallbacks;
  if (len <= slot.data.capacity) {
    slot.buf = slot.data.data;
    slot.buf_lkey = slot.data.mr->lkey();
    return true;
  }
  std::size_t cap = 64 * 1024;
  while (cap < len) cap *= 2;
  drop_data(slot);
  const auto fits = [&] {
    return held_ + cap <= budget_.max_per_channel && budget_.total + cap <= budget_.max_total;
  };
  if (!fits()) {
    // The buffers this channel keeps for reuse go first.
    for (Slot* idle : free_slots_) drop_data(*idle);
    if (!fits()) {
      ++budget_.busy;
      return false;
    }
  }
  void* p = std::aligned_alloc(4096, cap);
  if (p == nullptr) return false;
  slot.data.data = static_cast<std::byte*>(p);
  slot.data.capacity = cap;
  held_ += cap;
  budget_.total += cap;
  auto mr = conn_->register_memory(p, cap, rdma::kLocalWrite);
  if (!mr) {
    drop_data(slot);
    return false;
  }
  slot.data.mr = std::move(*mr);
  slot.buf = slot.data.data;
  slot.buf_lkey = slot.data.mr->lkey();
  return true;
}

void Channel::post_recv(std::uint32_t index) {
  if (state_ != State::kLive) return;
  rdma::LocalBuffer buf{recv_mem_.data() + std::size_t{index} * config_.max_it_iu_len,
                        config_.max_it_iu_len, recv_mr_->lkey()};
  if (auto p = conn_->post_recv(make_wr_id(Kind::kRecv, index), buf); !p) {
    fatal("cannot post a receive: " + p.error().message());
  }
}

void Channel::post(PendingWork chain) {
  if (state_ != State::kLive || chain.wrs.empty()) return;
  pending_.push_back(std::move(chain));
  drain_pending();
}

// Chains in order, each as one post_chain when the send queue has room for all of it (a
// chain is at most kMaxDescriptors + 1 requests: the data-in WRITEs and the SRP_RSP).
void Channel::drain_pending() {
  while (!pending_.empty() && state_ == State::kLive) {
    const std::vector<Work>& wrs = pending_.front().wrs;
    if (wrs.size() > config_.send_depth) {  // would wait for ever (a configuration error)
      fatal("a chain of " + std::to_string(wrs.size()) + " work requests exceeds the send queue");
      return;
    }
    if (send_in_flight_ + wrs.size() > config_.send_depth) return;  // room comes back later
    chain_.clear();
    for (const Work& w : wrs) {
      rdma::SendWork sw;
      sw.wr_id = w.wr_id;
      sw.type = w.type;
      sw.local = std::span(&w.local, 1);
      sw.remote = w.remote;
      sw.signaled = w.signaled;
      chain_.push_back(sw);
    }
    if (auto s = conn_->post_chain(chain_); !s) {
      if (s.error() == std::errc::not_enough_memory && send_in_flight_ > 0) return;  // full
      fatal("posting to the send queue failed: " + s.error().message());
      return;
    }
    if (config_.trace) {
      for (const Work& w : wrs)
        trace("posted " + std::to_string(static_cast<int>(w.type)) + " wr " +
              std::to_string(w.wr_id >> 56) + "/" + std::to_string(wr_index(w.wr_id)) +
              " len " + std::to_string(w.local.length) + " remote " +
              std::to_string(w.remote.addr) + "/" + std::to_string(w.remote.rkey) + "/" +
              std::to_string(w.remote.length) + (w.signaled ? "" : " unsignalled") +
              (wrs.size() > 1 ? " chain of " + std::to_string(wrs.size()) : ""));
    }
    send_in_flight_ += static_cast<std::uint32_t>(wrs.size());
    pending_.pop_front();
  }
}

void Channel::on_work_done(const rdma::Completion& wc) {
  const Kind kind = wr_kind(wc.wr_id);
  const std::uint32_t index = wr_index(wc.wr_id);
  if (config_.trace) {
    trace("completion kind " + std::to_string(static_cast<int>(kind)) + " index " +
          std::to_string(index) + (wc.ok ? " ok" : " FAILED ") +
          (wc.ok ? "" : std::to_string(wc.vendor_status)) + " len " + std::to_string(wc.byte_len));
  }
  if (kind == Kind::kRecv) {
    if (!wc.ok) {
      // Flush errors after a disconnect are expected; anything else ends the channel.
      fatal("receive failed (status " + std::to_string(wc.vendor_status) + ")");
      return;
    }
    if (index >= config_.credits) {
      fatal("completion for an unknown receive");
      return;
    }
    handle_iu(index, wc.byte_len);
    return;
  }
  if (index >= slots_.size()) {
    fatal("completion for an unknown slot");
    return;
  }
  Slot& slot = *slots_[index];
  // Send-queue slots back: this request's, and with an SRP_RSP those of the unsignalled
  // RDMA WRITEs chained before it that reported nothing (a WRITE reports only a failure).
  std::uint32_t freed = 1;
  if (kind == Kind::kSend) {
    freed += std::exchange(slot.sq_unsignalled, 0);
  } else if (kind == Kind::kDataWrite && slot.sq_unsignalled > 0) {
    --slot.sq_unsignalled;
  }
  send_in_flight_ -= std::min(freed, send_in_flight_);
  if (!wc.ok) {
    // E.g. a descriptor outside what the initiator registered: remote access error. The
    // queue pair is now in the error state; nothing more can be exchanged on it.
    slot.rdma_failed = true;
    fatal("RDMA work request failed for tag " + std::to_string(slot.tag) + " (status " +
          std::to_string(wc.vendor_status) + ")");
    return;
  }
  switch (kind) {
    case Kind::kTableRead:
      if (--slot.reads_outstanding == 0) {
        std::size_t off = 0;
        if (slot.out_table_pending) {
          auto t = parse_descriptor_table(
              std::span<const std::byte>(slot.table.data, slot.out_table.len));
          off = slot.out_table.len;
          if (!t || sum_lengths(*t) != slot.out_len) {
            fail_command(slot, kIllegalRequest, 0x0e, 0x03);
            break;
          }
          slot.out_desc = std::move(*t);
        }
        if (slot.in_table_pending) {
          auto t = parse_descriptor_table(
              std::span<const std::byte>(slot.table.data + off, slot.in_table.len));
          if (!t || sum_lengths(*t) != slot.in_len) {
            fail_command(slot, kIllegalRequest, 0x0e, 0x03);
            break;
          }
          slot.in_desc = std::move(*t);
        }
        start_data_out(slot);
      }
      break;
    case Kind::kDataRead:
      if (--slot.reads_outstanding == 0) submit_to_tgt(slot);
      break;
    case Kind::kDataWrite:
      break;  // signalled only if it failed; the SRP_RSP chained after it completes the slot
    case Kind::kSend:
      release_slot(slot);
      break;
    case Kind::kRecv:
      break;
  }
  drain_pending();
}

void Channel::handle_iu(std::uint32_t recv_index, std::uint32_t len) {
  std::span<const std::byte> iu(recv_mem_.data() + std::size_t{recv_index} * config_.max_it_iu_len,
                                std::min(len, config_.max_it_iu_len));
  auto type = iu_type(iu);
  if (!type) {
    fatal(iu.empty() ? std::string("empty information unit")
                     : "information unit of unknown type " +
                           std::to_string(std::to_integer<unsigned>(iu[0])));
    return;
  }
  // Everything needed from the IU is copied into the slot, so the receive is reposted at
  // once; the credit it stands for returns with the response.
  switch (*type) {
    case IuType::kCmd:
      handle_command(iu);
      break;
    case IuType::kTskMgmt:
      handle_tmf(iu);
      break;
    case IuType::kILogout:
      close("initiator logged out");
      return;
    case IuType::kCredRsp:
    case IuType::kAerRsp:
      break;  // answers to requests we never send: ignored
    default:
      fatal("unexpected information unit type " +
            std::to_string(static_cast<unsigned>(*type)));
      return;
  }
  post_recv(recv_index);
}

void Channel::fail_command(Slot& slot, std::uint8_t key, std::uint8_t asc, std::uint8_t ascq) {
  std::uint8_t sense[kSenseLen];
  fixed_sense(sense, key, asc, ascq);
  Response rsp;
  rsp.tag = slot.tag;
  rsp.status = kCheckCondition;
  rsp.sense = sense;
  rsp.data_out_residual = static_cast<std::int64_t>(slot.out_len);
  rsp.data_in_residual = static_cast<std::int64_t>(slot.in_len);
  send_response(slot, rsp);
}

void Channel::handle_command(std::span<const std::byte> iu) {
  Slot* slot = take_slot();
  if (slot == nullptr) {
    fatal("initiator exceeded its request limit of " + std::to_string(config_.credits));
    return;
  }
  auto cmd = parse_command(iu, config_.imm_data_offset);
  if (!cmd) {
    // Answerable if the tag is there (SRP_CMD: TAG at bytes 8..15).
    if (iu.size() < 16) {
      release_slot(*slot);
      fatal(std::string("unreadable SRP_CMD: ") + std::string(to_string(cmd.error())));
      return;
    }
    slot->tag = 0;
    for (int i = 8; i < 16; ++i) slot->tag = (slot->tag << 8) | std::to_integer<std::uint8_t>(iu[i]);
    slot->out_len = slot->in_len = 0;
    // INVALID FIELD IN COMMAND INFORMATION UNIT (SPC-4: 0x0E/0x03).
    fail_command(*slot, kIllegalRequest, 0x0e, 0x03);
    return;
  }
  if (config_.trace) {
    trace("SRP_CMD tag " + std::to_string(cmd->tag) + " op " + std::to_string(cmd->cdb[0]) +
          " fmt " + std::to_string(static_cast<int>(cmd->data_out_format)) + "/" +
          std::to_string(static_cast<int>(cmd->data_in_format)) + " out " +
          std::to_string(cmd->data_out_length) + " in " + std::to_string(cmd->data_in_length) +
          " desc " + std::to_string(cmd->data_out.size()) + "/" +
          std::to_string(cmd->data_in.size()) + " tables in IU " +
          std::to_string(cmd->data_out_table_in_iu) + std::to_string(cmd->data_in_table_in_iu) +
          " imm " + std::to_string(cmd->immediate_data.size()));
  }
  slot->tag = cmd->tag;
  slot->lun = cmd->lun;
  slot->attr = cmd->task_attr;
  slot->cdb.assign(cmd->cdb.begin(), cmd->cdb.end());
  slot->out_len = cmd->data_out_length;
  slot->in_len = cmd->data_in_length;
  slot->out_desc = std::move(cmd->data_out);
  slot->in_desc = std::move(cmd->data_in);
  slot->out_table_pending = cmd->data_out_format == BufferFormat::kIndirect &&
                            !cmd->data_out_table_in_iu;
  slot->in_table_pending = cmd->data_in_format == BufferFormat::kIndirect &&
                           !cmd->data_in_table_in_iu;
  slot->out_table = cmd->data_out_table;
  slot->in_table = cmd->data_in_table;

  if (slot->out_len + slot->in_len > config_.max_transfer) {
    fail_command(*slot, kIllegalRequest, 0x0e, 0x03);
    return;
  }
  if (!ensure_data_buffer(*slot, slot->out_len + slot->in_len)) {
    // Out of memory, or over the buffer budget, for this command: the initiator may retry
    // (SAM BUSY).
    Response rsp;
    rsp.tag = slot->tag;
    rsp.status = kBusy;
    send_response(*slot, rsp);
    return;
  }
  if (cmd->data_out_format == BufferFormat::kImmediate) {
    if (cmd->immediate_data.size() != slot->out_len) {
      fail_command(*slot, kIllegalRequest, 0x0e, 0x03);
      return;
    }
    std::memcpy(slot->buf, cmd->immediate_data.data(), cmd->immediate_data.size());
    slot->out_desc.clear();
  }
  if (slot->out_table_pending || slot->in_table_pending) {
    const std::uint64_t table_len = (slot->out_table_pending ? slot->out_table.len : 0) +
                                    (slot->in_table_pending ? slot->in_table.len : 0);
    if (table_len > kMaxDescriptors * 16 * 2 || table_len % 16 != 0) {
      fail_command(*slot, kIllegalRequest, 0x0e, 0x03);
      return;
    }
    if (slot->table.capacity < table_len) {
      slot->table.reset();
      void* p = std::aligned_alloc(64, 2 * kMaxDescriptors * 16);
      if (p == nullptr) {
        fail_command(*slot, kAbortedCommand, 0, 0);
        return;
      }
      slot->table.data = static_cast<std::byte*>(p);
      slot->table.capacity = 2 * kMaxDescriptors * 16;
      auto mr = conn_->register_memory(p, slot->table.capacity, rdma::kLocalWrite);
      if (!mr) {
        slot->table.reset();
        fail_command(*slot, kAbortedCommand, 0, 0);
        return;
      }
      slot->table.mr = std::move(*mr);
    }
    slot->phase = Slot::Phase::kTableRead;
    std::uint32_t off = 0;
    PendingWork reads;
    for (const Descriptor* t : {slot->out_table_pending ? &slot->out_table : nullptr,
                                slot->in_table_pending ? &slot->in_table : nullptr}) {
      if (t == nullptr) continue;
      ++slot->reads_outstanding;
      reads.wrs.push_back({rdma::WorkType::kRdmaRead, make_wr_id(Kind::kTableRead, slot->index, off),
                           {slot->table.data + off, t->len, slot->table.mr->lkey()},
                           {t->va, t->key, t->len}});
      off += t->len;
    }
    post(std::move(reads));
    return;
  }
  start_data_out(*slot);
}

void Channel::start_data_out(Slot& slot) {
  if (sum_lengths(slot.out_desc) > slot.out_len || sum_lengths(slot.in_desc) > slot.in_len) {
    fail_command(slot, kIllegalRequest, 0x0e, 0x03);
    return;
  }
  if (slot.out_desc.empty()) {
    submit_to_tgt(slot);
    return;
  }
  slot.phase = Slot::Phase::kDataRead;
  std::uint64_t off = 0;
  std::uint32_t part = 0;
  PendingWork reads;  // one chain, each READ signalled: the last one in sends it to tgt
  for (const Descriptor& d : slot.out_desc) {
    if (d.len == 0) continue;
    ++slot.reads_outstanding;
    reads.wrs.push_back({rdma::WorkType::kRdmaRead, make_wr_id(Kind::kDataRead, slot.index, part++),
                         {slot.buf + off, d.len, slot.buf_lkey},
                         {d.va, d.key, d.len}});
    off += d.len;
  }
  if (slot.reads_outstanding == 0) {
    submit_to_tgt(slot);
    return;
  }
  post(std::move(reads));
}

void Channel::submit_to_tgt(Slot& slot) {
  if (state_ != State::kLive) {
    release_slot(slot);
    return;
  }
  tgtpmem_srp_command cmd{};
  cmd.cookie = &slot;
  cmd.tid = nexus_.tid;
  cmd.itn_id = nexus_.itn_id;
  cmd.tag = slot.tag;
  cmd.lun = slot.lun.data();
  cmd.cdb = slot.cdb.data();
  cmd.cdb_len = static_cast<std::uint32_t>(slot.cdb.size());
  cmd.task_attr = static_cast<int>(slot.attr);
  cmd.out_buf = slot.out_len ? slot.buf : nullptr;
  cmd.out_len = static_cast<std::uint32_t>(slot.out_len);
  cmd.in_buf = slot.in_len ? slot.buf + slot.out_len : nullptr;
  cmd.in_len = static_cast<std::uint32_t>(slot.in_len);
  slot.phase = Slot::Phase::kInTgt;
  ++in_tgt_;
  // May complete (command_done) before it returns.
  if (int rc = host_.queue_command(cmd); rc < 0) {
    --in_tgt_;
    Response rsp;
    rsp.tag = slot.tag;
    rsp.status = kBusy;
    rsp.data_out_residual = static_cast<std::int64_t>(slot.out_len);
    rsp.data_in_residual = static_cast<std::int64_t>(slot.in_len);
    send_response(slot, rsp);
  }
}

void Channel::command_done(void* cookie, int status, std::span<const std::uint8_t> sense,
                           std::int32_t in_resid, std::int32_t out_resid) {
  Slot& slot = *static_cast<Slot*>(cookie);
  if (in_tgt_ > 0) --in_tgt_;
  if (state_ != State::kLive) {
    release_slot(slot);
    return;
  }
  if (status < 0) {
    // Aborted by task management: SAM sends no status for it; its credit goes back with
    // the next response.
    ++unreturned_credits_;
    release_slot(slot);
    return;
  }
  // Data-in: what tgt produced (the buffer minus an underflow residual) goes to the
  // initiator's descriptors in order, before the response: unsignalled RDMA WRITEs chained
  // before the SRP_RSP, whose completion says they are done.
  std::uint64_t n = slot.in_len;
  if (in_resid > 0) n = in_resid >= static_cast<std::int64_t>(n) ? 0 : n - in_resid;
  std::uint64_t off = 0;
  std::uint32_t part = 0;
  PendingWork chain;
  for (const Descriptor& d : slot.in_desc) {
    if (off >= n) break;
    const std::uint32_t len = static_cast<std::uint32_t>(std::min<std::uint64_t>(d.len, n - off));
    chain.wrs.push_back({rdma::WorkType::kRdmaWrite, make_wr_id(Kind::kDataWrite, slot.index, part++),
                         {slot.buf + slot.out_len + off, len, slot.buf_lkey},
                         {d.va, d.key, len},
                         /*signaled=*/false});
    off += len;
  }
  Response rsp;
  rsp.tag = slot.tag;
  rsp.status = static_cast<std::uint8_t>(status);
  rsp.sense = sense;
  rsp.data_in_residual = in_resid;
  rsp.data_out_residual = out_resid;
  send_response(slot, rsp, std::move(chain));
}

void Channel::send_response(Slot& slot, const Response& rsp) {
  send_response(slot, rsp, PendingWork{});
}

void Channel::send_response(Slot& slot, const Response& in, PendingWork chain) {
  Response rsp = in;
  rsp.req_lim_delta = 1 + unreturned_credits_;
  unreturned_credits_ = 0;
  const std::size_t len = build_response(rsp, std::span(slot.rsp, config_.max_ti_iu_len));
  if (len == 0) {
    fatal("response does not fit max_ti_iu_len");
    return;
  }
  slot.phase = Slot::Phase::kResponding;
  slot.sq_unsignalled = static_cast<std::uint32_t>(chain.wrs.size());
  chain.wrs.push_back({rdma::WorkType::kSend, make_wr_id(Kind::kSend, slot.index),
                       {slot.rsp, static_cast<std::uint32_t>(len), rsp_mr_->lkey()},
                       {}});
  post(std::move(chain));
}

void Channel::handle_tmf(std::span<const std::byte> iu) {
  Slot* slot = take_slot();
  if (slot == nullptr) {
    fatal("initiator exceeded its request limit of " + std::to_string(config_.credits));
    return;
  }
  slot->is_tmf = true;
  auto tmf = parse_task_management(iu);
  if (!tmf) {
    if (iu.size() < 16) {
      release_slot(*slot);
      fatal("unreadable SRP_TSK_MGMT");
      return;
    }
    slot->tag = 0;
    for (int i = 8; i < 16; ++i) slot->tag = (slot->tag << 8) | std::to_integer<std::uint8_t>(iu[i]);
    Response rsp;
    rsp.tag = slot->tag;
    rsp.response_valid = true;
    rsp.response_code = kTmfFailed;
    send_response(*slot, rsp);
    return;
  }
  slot->tag = tmf->tag;
  slot->lun = tmf->lun;
  slot->phase = Slot::Phase::kTmf;
  ++in_tgt_;
  const int rc = host_.queue_tmf(nexus_.tid, nexus_.itn_id,
                                 reinterpret_cast<std::uintptr_t>(slot), tmf->function,
                                 slot->lun.data(), tmf->task_tag);
  if (rc < 0) {
    --in_tgt_;
    Response rsp;
    rsp.tag = slot->tag;
    rsp.response_valid = true;
    rsp.response_code = rc == -EINVAL ? kTmfNotSupported : kTmfFailed;
    send_response(*slot, rsp);
  }
}

void Channel::tmf_done(void* cookie, int result) {
  Slot& slot = *static_cast<Slot*>(cookie);
  if (in_tgt_ > 0) --in_tgt_;
  if (state_ != State::kLive) {
    release_slot(slot);
    return;
  }
  Response rsp;
  rsp.tag = slot.tag;
  rsp.response_valid = true;
  switch (result) {
    case TGTPMEM_SRP_TMF_COMPLETE:
    case TGTPMEM_SRP_TMF_NO_TASK:
      rsp.response_code = kTmfComplete;
      break;
    case TGTPMEM_SRP_TMF_NOT_SUPPORTED:
      rsp.response_code = kTmfNotSupported;
      break;
    default:
      rsp.response_code = kTmfFailed;
      break;
  }
  send_response(slot, rsp);
}

}  // namespace tgt_pmem::srp
