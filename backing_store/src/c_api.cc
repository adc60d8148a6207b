// SPDX-License-Identifier: GPL-2.0-only
// The C ABI of include/tgt_pmem/bs_pmem.h. Every function catches everything: an exception
// must never unwind into tgtd's C code.
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "atomic_layout.h"
#include "cdb.h"
#include "lun.h"
#include "lun_handle.h"
#include "lun_status.h"
#include "mirror/meta_open.h"
#include "mirror/meta_store.h"
#include "options.h"
#include "pmem_medium.h"
#include "scsi_codes.h"
#include "scsi_exec.h"
#include "tgtd_heap.h"
#include "store_record.h"
#include "tgt_pmem/bs_pmem.h"
#include "tgt_pmem/flush/flusher.h"
#include "tgt_pmem/flush/select.h"
#include "tgt_pmem/status/run_dir.h"

namespace {

using tgt_pmem::bs::set_err;

// 0, or the negative errno of a failed Status (EIO if it carried none).
int errno_result(const tgt_pmem::flush::Status& s) noexcept {
  if (s) return 0;
  return -(s.error().value() != 0 ? s.error().value() : EIO);
}

// mirror_meta=: opens the LUN's mirror metadata store. Error: what is wrong, and what to do.
std::string open_mirror(tgtpmem_lun& l, const tgt_pmem::bs::Options& o) {
  namespace mirror = tgt_pmem::bs::mirror;
  using mirror::Role;
  auto m = mirror::open_for_lun(o.mirror_meta, l.lun->size(), o.durability);
  if (!m) return m.error();
  const Role role = m->store->record().role;
  if (auto why = mirror::role_conflict(role, o); !why.empty())
    return "mirror_meta=" + o.mirror_meta + ": " + why;
  l.mirror_secondary = role == Role::kSecondary;
  l.mirror_path = o.mirror_meta;
  l.mirror_medium = std::move(m->medium);
  l.mirror = std::move(m->store);
  return {};
}

}  // namespace

