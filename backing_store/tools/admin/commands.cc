// SPDX-License-Identifier: GPL-2.0-only
#include "commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "atomic_format.h"
#include "guarded.h"
#include "layout.h"
#include "progress.h"
#include "size.h"
#include "store.h"
#include "store_record.h"
#include "tgt_pmem/bs_pmem.h"
#include "tgt_pmem/flush/select.h"
#include "zero_scan.h"

namespace tgt_pmem::admin {

namespace {

constexpr std::uint32_t kBlockSizes[] = {512, 4096};

std::string with_size(std::uint64_t bytes) {
  return std::to_string(bytes) + " bytes (" + format_size(bytes) + ")";
}

// The size rules bs_pmem enforces when a LUN opens (pmem_medium.cc, c_api.cc), in its order.
std::optional<std::string> size_problem(std::uint64_t size, std::uint64_t alignment,
                                        std::uint32_t block_size) {
  if (size < TGTPMEM_MIN_SIZE)
    return "size " + std::to_string(size) + " is below the minimum of " +
           std::to_string(TGTPMEM_MIN_SIZE) + " bytes";
  if (alignment != 0 && size % alignment != 0)
    return "size " + std::to_string(size) + " is not a multiple of the mapping alignment " +
           std::to_string(alignment);
  if (size % block_size != 0)
    return "size " + std::to_string(size) + " is not a multiple of the block size " +
           std::to_string(block_size);
  return std::nullopt;
}

std::vector<std::uint32_t> accepted_block_sizes(std::uint64_t size, std::uint64_t alignment) {
  std::vector<std::uint32_t> out;
  for (const auto bs : kBlockSizes)
    if (!size_problem(size, alignment, bs)) out.push_back(bs);
  return out;
}

const char* forced_granularity() {
  const char* v = std::getenv("PMEM2_FORCE_GRANULARITY");
  return (v && *v) ? v : nullptr;
}


// The offset of the first non-zero byte of the store, nullopt if it reads as zeros. Files
// are read with pread(2) over their data extents (holes are zeros by definition); a devdax
// device, which has no read(2), through a read-only mapping under the SIGBUS guard.
std::expected<std::optional<std::uint64_t>, std::string> first_data_byte(const Store& store) {
  if (store.devdax()) {
    auto m = store.map();
    if (!m) return std::unexpected(m.error());
    return find_nonzero(m->bytes(), 0, store.size());
  }
  std::vector<unsigned char> buf(std::size_t{1} << 20);
  std::uint64_t pos = 0;
  while (pos < store.size()) {
    auto ext = store.data_extent(pos);
    if (!ext) return std::unexpected(ext.error());
    if (!*ext) return std::nullopt;
    for (std::uint64_t off = (*ext)->begin; off < (*ext)->end;) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), (*ext)->end - off));
      const ssize_t n = ::pread(store.fd(), buf.data(), want, static_cast<off_t>(off));
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(store.path() + ": read at offset " + std::to_string(off) + ": " +
                               std::strerror(errno));
      }
      if (n == 0) return std::nullopt;  // shrank under us: the rest is gone
      const auto* nz = std::find_if(buf.data(), buf.data() + n, [](unsigned char c) { return c != 0; });
      if (nz != buf.data() + n) return off + static_cast<std::uint64_t>(nz - buf.data());
      off += static_cast<std::uint64_t>(n);
    }
    pos = (*ext)->end;
  }
  return std::nullopt;
}

// The store's extents for zero_scan.h: a devdax device has no holes.
bs::ExtentQuery store_extents(const Store& store) {
  return [&store](std::uint64_t off) -> std::expected<bs::Medium::Extent, std::error_code> {
    if (store.devdax()) return bs::Medium::Extent{true, store.size()};
    return bs::file_extent_at(store.fd(), off, store.size());
  };
}

}  // namespace

int fail(Io& io, int code, const std::string& message) {
  io.err << "tgtpmem-admin: " << message << '\n';
  return code;
}

// --- create ---------------------------------------------------------------------------------

