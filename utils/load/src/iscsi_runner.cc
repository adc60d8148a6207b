// SPDX-License-Identifier: GPL-2.0-only
// The libiscsi event loop that drives one LUN (see iscsi_runner.h).
//
// Shape: one iscsi_context; a fixed array of slots, one per queue-depth position, each owning
// its data buffer; completions arrive as callbacks from inside iscsi_service() and only record
// results and free the slot. New commands are queued from the loop, never from a callback, so
// that the loop alone decides when to stop issuing.
#include "tgt_pmem/load/iscsi_runner.h"

extern "C" {
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
}
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "tgt_pmem/load/verify_pattern.h"
#include "tgt_pmem/load/workload.h"

namespace tgt_pmem::load {
namespace {

using Clock = std::chrono::steady_clock;

// Verification keeps a 4-byte generation per I/O unit; beyond this many units the region must
// be narrowed with --size (64 Mi units = 256 MiB of memory, 256 GiB of LUN at 4 KiB).
constexpr std::uint64_t kMaxVerifyUnits = std::uint64_t{64} << 20;
constexpr int kPollMs = 100;

struct ContextDeleter {
  void operator()(iscsi_context* c) const noexcept { iscsi_destroy_context(c); }
};
using ContextPtr = std::unique_ptr<iscsi_context, ContextDeleter>;

struct UrlDeleter {
  void operator()(iscsi_url* u) const noexcept { iscsi_destroy_url(u); }
};
using UrlPtr = std::unique_ptr<iscsi_url, UrlDeleter>;

struct TaskDeleter {
  void operator()(scsi_task* t) const noexcept { scsi_free_scsi_task(t); }
};
using TaskPtr = std::unique_ptr<scsi_task, TaskDeleter>;

std::uint64_t fresh_random() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

const char* status_name(int status) {
  switch (status) {
    case SCSI_STATUS_GOOD: return "GOOD";
    case SCSI_STATUS_CHECK_CONDITION: return "CHECK CONDITION";
    case SCSI_STATUS_CONDITION_MET: return "CONDITION MET";
    case SCSI_STATUS_BUSY: return "BUSY";
    case SCSI_STATUS_RESERVATION_CONFLICT: return "RESERVATION CONFLICT";
    case SCSI_STATUS_TASK_SET_FULL: return "TASK SET FULL";
    case SCSI_STATUS_ACA_ACTIVE: return "ACA ACTIVE";
    case SCSI_STATUS_TASK_ABORTED: return "TASK ABORTED";
    case SCSI_STATUS_REDIRECT: return "REDIRECT";
    case SCSI_STATUS_CANCELLED: return "CANCELLED (session lost)";
    case SCSI_STATUS_ERROR: return "transport ERROR";
    case SCSI_STATUS_TIMEOUT: return "TIMEOUT";
    default: return nullptr;
  }
}

class Runner;

// One queue-depth position. Its address is the libiscsi private_data of the task in flight, so
// slots never move (the vector is sized once).
struct Slot {
  Runner* runner = nullptr;
  std::vector<std::byte> buffer;
  scsi_iovec iov{};
  IoRequest request{};
  std::uint64_t generation = 0;  // of the write in flight (verify mode)
  Clock::time_point start{};
  bool measured = false;
};

class Runner {
 public:
  Runner(const LoadOptions& options, const std::atomic<bool>& stop)
      : options_(options), stop_(stop) {
    report_.options = options;
    report_.seed = options.seed.value_or(fresh_random() & ((std::uint64_t{1} << 53) - 1));
    run_id_ = fresh_random() | 1;
  }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  std::expected<RunReport, SetupError> run();

 private:
  std::expected<void, SetupError> connect();
  std::expected<void, SetupError> read_capacity();
  std::expected<void, SetupError> plan();
  void loop();
  void fill(bool measuring);
  void issue(Slot& slot, const IoRequest& request, bool measuring);
  void complete(Slot& slot, int status, scsi_task* task);
  void check_read(const Slot& slot);
  // false when the session is gone (io_error_ set)
  bool service(int timeout_ms);
  void fail(std::string message) {
    if (!report_.io_error) report_.io_error = std::move(message);
  }
  std::string describe_request(const IoRequest& r) const {
    return std::string(r.kind == IoKind::kRead ? "READ(16)" : "WRITE(16)") + " LBA " +
           std::to_string(r.lba) + ", " + std::to_string(r.blocks) + " blocks";
  }