extern "C" {

int tgtpmem_options_parse(const char* bsopts, tgtpmem_options** out, char* err,
                          std::size_t errlen) noexcept {
  try {
    auto o = tgt_pmem::bs::parse_options(bsopts ? bsopts : "");
    if (!o) {
      set_err(err, errlen, o.error());
      return TGTPMEM_E_BSOPTS;
    }
    *out = new tgtpmem_options{*o};
    return 0;
  } catch (const std::bad_alloc&) {
    set_err(err, errlen, "out of memory");
    return TGTPMEM_E_NOMEM;
  } catch (...) {
    set_err(err, errlen, "internal error while parsing bsopts");
    return TGTPMEM_E_INTERNAL;
  }
}

void tgtpmem_options_get(const tgtpmem_options* opts, struct tgtpmem_options_values* v) noexcept {
  v->block_size = opts->o.block_size;
  v->write_cache = opts->o.write_cache;
  v->unmap = opts->o.unmap;
  switch (opts->o.exec) {
    case tgt_pmem::bs::Exec::kInline: v->exec = TGTPMEM_EXEC_INLINE; break;
    case tgt_pmem::bs::Exec::kThreads: v->exec = TGTPMEM_EXEC_THREADS; break;
    case tgt_pmem::bs::Exec::kAuto: v->exec = TGTPMEM_EXEC_AUTO; break;
  }
  v->threads = opts->o.threads;
  v->inline_max = opts->o.inline_max;
  v->atomic_layout = opts->o.layout == tgt_pmem::bs::LayoutKind::kAtomic;
  v->read_in_place = opts->o.read_in_place ? 1 : 0;
  v->push = opts->o.push;
  v->push_port = opts->o.push_port;
  v->push_poll_us = opts->o.push_poll_us;
  // parse_options keeps it shorter than INET6_ADDRSTRLEN (46).
  std::snprintf(v->push_address, sizeof v->push_address, "%s", opts->o.push_address.c_str());
}

void tgtpmem_options_free(tgtpmem_options* opts) noexcept { delete opts; }

int tgtpmem_lun_open(const char* path, const tgtpmem_options* opts, std::uint32_t block_size,
                     tgtpmem_lun** out, char* err, std::size_t errlen) noexcept {
  try {
    using tgt_pmem::bs::PmemMedium;
    if (block_size != 512 && block_size != 4096) {
      set_err(err, errlen, "block size " + std::to_string(block_size) + ": must be 512 or 4096");
      return TGTPMEM_E_BLOCK_SIZE;
    }
    if (!path || !*path) {
      set_err(err, errlen, "no backing store path given");
      return TGTPMEM_E_OPEN;
    }
    auto m = PmemMedium::open(path, TGTPMEM_MIN_SIZE,
                              opts ? opts->o.durability : tgt_pmem::bs::Durability::kAuto);
    if (!m) {
      set_err(err, errlen, m.error().message);
      switch (m.error().code) {
        case PmemMedium::OpenError::kDurability: return TGTPMEM_E_DURABILITY;
        case PmemMedium::OpenError::kReadOnly: return TGTPMEM_E_READONLY;
        case PmemMedium::OpenError::kSize: return TGTPMEM_E_SIZE;
        case PmemMedium::OpenError::kMap: return TGTPMEM_E_MAP;
        case PmemMedium::OpenError::kNoMem: return TGTPMEM_E_NOMEM;
        case PmemMedium::OpenError::kOpen: return TGTPMEM_E_OPEN;
      }
      return TGTPMEM_E_OPEN;
    }
    if ((*m)->size() % block_size != 0) {
      set_err(err, errlen, std::string(path) + ": size " + std::to_string((*m)->size()) +
                               " is not a multiple of the block size " +
                               std::to_string(block_size));
      return TGTPMEM_E_SIZE;
    }
    auto l = std::make_unique<tgtpmem_lun>();
    l->durability = std::string(to_string((*m)->flusher().method()));
    l->fd = (*m)->fd();
    l->emulated = (*m)->emulated();
    if (opts && opts->o.layout == tgt_pmem::bs::LayoutKind::kAtomic) {
      auto a = tgt_pmem::bs::AtomicLayout::open(**m, block_size);
      if (!a) {
        set_err(err, errlen, std::string(path) + ": layout=atomic: " + a.error());
        return TGTPMEM_E_LAYOUT;
      }
      l->uuid = (*a)->header().uuid;
      l->lun = std::make_unique<tgt_pmem::bs::Lun>(std::move(*m), std::move(*a), block_size);
    } else {
      // The raw layout keeps nothing on the medium: its block size and identity are recorded
      // beside it (store_record.h), and a LUN that contradicts them is refused.
      const auto rec =
          tgt_pmem::bs::check_store_record(tgt_pmem::bs::store_record_dir(), path, l->fd,
                                           block_size);
      if (rec.kind == tgt_pmem::bs::StoreRecordCheck::Kind::kRefused) {
        set_err(err, errlen, rec.message);
        return TGTPMEM_E_LAYOUT;
      }
      l->notice = rec.message;
      l->lun = std::make_unique<tgt_pmem::bs::Lun>(std::move(*m), block_size);
    }
    if (opts) l->options = opts->o;
    if (opts && opts->o.exec == tgt_pmem::bs::Exec::kInline) l->lun->set_single_threaded();
    if (opts && !opts->o.mirror_meta.empty()) {
      if (auto e = open_mirror(*l, opts->o); !e.empty()) {
        set_err(err, errlen, e);
        return TGTPMEM_E_MIRROR;
      }
    }
    *out = l.release();
    return 0;
  } catch (const std::bad_alloc&) {
    set_err(err, errlen, "out of memory");
    return TGTPMEM_E_NOMEM;
  } catch (...) {
    set_err(err, errlen, "internal error while opening the backing store");
    return TGTPMEM_E_INTERNAL;
  }
}

int tgtpmem_lun_close(tgtpmem_lun* lun) noexcept {
  if (!lun) return 0;
  tgtpmem_lun_mirror_stop(lun);
  // Whatever a write cache holds must reach the medium before the mapping goes.
  const int rc = errno_result(lun->lun->sync());
  delete lun;
  return rc;
}

void tgtpmem_lun_get_info(const tgtpmem_lun* lun, struct tgtpmem_lun_info* info) noexcept {
  info->size = lun->lun->size();
  info->block_size = lun->lun->block_size();
  info->durability = lun->durability.c_str();
  info->medium = lun->lun->medium().kind().data();  // static string literals
  info->fd = lun->fd;
  info->layout = lun->lun->layout().name().data();  // static string literals
  info->max_atomic_blocks = lun->lun->layout().max_atomic_blocks();
  info->emulated = lun->emulated ? 1 : 0;
  info->notice = lun->notice.empty() ? nullptr : lun->notice.c_str();
  std::memcpy(info->uuid, lun->uuid.data(), sizeof info->uuid);
}

int tgtpmem_lun_expose(tgtpmem_lun* lun, void** base, std::uint64_t* size) noexcept {
  if (lun->lun->layout().name() != "raw") return TGTPMEM_E_LAYOUT;
  // The raw layout is the medium, byte for byte.
  *base = lun->lun->medium().data();
  *size = lun->lun->size();
  return 0;
}

int tgtpmem_lun_persist(tgtpmem_lun* lun, std::uint64_t offset, std::uint64_t len) noexcept {
  if (offset > lun->lun->size() || len > lun->lun->size() - offset) return -ERANGE;
  return errno_result(lun->lun->layout().persist_external(offset, len));
}

int tgtpmem_lun_set_write_cache(tgtpmem_lun* lun, int on) noexcept {
  return errno_result(lun->lun->set_write_cache(on != 0));
}

int tgtpmem_lun_sync(tgtpmem_lun* lun) noexcept { return errno_result(lun->lun->sync()); }

int tgtpmem_lun_flush_error(const tgtpmem_lun* lun) noexcept {
  return lun->lun->medium().flush_error();
}

int tgtpmem_lun_take_flush_error_report(tgtpmem_lun* lun) noexcept {
  return lun->lun->medium().take_flush_error_report() ? lun->lun->medium().flush_error() : 0;
}

int tgtpmem_read_in_place(tgtpmem_lun* lun, const tgtpmem_cmd* cmd, const void** data,
                          std::uint32_t* len) noexcept {
  if (!lun->options.read_in_place) return 0;
  tgt_pmem::bs::Command c;
  c.cdb = {cmd->cdb, cmd->cdb_len};
  // Only the size of the Data-In buffer counts: nothing is copied into it.
  c.in = {static_cast<std::byte*>(nullptr), cmd->in_len};
  const auto at = tgt_pmem::bs::read_in_place(*lun->lun, c);
  if (!at) return 0;
  *data = at->data;
  *len = at->len;
  lun->counters.commands.fetch_add(1, std::memory_order_relaxed);
  lun->counters.in_place.fetch_add(1, std::memory_order_relaxed);
  return 1;
}

void tgtpmem_execute(tgtpmem_lun* lun, const tgtpmem_cmd* cmd, tgtpmem_result* res) noexcept {
  tgt_pmem::bs::Command c;
  c.cdb = {cmd->cdb, cmd->cdb_len};
  if (cmd->out_buf) c.out = {static_cast<const std::byte*>(cmd->out_buf), cmd->out_len};
  if (cmd->in_buf) c.in = {static_cast<std::byte*>(cmd->in_buf), cmd->in_len};
  tgt_pmem::bs::Result r;
  if (lun->mirror_secondary && !c.cdb.empty() && tgt_pmem::bs::cdb::changes_blocks(c.cdb[0])) {
    // A secondary's blocks are its primary's (SBC-3 4.11 write protection; DATA PROTECT).
    r.status = tgt_pmem::bs::scsi::kStatusCheckCondition;
    r.sense_key = tgt_pmem::bs::scsi::key::kDataProtect;
    r.asc = tgt_pmem::bs::scsi::asc::kWriteProtected;
  } else {
    r = tgt_pmem::bs::execute(*lun->lun, c);
  }
  lun->counters.commands.fetch_add(1, std::memory_order_relaxed);
  if (cmd->on_worker) lun->counters.on_workers.fetch_add(1, std::memory_order_relaxed);
  res->status = r.status;
  res->sense_key = r.sense_key;
  res->asc = r.asc;
  res->info_valid = r.info_valid;
  res->info = r.info;
  res->in_len = r.in_len;
  res->lba_valid = 0;
  res->lba = 0;
  res->blocks = 0;
  // Only a failed command is logged with its blocks: no decoding on the good path.
  if (r.status == TGTPMEM_STATUS_GOOD) return;
  lun->counters.failed.fetch_add(1, std::memory_order_relaxed);
  if (r.sense_key == tgt_pmem::bs::scsi::key::kMediumError)
    lun->counters.media_errors.fetch_add(1, std::memory_order_relaxed);
  if (const auto e = tgt_pmem::bs::cdb::decode_extent(c.cdb)) {
    res->lba_valid = 1;
    res->lba = e->lba;
    res->blocks = e->blocks;
  }
}

int tgtpmem_lun_publish(tgtpmem_lun* lun, const tgtpmem_lun_ident* ident) noexcept {
  try {
    namespace status = tgt_pmem::status;
    tgt_pmem::bs::LunFacts facts{lun->durability, lun->emulated, lun->uuid};
    auto doc = tgt_pmem::bs::status_document(*lun->lun, facts, lun->counters, *ident);
    tgt_pmem::bs::add_mirror_status(*lun, doc);
    const auto dir = status::tgtd_dir(ident->control_port);
    const std::string name =
        "lun." + std::to_string(ident->tid) + "." + std::to_string(ident->lun) + ".json";
    if (doc == lun->published && dir == lun->status_dir && name == lun->status_name) return 0;
    // The first file this tgtd writes: what is there was left by a tgtd that died.
    static bool swept = false;
    if (!std::exchange(swept, true)) status::sweep(dir, "lun.");
    if (!lun->status_name.empty() && (dir != lun->status_dir || name != lun->status_name))
      status::retract(lun->status_dir, lun->status_name);
    nlohmann::ordered_json text = doc;
    text["published"] = static_cast<long long>(std::time(nullptr));
    // Invalid UTF-8 in a name or path (tgt takes any bytes) is replaced, never thrown on.
    const std::string s =
        text.dump(1, '\t', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    if (const auto ec = status::publish(dir, name, s)) return -ec.value();
    lun->published = std::move(doc);
    lun->status_dir = dir;
    lun->status_name = name;
    return 0;
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  } catch (...) {
    return -EIO;
  }
}

void tgtpmem_lun_retract(tgtpmem_lun* lun) noexcept {
  if (lun->status_name.empty()) return;
  tgt_pmem::status::retract(lun->status_dir, lun->status_name);
  lun->status_name.clear();
  lun->published = nullptr;
}

int tgtpmem_lun_log_allowed(tgtpmem_lun* lun, std::uint64_t* suppressed) noexcept {
  try {
    std::lock_guard lock(lun->log_mu);
    const auto now = std::chrono::steady_clock::now();
    if (now - lun->log_window >= std::chrono::minutes(1)) {
      lun->log_window = now;
      lun->log_lines = 0;
    }
    if (lun->log_lines >= TGTPMEM_LOG_LINES_PER_MINUTE) {
      ++lun->log_suppressed;
      return 0;
    }
    ++lun->log_lines;
    if (suppressed) *suppressed = std::exchange(lun->log_suppressed, 0);
    return 1;
  } catch (...) {
    return 0;
  }
}

const char* tgtpmem_module_init(void) noexcept {
  try {
    static std::string forced;
    if (auto f = tgt_pmem::flush::prepare_process()) {
      forced = *f;
      return forced.c_str();
    }
  } catch (...) {
  }
  return nullptr;
}

const char* tgtpmem_tune_tgtd_heap(void) noexcept {
  try {
    static std::string line;
    line = tgt_pmem::bs::tune_tgtd_heap();
    return line.c_str();
  } catch (...) {
    return "bs_pmem: tgtd's malloc thresholds left as they are (out of memory)";
  }
}

const char* tgtpmem_version(void) noexcept {
  return "bs_pmem " TGTPMEM_VERSION " (built for tgt " TGTPMEM_TGT_VERSION ")";
}

}  // extern "C"