int run_create(const CreateArgs& a, Io& io) {
  const Layout* layout = layout_named(a.layout);
  if (!layout)
    return fail(io, kExitUsage, "unknown layout '" + a.layout + "' (known: " + layout_names() + ")");
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  if (a.size) {
    // The rules a file must meet; a devdax device is checked against its own alignment below.
    if (auto p = size_problem(*a.size, page, a.block_size))
      return fail(io, kExitUsage, "--size " + std::to_string(*a.size) + ": " + *p);
  }

  bool created = false;
  struct stat st {};
  if (::stat(a.path.c_str(), &st) != 0) {
    const int e = errno;
    if (e != ENOENT) return fail(io, kExitCannotUse, a.path + ": cannot stat: " + std::strerror(e));
    if (!a.size)
      return fail(io, kExitUsage, a.path + " does not exist: give --size to create it");
    const int fd = ::open(a.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return fail(io, kExitCannotUse, a.path + ": cannot create: " + std::strerror(errno));
    const int rc = ::ftruncate(fd, static_cast<off_t>(*a.size));
    const int e2 = errno;
    ::close(fd);
    if (rc != 0) {
      ::unlink(a.path.c_str());
      return fail(io, kExitCannotUse, a.path + ": cannot size it to " + std::to_string(*a.size) +
                                          " bytes: " + std::strerror(e2));
    }
    created = true;
  }
  // Whatever goes wrong after this point, a file we created ourselves does not stay behind.
  auto undo = [&] {
    if (created) ::unlink(a.path.c_str());
  };

  auto store = Store::open(a.path, Access::kReadWrite);
  if (!store) {
    undo();
    return fail(io, kExitCannotUse, store.error().message);
  }

  if (!created) {
    if (store->devdax()) {
      if (a.size && *a.size != store->size())
        return fail(io, kExitRefused, a.path + " is a devdax device of " + with_size(store->size()) +
                                          "; --size " + std::to_string(*a.size) +
                                          " cannot change it (omit --size)");
      if (auto p = size_problem(store->size(), store->alignment(), a.block_size))
        return fail(io, kExitCannotUse, a.path + ": bs_pmem cannot serve this device: " + *p);
    } else if (!a.size && store->size() == 0) {
      return fail(io, kExitUsage, a.path + " is empty: give --size");
    } else if (!a.size) {
      if (auto p = size_problem(store->size(), store->alignment(), a.block_size))
        return fail(io, kExitCannotUse, a.path + ": " + *p + " (give --size to resize it)");
    }
    // Never destroy data silently: a store that reads as anything but zeros needs --force.
    auto data = first_data_byte(*store);
    if (!data) return fail(io, kExitCannotUse, data.error());
    if (*data) {
      if (!a.force)
        return fail(io, kExitRefused,
                    a.path + " holds data (first non-zero byte at offset " + std::to_string(**data) +
                        "); refusing to overwrite it without --force");
      io.err << "tgtpmem-admin: " << a.path << " holds data; overwriting it (--force)\n";
    }
    if (!store->devdax() && a.size && *a.size != store->size()) {
      if (::ftruncate(store->fd(), static_cast<off_t>(*a.size)) != 0)
        return fail(io, kExitCannotUse, a.path + ": cannot resize it to " +
                                            std::to_string(*a.size) + " bytes: " + std::strerror(errno));
      store = Store::open(a.path, Access::kReadWrite);  // size and alignment again
      if (!store) return fail(io, kExitCannotUse, store.error().message);
    }
  }
  // The alignment libpmem2 reports is authoritative (a file system may want more than a page).
  if (auto p = size_problem(store->size(), store->alignment(), a.block_size)) {
    undo();
    return fail(io, created ? kExitUsage : kExitCannotUse, a.path + ": " + *p);
  }

  auto map = store->map();
  if (!map) {
    undo();
    return fail(io, kExitCannotUse, map.error());
  }
  auto flusher = flush::make_flusher(map->method(), store->devdax() ? -1 : store->fd());
  const std::uint64_t size = store->size();
  if (a.zero) {
    // Chunks of ~1% (1..64 MiB), each durable before the progress moves past it.
    const std::uint64_t chunk = std::clamp<std::uint64_t>(size / 100 / store->alignment() * store->alignment(),
                                                          std::uint64_t{1} << 20, std::uint64_t{64} << 20);
    Progress progress(io.err, io.err_is_terminal, "zeroing " + a.path, size);
    progress.update(0);
    for (std::uint64_t off = 0; off < size; off += chunk) {
      const std::uint64_t end = std::min(size, off + chunk);
      if (auto z = zero_range(map->bytes(), off, end, *flusher); !z) {
        undo();
        return fail(io, kExitCannotUse, a.path + ": " + z.error());
      }
      progress.update(end);
    }
    progress.finish();
  }
  if (auto f = layout->format(map->bytes(), a.block_size, *flusher, store_extents(*store)); !f) {
    undo();
    return fail(io, kExitCannotUse, a.path + ": writing the " + std::string(layout->name()) +
                                        " layout: " + f.error());
  }

  // A store made afresh: what bs_pmem recorded of the old one no longer holds.
  std::string forget_error;
  (void)bs::forget_store_record(bs::store_record_dir(), a.path, &forget_error);
  if (!forget_error.empty())
    io.err << "tgtpmem-admin: warning: the old record of " << a.path << " stays ("
           << forget_error << "): bs_pmem may refuse another block size\n";
  const bool recorded = layout->recorded_block_size(map->bytes()).has_value();
  if (a.json) {
    nlohmann::ordered_json j;
    j["path"] = a.path;
    j["created"] = created;
    j["medium"] = std::string(store->medium());
    j["size"] = size;
    j["layout"] = std::string(layout->name());
    j["block_size"] = a.block_size;
    j["block_size_recorded"] = recorded;
    j["zeroed"] = a.zero;
    j["durability"] = std::string(flush::to_string(map->method()));
    io.out << json_line(j);
  } else {
    io.out << (created ? "created " : "prepared ") << a.path << ": " << store->medium() << ", "
           << with_size(size) << ", layout " << layout->name() << (a.zero ? ", zeroed" : "")
           << ", durability " << flush::to_string(map->method()) << '\n';
    if (!recorded)
      io.out << "the " << layout->name() << " layout does not record the block size: serve it with "
             << "--bsopts \"block_size=" << a.block_size << "\"\n";
  }
  return kExitOk;
}

// --- info -----------------------------------------------------------------------------------

int run_info(const InfoArgs& a, Io& io) {
  auto store = Store::open(a.path, Access::kReadOnly);
  if (!store) return fail(io, kExitCannotUse, store.error().message);

  std::optional<Mapping> map;
  std::string map_error;
  if (auto m = store->map()) {
    map.emplace(std::move(*m));
  } else {
    map_error = m.error();
  }
  const Layout* layout = map ? &detect_layout(map->bytes()) : nullptr;
  // 0: not recorded (an optional here trips g++ 12's -Wmaybe-uninitialized)
  const std::uint32_t recorded = layout ? layout->recorded_block_size(map->bytes()).value_or(0) : 0;
  auto accepted = accepted_block_sizes(store->size(), store->alignment());
  // A layout that records its block size is served with that one only.
  if (recorded) std::erase_if(accepted, [&](std::uint32_t bs) { return bs != recorded; });
  const auto bad = store->bad_blocks();
  const char* forced = forced_granularity();

  if (a.json) {
    nlohmann::ordered_json j;
    j["path"] = a.path;
    j["medium"] = std::string(store->medium());
    j["size"] = store->size();
    j["alignment"] = store->alignment();
    j["layout"] = layout ? nlohmann::ordered_json(std::string(layout->name())) : nullptr;
    j["block_size"] = recorded ? nlohmann::ordered_json(recorded) : nullptr;
    j["accepted_block_sizes"] = accepted;
    j["store_granularity"] = map ? nlohmann::ordered_json(std::string(map->granularity())) : nullptr;
    j["forced_granularity"] = forced ? nlohmann::ordered_json(forced) : nullptr;
    j["durability"] =
        map ? nlohmann::ordered_json(std::string(flush::to_string(map->method()))) : nullptr;
    j["map_error"] = map ? nullptr : nlohmann::ordered_json(map_error);
    if (bad) {
      auto blocks = nlohmann::ordered_json::array();
      for (const auto& b : *bad) blocks.push_back({{"offset", b.offset}, {"length", b.length}});
      j["bad_blocks"] = std::move(blocks);
      j["bad_blocks_error"] = nullptr;
    } else {
      j["bad_blocks"] = nullptr;
      j["bad_blocks_error"] = bad.error();
    }
    io.out << json_line(j);
    return kExitOk;
  }

  auto line = [&](const char* name, const std::string& value) {
    std::string label = std::string(name) + ":";
    label.resize(16, ' ');
    io.out << label << value << '\n';
  };
  line("path", a.path);
  line("medium", std::string(store->medium()));
  line("size", with_size(store->size()));
  line("alignment", std::to_string(store->alignment()) + " bytes");
  line("layout", layout ? std::string(layout->name()) : "unknown (" + map_error + ")");
  line("block size", recorded ? std::to_string(recorded)
                              : "not recorded (set it with bsopts block_size=512|4096)");
  if (accepted.empty()) {
    line("servable", "no: " + *size_problem(store->size(), store->alignment(), 512));
  } else {
    std::string s = "yes, with block size";
    for (const auto bs : accepted) s += " " + std::to_string(bs);
    line("servable", s);
  }
  if (map) {
    line("granularity", std::string(map->granularity()) +
                            (forced ? std::string(" (PMEM2_FORCE_GRANULARITY=") + forced +
                                          ", which bs_pmem ignores)"
                                    : ""));
    line("durability", std::string(flush::to_string(map->method())));
  } else {
    line("durability", "unknown (" + map_error + ")");
  }
  if (!bad) {
    line("bad blocks", "unknown (" + bad.error() + ")");
  } else if (bad->empty()) {
    line("bad blocks", "none");
  } else {
    std::string s = std::to_string(bad->size()) + ":";
    for (const auto& b : *bad)
      s += " offset " + std::to_string(b.offset) + " length " + std::to_string(b.length) + ";";
    s.pop_back();
    line("bad blocks", s);
  }
  return kExitOk;
}

// --- check ----------------------------------------------------------------------------------

StoreCheck check_store(const std::string& path, std::optional<std::uint32_t> requested_block_size) {
  using V = Finding::Verdict;
  StoreCheck r;
  auto& findings = r.findings;
  auto add = [&](std::string name, V verdict, std::string detail) {
    findings.push_back({std::move(name), verdict, std::move(detail)});
  };
  std::uint32_t& block_size = r.block_size;
  block_size = requested_block_size.value_or(512);

  // Read-only throughout: the store is opened O_RDONLY and mapped PROT_READ.
  auto store = Store::open(path, Access::kReadOnly);
  r.opened = store.has_value();
  if (!store) {
    const auto& e = store.error();
    const bool missing = e.stage == Store::Stage::kExists;
    add("exists", missing ? V::kFailed : V::kOk, missing ? e.message : "yes");
    if (!missing) {
      const bool type = e.stage == Store::Stage::kType;
      add("type", type ? V::kFailed : V::kOk, type ? e.message : "file or character device");
      if (!type) {
        const bool open = e.stage == Store::Stage::kOpen;
        add("readable", open ? V::kFailed : V::kOk, open ? e.message : "yes");
        if (!open) add("libpmem2", V::kFailed, e.message);
      }
    }
  } else {
    add("exists", V::kOk, "yes");
    r.medium = std::string(store->medium());
    add("type", V::kOk, std::string(store->medium()));
    add("readable", V::kOk, "yes");
    // bs_pmem opens read-write and refuses anything else; ask without opening for writing.
    if (::faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) == 0) {
      add("writable", V::kOk, "yes");
    } else {
      add("writable", V::kFailed,
          path + ": not writable (" + std::strerror(errno) +
              "); bs_pmem serves writable backing stores only");
    }
    add("libpmem2", V::kOk, "accepted; mapping alignment " + std::to_string(store->alignment()));

    std::optional<Mapping> map;
    std::string map_error;
    if (auto m = store->map()) {
      map.emplace(std::move(*m));
    } else {
      map_error = m.error();
    }
    const Layout* layout = map ? &detect_layout(map->bytes()) : nullptr;
    if (layout) r.layout = std::string(layout->name());
    if (map) r.method = map->method();
    if (layout && !requested_block_size) {
      if (auto b = layout->recorded_block_size(map->bytes())) block_size = *b;
    }

    const std::uint64_t size = store->size();
    const bool min_ok = size >= TGTPMEM_MIN_SIZE;
    add("size.minimum", min_ok ? V::kOk : V::kFailed,
        min_ok ? with_size(size) + " >= 1 MiB"
               : *size_problem(size, store->alignment(), block_size));
    const bool align_ok = size % store->alignment() == 0;
    add("size.alignment", align_ok ? V::kOk : V::kFailed,
        align_ok ? "a multiple of the mapping alignment " + std::to_string(store->alignment())
                 : "size " + std::to_string(size) + " is not a multiple of the mapping alignment " +
                       std::to_string(store->alignment()));
    const bool bs_ok = size % block_size == 0;
    add("size.block", bs_ok ? V::kOk : V::kFailed,
        bs_ok ? "a multiple of the block size " + std::to_string(block_size)
              : "size " + std::to_string(size) + " is not a multiple of the block size " +
                    std::to_string(block_size));

    if (map) {
      add("map", V::kOk,
          "mapped; store granularity " + std::string(map->granularity()) + ", durability " +
              std::string(flush::to_string(map->method())));
    } else if (size == 0 || !align_ok) {
      add("map", V::kSkipped, "not tried: the size rules above fail");
    } else {
      add("map", V::kFailed, map_error);
    }

    if (auto bad = store->bad_blocks(); !bad) {
      add("bad-blocks", V::kWarning, "cannot be listed: " + bad.error());
    } else if (bad->empty()) {
      add("bad-blocks", V::kOk, "none reported by libpmem2");
    } else {
      std::string s = std::to_string(bad->size()) + " bad block range(s):";
      for (const auto& b : *bad)
        s += " offset " + std::to_string(b.offset) + " length " + std::to_string(b.length) + ";";
      s.pop_back();
      add("bad-blocks", V::kFailed, s + " (reads there fail with MEDIUM ERROR)");
    }

    if (layout && min_ok && align_ok && bs_ok) {
      layout->check(map->bytes(), block_size, findings);
    } else {
      add("layout", V::kSkipped, "not checked: the store cannot be mapped or sized for a LUN");
    }
  }
  r.ok = std::none_of(findings.begin(), findings.end(),
                      [](const Finding& f) { return f.verdict == V::kFailed; });
  return r;
}