  static void on_connect(iscsi_context*, int status, void*, void* private_data) {
    auto* self = static_cast<Runner*>(private_data);
    if (self->connect_done_) return;  // called again when an established session fails
    self->connect_done_ = true;
    self->connect_status_ = status;
    // Taken now: libiscsi overwrites it with a less telling one once the callback returns.
    if (status != SCSI_STATUS_GOOD) self->connect_error_ = iscsi_get_error(self->ctx_.get());
  }
  static void on_task(iscsi_context*, int status, void* command_data, void* private_data) {
    auto* slot = static_cast<Slot*>(private_data);
    slot->runner->complete(*slot, status, static_cast<scsi_task*>(command_data));
  }

  // Members in creation order; the context is last so that it is destroyed first: destroying
  // it cancels the tasks still in flight, whose callbacks then find their slots alive.
  LoadOptions options_;
  const std::atomic<bool>& stop_;
  RunReport report_;
  std::uint64_t run_id_ = 0;
  int lun_ = 0;
  std::string target_;
  std::string portal_;
  std::uint64_t units_ = 0;
  std::uint32_t blocks_per_unit_ = 0;
  std::vector<Slot> slots_;
  std::vector<Slot*> free_slots_;
  std::vector<std::uint64_t> busy_units_;       // units in flight (verify mode only)
  std::vector<std::uint32_t> unit_generation_;  // last acknowledged write; 0 = unknown
  std::uint32_t next_generation_ = 0;
  std::unique_ptr<WorkloadGenerator> generator_;
  std::uint64_t issued_measured_ = 0;
  Clock::time_point measure_start_{};
  Clock::time_point last_measured_completion_{};
  bool connect_done_ = false;
  int connect_status_ = 0;
  std::string connect_error_;
  ContextPtr ctx_;
};

bool Runner::service(int timeout_ms) {
  const int events = iscsi_which_events(ctx_.get());
  const int fd = iscsi_get_fd(ctx_.get());
  if (events == 0 || fd < 0) {
    // libiscsi asks for no events while a (re)connect is deferred; nothing will complete.
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    return iscsi_service(ctx_.get(), 0) >= 0;
  }
  pollfd pfd{fd, static_cast<short>(events), 0};
  const int n = ::poll(&pfd, 1, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return true;
    fail(std::string("poll: ") + std::strerror(errno));
    return false;
  }
  // revents 0 makes libiscsi scan for timed-out commands.
  if (iscsi_service(ctx_.get(), n > 0 ? pfd.revents : 0) < 0) {
    fail(std::string("iSCSI session failed: ") + iscsi_get_error(ctx_.get()));
    return false;
  }
  return true;
}

std::expected<void, SetupError> Runner::connect() {
  ctx_.reset(iscsi_create_context(options_.initiator_name.c_str()));
  if (!ctx_) return std::unexpected(SetupError{"cannot create an iSCSI context"});
  UrlPtr url(iscsi_parse_full_url(ctx_.get(), options_.url.c_str()));
  if (!url) {
    return std::unexpected(SetupError{"invalid target URL '" + options_.url +
                                      "': " + iscsi_get_error(ctx_.get())});
  }
  target_ = url->target;
  portal_ = url->portal;
  lun_ = url->lun;
  iscsi_set_targetname(ctx_.get(), url->target);
  iscsi_set_session_type(ctx_.get(), ISCSI_SESSION_NORMAL);
  iscsi_set_header_digest(ctx_.get(), ISCSI_HEADER_DIGEST_NONE);
  if (url->user[0] != '\0') {
    iscsi_set_initiator_username_pwd(ctx_.get(), url->user, url->passwd);
  }
  // A benchmark must not hide a dropped session behind a silent reconnect: fail the commands.
  iscsi_set_noautoreconnect(ctx_.get(), 1);
  iscsi_set_timeout(ctx_.get(), static_cast<int>(options_.timeout_s));

  const std::string where = "target " + target_ + " LUN " + std::to_string(lun_) + " at " +
                            portal_;
  if (iscsi_full_connect_async(ctx_.get(), url->portal, url->lun, on_connect, this) != 0) {
    return std::unexpected(
        SetupError{"cannot connect to " + where + ": " + iscsi_get_error(ctx_.get())});
  }
  const auto deadline = Clock::now() + std::chrono::seconds(options_.timeout_s);
  while (!connect_done_) {
    if (Clock::now() >= deadline) {
      return std::unexpected(SetupError{"cannot connect to " + where + ": no answer within " +
                                        std::to_string(options_.timeout_s) + " s"});
    }
    if (stop_.load()) return std::unexpected(SetupError{"interrupted while connecting"});
    if (!service(kPollMs) && !connect_done_) {
      return std::unexpected(SetupError{"cannot connect to " + where + ": " +
                                        iscsi_get_error(ctx_.get())});
    }
  }
  if (connect_status_ != SCSI_STATUS_GOOD) {
    return std::unexpected(SetupError{"cannot connect to or log in to " + where + ": " +
                                      connect_error_});
  }
  return {};
}

std::expected<void, SetupError> Runner::read_capacity() {
  TaskPtr task(iscsi_readcapacity16_sync(ctx_.get(), lun_));
  if (!task) {
    return std::unexpected(
        SetupError{std::string("READ CAPACITY(16) failed: ") + iscsi_get_error(ctx_.get())});
  }
  if (task->status != SCSI_STATUS_GOOD) {
    return std::unexpected(SetupError{
        "READ CAPACITY(16) failed: " +
        describe_scsi_status(task->status, task->sense.key, task->sense.ascq)});
  }
  auto* rc = static_cast<scsi_readcapacity16*>(scsi_datain_unmarshall(task.get()));
  if (rc == nullptr || rc->block_length == 0) {
    return std::unexpected(SetupError{"READ CAPACITY(16) returned no usable data"});
  }
  report_.lun_block_size = rc->block_length;
  report_.lun_blocks = rc->returned_lba + 1;
  return {};
}

std::expected<void, SetupError> Runner::plan() {
  const std::uint64_t lbs = report_.lun_block_size;
  const std::uint64_t capacity = report_.lun_blocks * lbs;
  const auto& o = options_;
  const auto bad = [&](const std::string& why) {
    return std::unexpected(SetupError{why + " (LUN: " + std::to_string(report_.lun_blocks) +
                                      " blocks of " + std::to_string(lbs) + " B)"});
  };
  if (o.block_size % lbs != 0) {
    return bad("--block-size " + std::to_string(o.block_size) +
               " is not a multiple of the LUN's block size");
  }
  if (o.offset % lbs != 0) return bad("--offset is not a multiple of the LUN's block size");
  if (o.offset >= capacity) return bad("--offset lies beyond the end of the LUN");
  const std::uint64_t available = capacity - o.offset;
  std::uint64_t size = o.size.value_or(available);
  if (size > available) return bad("--offset + --size runs beyond the end of the LUN");
  units_ = size / o.block_size;
  if (units_ == 0) return bad("the region holds no complete I/O of --block-size bytes");
  if (o.verify && units_ > kMaxVerifyUnits) {
    return bad("--verify tracks at most " + std::to_string(kMaxVerifyUnits) +
               " I/O units; narrow the region with --size");
  }
  blocks_per_unit_ = static_cast<std::uint32_t>(o.block_size / lbs);
  report_.region_offset = o.offset;
  report_.region_size = units_ * o.block_size;

  generator_ = std::make_unique<WorkloadGenerator>(WorkloadSpec{
      o.offset / lbs, units_, blocks_per_unit_, o.read_percent, o.access, report_.seed});
  if (o.verify) unit_generation_.assign(units_, 0);

  slots_.resize(o.queue_depth);
  SplitMix64 filler(report_.seed ^ 0x5bd1e995ULL);
  for (auto& slot : slots_) {
    slot.runner = this;
    slot.buffer.resize(o.block_size);
    // Without --verify, writes carry incompressible, non-zero data that is never rewritten.
    for (std::size_t off = 0; off + 8 <= slot.buffer.size(); off += 8) {
      const std::uint64_t w = filler.next();
      std::memcpy(slot.buffer.data() + off, &w, sizeof w);
    }
    slot.iov = scsi_iovec{slot.buffer.data(), slot.buffer.size()};
    free_slots_.push_back(&slot);
  }
  busy_units_.reserve(o.queue_depth);
  return {};
}

void Runner::issue(Slot& slot, const IoRequest& request, bool measuring) {
  slot.request = request;
  slot.measured = measuring;
  const std::uint32_t lbs = report_.lun_block_size;
  const auto bytes = static_cast<std::uint32_t>(options_.block_size);
  if (request.kind == IoKind::kWrite && options_.verify) {
    slot.generation = ++next_generation_;
    for (std::uint32_t b = 0; b < request.blocks; ++b) {
      fill_block(std::span(slot.buffer).subspan(std::size_t{b} * lbs, lbs),
                 BlockStamp{request.lba + b, slot.generation, run_id_});
    }
  }
  slot.start = Clock::now();
  scsi_task* task =
      request.kind == IoKind::kRead
          ? iscsi_read16_iov_task(ctx_.get(), lun_, request.lba, bytes, static_cast<int>(lbs), 0,
                                  0, 0, 0, 0, on_task, &slot, &slot.iov, 1)
          : iscsi_write16_iov_task(ctx_.get(), lun_, request.lba, nullptr, bytes,
                                   static_cast<int>(lbs), 0, 0, options_.fua ? 1 : 0, 0, 0,
                                   on_task, &slot, &slot.iov, 1);
  if (task == nullptr) {
    fail("cannot queue " + describe_request(request) + ": " + iscsi_get_error(ctx_.get()));
    return;
  }
  free_slots_.pop_back();
  if (options_.verify) busy_units_.push_back(request.unit);
  if (measuring) ++issued_measured_;
}

void Runner::fill(bool measuring) {
  while (!free_slots_.empty() && !report_.io_error) {
    if (measuring && options_.io_count && issued_measured_ >= *options_.io_count) return;
    // Taken afresh for every I/O: issue() adds to busy_units_, and two I/Os of one batch must
    // not overlap either.
    const std::span<const std::uint64_t> busy =
        options_.verify ? std::span<const std::uint64_t>(busy_units_)
                        : std::span<const std::uint64_t>();
    const auto request = generator_->next(busy);
    if (!request) return;  // every candidate unit is in flight; wait for a completion
    issue(*free_slots_.back(), *request, measuring);
  }
}

void Runner::check_read(const Slot& slot) {
  const std::uint32_t lbs = report_.lun_block_size;
  const std::uint32_t gen = unit_generation_[slot.request.unit];
  const std::optional<std::uint64_t> expected =
      gen == 0 ? std::nullopt : std::optional<std::uint64_t>(gen);
  auto& v = report_.verify;
  for (std::uint32_t b = 0; b < slot.request.blocks; ++b) {
    ++v.blocks_checked;
    if (!expected) ++v.blocks_unknown;
    auto mismatch = check_block(std::span(slot.buffer).subspan(std::size_t{b} * lbs, lbs),
                                slot.request.lba + b, run_id_, expected);
    if (mismatch) {
      ++v.errors;
      if (v.first_errors.size() < kMaxReportedVerifyErrors) {
        v.first_errors.push_back(std::move(*mismatch));
      }
    }
  }
}

void Runner::complete(Slot& slot, int status, scsi_task* task) {
  const auto now = Clock::now();
  const IoRequest& r = slot.request;
  if (status == SCSI_STATUS_GOOD) {
    if (slot.measured) {
      OpStats& s = r.kind == IoKind::kRead ? report_.read : report_.write;
      ++s.ios;
      s.bytes += options_.block_size;
      s.latency_ns.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.start).count()));
      last_measured_completion_ = now;
    }
    if (options_.verify) {
      if (r.kind == IoKind::kWrite) {
        unit_generation_[r.unit] = static_cast<std::uint32_t>(slot.generation);
      } else {
        check_read(slot);
      }
    }
  } else {
    std::string why;
    if (status == SCSI_STATUS_CANCELLED || status == SCSI_STATUS_ERROR ||
        status == SCSI_STATUS_TIMEOUT) {
      // During ctx_.reset() the pointer is already null while libiscsi cancels what is left.
      why = std::string(status_name(status)) + ": " +
            (ctx_ ? iscsi_get_error(ctx_.get()) : "the session was torn down");
    } else if (task != nullptr) {
      why = describe_scsi_status(status, task->sense.key, task->sense.ascq);
    } else {
      why = describe_scsi_status(status, 0, 0);
    }
    fail(describe_request(r) + ": " + why);
    // The block's content is unknown now: a failed write may or may not have landed.
    if (options_.verify && r.kind == IoKind::kWrite) unit_generation_[r.unit] = 0;
  }
  if (task != nullptr) scsi_free_scsi_task(task);
  if (options_.verify) {
    auto it = std::find(busy_units_.begin(), busy_units_.end(), r.unit);
    if (it != busy_units_.end()) {
      *it = busy_units_.back();
      busy_units_.pop_back();
    }
  }
  free_slots_.push_back(&slot);
}

