// SPDX-License-Identifier: GPL-2.0-only
// The mirror's part of the C ABI (include/tgt_pmem/bs_pmem.h; issue 16): a secondary's
// generations for push mode's MIRROR_STATE, and a primary's link, write path and status.
// Every function catches everything: an exception must never unwind into tgtd's C code.
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "lun_handle.h"
#include "mirror/chap_file.h"
#include "mirror/command_range.h"
#include "mirror/generations.h"
#include "scsi_codes.h"
#include "tgt_pmem/bs_pmem.h"
#include "tgt_pmem/rdma/connection.h"

namespace {

using tgt_pmem::bs::set_err;

namespace mirror = tgt_pmem::bs::mirror;
namespace scsi = tgt_pmem::bs::scsi;
using mirror::MirrorWriter;

// The queue pair the link asks for: per staging piece a WRITE and (RDMA FLUSH) a FLUSH, one
// request's SEND, with room to spare; one receive (one request outstanding); the secondary
// never reads from us.
tgt_pmem::rdma::QueueLimits link_limits(std::size_t pieces) {
  tgt_pmem::rdma::QueueLimits l;
  l.send_depth = static_cast<std::uint32_t>(2 * pieces + 8);
  l.recv_depth = 4;
  l.max_sge = 1;
  l.rdma_read_depth = 1;
  l.responder_resources = 1;
  return l;
}

void fail(tgtpmem_result* res, std::uint8_t key, std::uint16_t asc) {
  res->status = TGTPMEM_STATUS_CHECK_CONDITION;
  res->sense_key = key;
  res->asc = asc;
  res->info_valid = 0;
  res->in_len = 0;
}

}  // namespace

namespace tgt_pmem::bs {

void add_mirror_status(const tgtpmem_lun& lun, nlohmann::ordered_json& doc) {
  if (!lun.mirror) return;
  const auto r = lun.mirror->record();
  using mirror::hex;
  auto& m = doc["mirror"];
  m = {{"role", mirror::to_string(r.role)},
       {"meta", lun.mirror_path},
       {"current", hex(r.generations.current)},
       {"bitmap", hex(r.generations.bitmap)},
       {"history", {hex(r.generations.history[0]), hex(r.generations.history[1])}},
       {"regions_marked", lun.mirror->bitmap().marked()}};
  if (!lun.mirror_primary) return;
  const auto& p = *lun.mirror_primary;
  const MirrorWriter& w = p.primary->writer();
  const auto progress = w.resync_progress();
  const auto& c = w.counters();
  m["secondary"] = lun.options.mirror + ":" + std::to_string(lun.options.mirror_port);
  m["secondary_target"] = lun.options.mirror_target;
  m["secondary_lun"] = lun.options.mirror_lun;
  m["policy"] = lun.options.mirror_degrade ? "degrade" : "fail";
  m["state"] = mirror::to_string(w.state());
  m["link"] = mirror::to_string(p.replica->link());
  m["link_durability"] = p.replica->durability();
  m["last_failure"] = p.replica->last_failure();
  m["refusal"] = p.primary->refusal();
  m["resync"] = {{"running", progress.running},
                 {"regions_total", progress.regions_total},
                 {"regions_copied", progress.regions_copied},
                 {"mib_per_s", std::round(progress.mib_per_s() * 10) / 10},
                 {"limit_mib_per_s", lun.options.mirror_resync_mibps}};
  m["writes"] = {{"good", c.good},
                 {"failed", c.failed},
                 {"degraded", c.degraded_writes},
                 {"held_for_overlap", c.held},
                 {"secondary_failures", c.remote_failures},
                 {"regions_cleared", c.regions_cleared}};
}

}  // namespace tgt_pmem::bs