std::expected<AtomicOpen, std::string> atomic_open_outcome(const std::string& path,
                                                         std::uint32_t block_size) {
  auto store = Store::open(path, Access::kReadOnly);
  if (!store) return std::unexpected(store.error().message);
  auto map = store->map();
  if (!map) return std::unexpected(map.error());
  if (detect_layout(map->bytes()).name() != "raw") return AtomicOpen::kHasHeader;
  auto g = bs::atomic::compute_geometry(store->size(), block_size);
  if (!g) return std::unexpected(g.error());
  auto scan = bs::scan_zero(std::min(g->data_offset, map->bytes().size()), bs::kOpenScanBudget,
                            store_extents(*store), bs::mapped_nonzero_finder(map->bytes().data()));
  if (!scan) return std::unexpected(path + ": " + scan.error());
  switch (scan->verdict) {
    case bs::ZeroScan::Verdict::kZero: return AtomicOpen::kFormats;
    case bs::ZeroScan::Verdict::kNonZero: return AtomicOpen::kRefusedData;
    case bs::ZeroScan::Verdict::kOverBudget: return AtomicOpen::kRefusedTooMuchData;
  }
  return std::unexpected(std::string("unknown scan verdict"));
}

const char* verdict_name(Finding::Verdict v) noexcept {
  switch (v) {
    case Finding::Verdict::kOk: return "ok";
    case Finding::Verdict::kWarning: return "warning";
    case Finding::Verdict::kFailed: return "failed";
    case Finding::Verdict::kSkipped: return "skipped";
  }
  return "?";
}