void Runner::loop() {
  const auto& o = options_;
  const auto to_duration = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  const auto run_start = Clock::now();
  bool ramping = o.ramp_s > 0;
  measure_start_ = run_start + to_duration(o.ramp_s);
  std::optional<Clock::time_point> measure_end;
  if (!ramping && o.duration_s) measure_end = measure_start_ + to_duration(*o.duration_s);
  last_measured_completion_ = measure_start_;

  bool issuing = true;
  std::optional<Clock::time_point> drain_deadline;
  while (true) {
    const auto now = Clock::now();
    if (ramping && now >= measure_start_) {
      ramping = false;
      measure_start_ = now;
      last_measured_completion_ = now;
      if (o.duration_s) measure_end = now + to_duration(*o.duration_s);
    }
    if (issuing) {
      if (stop_.load()) {
        report_.interrupted = true;
        issuing = false;
      } else if (report_.io_error) {
        issuing = false;
      } else if (!ramping && measure_end && now >= *measure_end) {
        issuing = false;
      } else if (!ramping && o.io_count && issued_measured_ >= *o.io_count) {
        issuing = false;
      }
    }
    if (issuing) fill(!ramping);
    const bool idle = free_slots_.size() == slots_.size();
    if (!issuing && idle) break;
    if (!issuing) {
      // libiscsi times every command out after timeout_s; this is only a backstop.
      if (!drain_deadline) drain_deadline = now + std::chrono::seconds(o.timeout_s + 5);
      if (now >= *drain_deadline) {
        fail(std::to_string(slots_.size() - free_slots_.size()) +
             " commands still outstanding " + std::to_string(o.timeout_s + 5) +
             " s after the end of the run");
        break;
      }
    }
    if (!service(kPollMs)) break;
  }
  const auto end = last_measured_completion_;
  report_.elapsed_s = std::chrono::duration<double>(end - measure_start_).count();
}