extern "C" {

int tgtpmem_lun_mirror_get(const tgtpmem_lun* lun, tgtpmem_mirror_state* out) noexcept {
  if (lun == nullptr || !lun->mirror || out == nullptr) return -ENOENT;
  try {
    const auto r = lun->mirror->record();
    out->role = r.role == tgt_pmem::bs::mirror::Role::kPrimary ? TGTPMEM_MIRROR_PRIMARY
                                                               : TGTPMEM_MIRROR_SECONDARY;
    out->current = r.generations.current;
    out->bitmap = r.generations.bitmap;
    out->history0 = r.generations.history[0];
    out->history1 = r.generations.history[1];
    return 0;
  } catch (...) {
    return -ENOMEM;
  }
}

int tgtpmem_lun_mirror_set(tgtpmem_lun* lun, const tgtpmem_mirror_state* in) noexcept {
  if (lun == nullptr || !lun->mirror || in == nullptr) return -ENOENT;
  try {
    const auto r = lun->mirror->record();
    if (r.role != tgt_pmem::bs::mirror::Role::kSecondary) return -EPERM;
    const tgt_pmem::bs::mirror::Generations g{in->current, in->bitmap,
                                              {in->history0, in->history1}};
    if (auto s = lun->mirror->update(r.role, g); !s) return -EIO;
    return 0;
  } catch (...) {
    return -ENOMEM;
  }
}

int tgtpmem_lun_mirror_start(tgtpmem_lun* lun, const tgtpmem_loop_ops* ops, const char* name,
                             char* err, std::size_t errlen) noexcept {
  try {
    if (!lun || !lun->mirror || lun->mirror_secondary || lun->options.mirror.empty()) return 0;
    if (lun->mirror_primary) return 0;
    const tgt_pmem::bs::Options& o = lun->options;
    mirror::RdmaReplica::Config c;
    c.session.initiator_name = o.mirror_initiator;
    c.session.target_name = o.mirror_target;
    c.session.lun = o.mirror_lun;
    if (!o.mirror_chap.empty()) {
      auto chap = mirror::read_chap_file(o.mirror_chap);
      if (!chap) {
        set_err(err, errlen, chap.error());
        return TGTPMEM_E_MIRROR;
      }
      c.session.chap_user = chap->user;
      c.session.chap_secret = chap->secret;
    }
    c.peer = (o.mirror.find(':') != std::string::npos ? "[" + o.mirror + "]" : o.mirror) + ":" +
             std::to_string(o.mirror_port);
    c.lun_size = lun->lun->size();
    auto parts = std::make_unique<mirror::PrimaryParts>();
    parts->loop = std::make_unique<tgt_pmem::rdma_host::CLoop>(
        tgt_pmem::rdma_host::CLoopOps{ops->ctx, ops->event_add, ops->event_del, ops->log});
    mirror::PrimaryParts* p = parts.get();
    const auto limits = link_limits(c.session.pieces);
    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(c.session.timeout);
    p->replica = std::make_unique<mirror::RdmaReplica>(
        *p->loop, c,
        [address = o.mirror, port = o.mirror_port, limits,
         timeout]() -> tgt_pmem::rdma_host::BackgroundConnect::Result {
          return tgt_pmem::rdma::connect(address, port, {}, limits, timeout);
        },
        mirror::RdmaReplica::Events{
            [p](const mirror::Generations& g) {
              if (!p->primary->on_secondary_up(g))
                p->replica->drop(std::make_error_code(std::errc::operation_not_permitted),
                                 "refused by the generations");
            },
            [p](std::error_code why, const std::string& what) {
              p->primary->on_secondary_down(why, what);
            }});
    const std::span<const std::byte> local(lun->lun->medium().data(), lun->lun->size());
    p->primary = std::make_unique<mirror::MirrorPrimary>(
        *lun->mirror, *p->replica,
        o.mirror_degrade ? MirrorWriter::Policy::kDegrade : MirrorWriter::Policy::kFail, local,
        std::string("bs_pmem: ") + (name ? name : "?"),
        [p](bool error, const std::string& s) { p->loop->log(error, s); });
    p->primary->writer().set_resync_pacer(
        mirror::ResyncPacer(std::uint64_t{o.mirror_resync_mibps} << 20));
    lun->mirror_primary = std::move(parts);
    p->replica->start();
    return 0;
  } catch (const std::bad_alloc&) {
    set_err(err, errlen, "out of memory");
    return TGTPMEM_E_NOMEM;
  } catch (...) {
    set_err(err, errlen, "internal error while starting the mirror");
    return TGTPMEM_E_INTERNAL;
  }
}

int tgtpmem_lun_mirror_primary(const tgtpmem_lun* lun) noexcept {
  return lun && lun->mirror_primary ? 1 : 0;
}

int tgtpmem_mirror_submit(tgtpmem_lun* lun, const tgtpmem_cmd* cmd, tgtpmem_result* res,
                          void (*done)(void* arg), void* arg) noexcept {
  if (!lun || !lun->mirror_primary) return 0;
  const std::span<const std::uint8_t> cdb(cmd->cdb, cmd->cdb_len);
  const std::span<const std::byte> out =
      cmd->out_buf ? std::span<const std::byte>(static_cast<const std::byte*>(cmd->out_buf),
                                                cmd->out_len)
                   : std::span<const std::byte>();
  const std::uint32_t bs = lun->lun->block_size();
  const auto range = mirror::command_range(cdb, out, bs, lun->lun->size() / bs);
  if (range.kind == mirror::CommandRange::Kind::kLocalOnly) return 0;
  try {
    const std::span<const std::byte> data =
        range.data_from_command
            ? out.first(range.length)
            : std::span<const std::byte>(lun->lun->medium().data() + range.offset, range.length);
    lun->mirror_primary->primary->writer().submit(
        range.offset, data,
        [lun, cmd, res](MirrorWriter::LocalDone local_done) {
          tgtpmem_execute(lun, cmd, res);
          local_done(res->status == TGTPMEM_STATUS_GOOD
                         ? std::error_code()
                         : std::make_error_code(std::errc::io_error));
        },
        [lun, res, done, arg](MirrorWriter::Outcome o, std::error_code) {
          switch (o) {
            case MirrorWriter::Outcome::kGood:
              break;
            case MirrorWriter::Outcome::kLocalFailed:
              // The engine's own answer (sense data), unless it said GOOD.
              if (res->status == TGTPMEM_STATUS_GOOD)
                fail(res, scsi::key::kHardwareError, scsi::asc::kInternalTargetFailure);
              break;
            case MirrorWriter::Outcome::kRemoteFailed:
            case MirrorWriter::Outcome::kMetaFailed:
              // The blocks may differ between the copies (the bitmap marks them): the write
              // is not done, as after a medium error.
              fail(res, scsi::key::kMediumError, scsi::asc::kWriteError);
              break;
            case MirrorWriter::Outcome::kNotReplicated:
              // Policy fail, the secondary not there: nothing was written. While the first
              // connect since the LUN was added is still under way (tgtd just started),
              // LOGICAL UNIT IS IN PROCESS OF BECOMING READY: initiators retry that after a
              // delay. After that, an administrator brings the secondary back (LOGICAL UNIT
              // NOT READY, MANUAL INTERVENTION REQUIRED).
              if (lun->mirror_primary && lun->mirror_primary->replica->first_attempt_pending())
                fail(res, scsi::key::kNotReady, scsi::asc::kNotReadyBecomingReady);
              else
                fail(res, scsi::key::kNotReady, scsi::asc::kNotReadyManualIntervention);
              break;
          }
          done(arg);
        },
        !range.data_from_command);
    return 1;
  } catch (...) {
    // Nothing was started: the command is refused whole, never executed unmirrored.
    fail(res, scsi::key::kHardwareError, scsi::asc::kInternalTargetFailure);
    done(arg);
    return 1;
  }
}

void tgtpmem_lun_mirror_tick(tgtpmem_lun* lun) noexcept {
  if (!lun || !lun->mirror_primary) return;
  try {
    auto& p = *lun->mirror_primary;
    p.replica->tick();
    p.primary->tick(std::chrono::steady_clock::now());
  } catch (...) {
  }
}

void tgtpmem_lun_mirror_stop(tgtpmem_lun* lun) noexcept {
  if (!lun || !lun->mirror_primary) return;
  try {
    lun->mirror_primary->replica->stop();
  } catch (...) {
  }
}

}  // extern "C"