nlohmann::ordered_json findings_json(const std::vector<Finding>& findings) {
  auto checks = nlohmann::ordered_json::array();
  for (const auto& f : findings)
    checks.push_back({{"name", f.name}, {"result", verdict_name(f.verdict)}, {"detail", f.detail}});
  return checks;
}

std::string json_line(const nlohmann::ordered_json& document) {
  return document.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
}

int run_check(const CheckArgs& a, Io& io) {
  const StoreCheck r = check_store(a.path, a.block_size);
  const auto& findings = r.findings;
  const bool ok = r.ok;
  const std::uint32_t block_size = r.block_size;
  if (a.json) {
    nlohmann::ordered_json j;
    j["path"] = a.path;
    j["block_size"] = block_size;
    j["ok"] = ok;
    j["checks"] = findings_json(findings);
    io.out << json_line(j);
  } else {
    for (const auto& f : findings) {
      std::string v = verdict_name(f.verdict);
      v.resize(8, ' ');
      std::string n = f.name;
      n.resize(15, ' ');
      io.out << v << n << ' ' << f.detail << '\n';
    }
    io.out << (ok ? "check passed: bs_pmem can serve " : "check FAILED: bs_pmem cannot serve ")
           << a.path << " with block size " << block_size << '\n';
  }
  if (!r.opened) return kExitCannotUse;  // not even opened: the path itself is the problem
  return ok ? kExitOk : kExitCheckFailed;
}

int run_forget(const ForgetArgs& a, Io& io) {
  std::string error;
  const auto dir = bs::store_record_dir();
  if (bs::forget_store_record(dir, a.path, &error)) {
    io.out << "forgot " << a.path << ": bs_pmem takes it as a new store when a LUN opens it\n";
    return kExitOk;
  }
  if (!error.empty()) return fail(io, kExitCannotUse, error);
  io.out << a.path << ": no record in " << dir.string() << "\n";
  return kExitOk;
}

}  // namespace tgt_pmem::admin