std::expected<RunReport, SetupError> Runner::run() {
  if (auto r = connect(); !r) return std::unexpected(r.error());
  if (auto r = read_capacity(); !r) return std::unexpected(r.error());
  if (auto r = plan(); !r) return std::unexpected(r.error());
  loop();
  if (iscsi_is_logged_in(ctx_.get()) && free_slots_.size() == slots_.size()) {
    iscsi_logout_sync(ctx_.get());  // best effort: the figures are already taken
  }
  ctx_.reset();
  return std::move(report_);
}

}  // namespace

std::string describe_scsi_status(int status, int sense_key, int asc_ascq) {
  std::string out;
  if (const char* name = status_name(status)) {
    out = name;
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "SCSI status 0x%02x", static_cast<unsigned>(status));
    out = buf;
  }
  if (status == SCSI_STATUS_CHECK_CONDITION) {
    const char* key_name = scsi_sense_key_str(sense_key);
    const char* ascq_name = scsi_sense_ascq_str(asc_ascq);
    char buf[160];
    std::snprintf(buf, sizeof buf, ", sense key %s (0x%x), ASC/ASCQ 0x%02x/0x%02x",
                  key_name ? key_name : "?", static_cast<unsigned>(sense_key),
                  static_cast<unsigned>(asc_ascq >> 8) & 0xff,
                  static_cast<unsigned>(asc_ascq) & 0xff);
    out += buf;
    if (ascq_name != nullptr && std::strcmp(ascq_name, "") != 0) {
      out += " (";
      out += ascq_name;
      out += ")";
    }
  }
  return out;
}

std::expected<RunReport, SetupError> run_load(const LoadOptions& options,
                                              const std::atomic<bool>& stop) {
  Runner runner(options, stop);
  return runner.run();
}

}  // namespace tgt_pmem::load
