// SPDX-License-Identifier: GPL-2.0-only
#include "check_config.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <system_error>

#include "mirror/meta_open.h"
#include "options.h"
#include "store_record.h"
#include "tgt_config.h"
#include "zero_scan.h"

namespace tgt_pmem::admin {

namespace {

using V = Finding::Verdict;

std::string where(const ConfigPlace& p) { return p.file + ":" + std::to_string(p.line); }

// What the shell in tgt-admin's `tgtadm ... --bsopts VALUE` receives as one word, or why it
// does not: tgt-admin pastes the value into a shell command line unquoted.
std::expected<std::string, std::string> shell_word(const std::string& v) {
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') {
    const std::string inner = v.substr(1, v.size() - 2);
    if (inner.find('\'') == std::string::npos) return inner;
  }
  if (v.find_first_of(" \t;&|<>()$`\\\"'*?[#~") != std::string::npos)
    return std::unexpected(
        "bsopts " + v +
        ": tgt-admin passes it to a shell unquoted, where ';' ends the tgtadm command (and "
        "blanks or quotes split it): write bsopts '" + v +
        "' (single quotes; double quotes are removed by tgt-admin's config parser)");
  return v;
}

// bs_pmem's messages start with "bsopts: " (tgtd's log needs it); the finding is named so.
std::string without_bsopts_prefix(std::string m) {
  if (m.starts_with("bsopts: ")) m.erase(0, 8);
  return m;
}

struct LunReport {
  const ConfiguredLun* lun = nullptr;
  std::vector<Finding> findings;
  std::uint32_t block_size = 512;
  std::string layout, durability;
  bool ok = true;
};

LunReport check_lun(const ConfiguredLun& l) {
  LunReport r;
  r.lun = &l;
  auto add = [&](std::string name, V v, std::string detail) {
    r.findings.push_back({std::move(name), v, std::move(detail)});
  };

  // bsopts, as the shell and then bs_pmem see them.
  bs::Options opts;
  bool opts_ok = true;
  if (l.bsopts) {
    auto word = shell_word(*l.bsopts);
    if (!word) {
      add("bsopts.quoting", V::kFailed, word.error());
      opts_ok = false;
      // What bs_pmem would make of it once quoted right.
      std::string unquoted = *l.bsopts;
      std::erase(unquoted, '\'');
      if (auto o = bs::parse_options(unquoted); !o)
        add("bsopts", V::kFailed, without_bsopts_prefix(o.error()));
    } else if (auto o = bs::parse_options(*word); !o) {
      add("bsopts", V::kFailed, without_bsopts_prefix(o.error()));
      opts_ok = false;
    } else {
      opts = *o;
      add("bsopts", V::kOk, *word);
    }
  }

  // The block size, as bs_pmem settles it: bsopts block_size, else tgtadm --blocksize (which
  // tgt-admin takes from block-size), else tgt's 512.
  std::optional<std::uint32_t> tgtadm_bs;
  if (l.block_size) {
    if (*l.block_size == "512" || *l.block_size == "4096") {
      tgtadm_bs = static_cast<std::uint32_t>(std::stoul(*l.block_size));
    } else {
      add("block-size", V::kFailed,
          "block-size " + *l.block_size + ": bs_pmem serves 512 or 4096 only");
    }
  }
  std::uint32_t block_size = tgtadm_bs.value_or(512);
  if (opts_ok && opts.block_size) {
    if (tgtadm_bs && *tgtadm_bs != 512 && *tgtadm_bs != opts.block_size) {
      add("block-size", V::kFailed,
          "bsopts block_size=" + std::to_string(opts.block_size) + " conflicts with --blocksize " +
              std::to_string(*tgtadm_bs) + " (block-size " + *l.block_size + ")");
    }
    block_size = opts.block_size;
  }
  r.block_size = block_size;

  // The store, read-only, for that block size.
  StoreCheck store = check_store(l.path, block_size);
  for (auto& f : store.findings) {
    if (f.name == "exists" && f.verdict == V::kFailed)
      f.detail += ": tgt-admin skips such a LUN silently, and the target comes up without it";
    r.findings.push_back(std::move(f));
  }
  r.layout = store.layout;
  if (store.method) r.durability = std::string(flush::to_string(*store.method));

  if (opts_ok && !store.layout.empty()) {
    const bool want_atomic = opts.layout == bs::LayoutKind::kAtomic;
    if (want_atomic && store.layout != "atomic") {
      const auto outcome = atomic_open_outcome(l.path, block_size);
      if (outcome && *outcome == AtomicOpen::kFormats) {
        add("layout.match", V::kWarning,
            "bsopts layout=atomic and the store has no atomic layout header yet: bs_pmem "
            "formats it when the LUN first opens (its metadata area is zero)");
        r.layout = "atomic (to be formatted)";
      } else if (outcome && *outcome == AtomicOpen::kRefusedTooMuchData) {
        add("layout.match", V::kFailed,
            "bsopts layout=atomic, but the store has no atomic layout header, and its metadata "
            "area holds more allocated data than bs_pmem reads while opening a LUN (" +
                std::to_string(bs::kOpenScanBudget >> 20) +
                " MiB; a devdax device has no holes): bs_pmem refuses it. Format it once with "
                "tgtpmem-admin create PATH --layout atomic (--force if it holds data)");
      } else {
        add("layout.match", V::kFailed,
            "bsopts layout=atomic, but the store has no atomic layout header and holds data "
            "where the layout's metadata goes: bs_pmem refuses to format over existing data "
            "(zero it first, e.g. tgtpmem-admin create --layout atomic --force, or use "
            "layout=raw)");
      }
    } else if (!want_atomic && store.layout == "atomic") {
      add("layout.match", V::kFailed,
          "the store carries an atomic layout, but the LUN would serve it raw (bsopts "
          "layout=atomic is missing): initiators would see and overwrite its metadata");
    }
  }
  // A raw store against what bs_pmem recorded of it (bs_pmem(8), STORE RECORDS).
  if (opts_ok && store.layout == "raw" && opts.layout != bs::LayoutKind::kAtomic) {
    const int fd = ::open(l.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      const auto rec = bs::check_store_record(bs::store_record_dir(), l.path, fd, block_size,
                                              "/sys", /*record=*/false);
      ::close(fd);
      using RK = bs::StoreRecordCheck::Kind;
      if (rec.kind == RK::kRefused)
        add("record", V::kFailed, "bs_pmem refuses it: " + rec.message);
      else if (rec.kind == RK::kReplaced)
        add("record", V::kWarning,
            "another store than the one bs_pmem recorded for this path (re-created?): it will "
            "be recorded afresh when the LUN opens");
      else if (rec.kind == RK::kSame)
        add("record", V::kOk, "served before with " + std::to_string(block_size) + "-byte blocks");
    }
  }
  if (opts_ok && store.method) {
    const bool msync = *store.method == flush::Method::kMsync;
    if (opts.durability == bs::Durability::kCacheFlush && msync) {
      add("durability", V::kFailed,
          "durability=cache-flush would weaken it: it is not persistent memory and needs msync "
          "(durability=emulated treats a file as pmem knowingly, for tests: not power-safe)");
    } else if (opts.durability == bs::Durability::kEmulated && !msync) {
      add("durability", V::kFailed,
          "durability=emulated is for plain files, and this is persistent memory (durability " +
              r.durability + "): use durability=auto");
    } else if (opts.durability == bs::Durability::kEmulated) {
      add("durability", V::kWarning,
          "durability=emulated: cache flushes without msync survive a crash of tgtd, not a "
          "power loss (tests and demonstrations only)");
      r.durability = "cache-flush (emulated)";
    } else if (opts.durability == bs::Durability::kCacheFlush) {
      r.durability = "cache-flush";
    }
  }
  // A mirrored LUN's metadata store, as bs_pmem opens it (bs_pmem(8), MIRRORING).
  if (opts_ok && !opts.mirror_meta.empty() && store.opened) {
    namespace mirror = bs::mirror;
    auto lun = bs::PmemMedium::open(l.path.c_str(), 1, opts.durability);
    auto m = lun ? mirror::open_for_lun(opts.mirror_meta, (*lun)->size(), opts.durability)
                 : std::expected<mirror::OpenedMeta, std::string>(
                       std::unexpected(lun.error().message));
    if (!m) {
      add("mirror", V::kFailed, "bs_pmem refuses it: " + m.error());
    } else {
      const mirror::Record rec = m->store->record();
      if (auto why = mirror::role_conflict(rec.role, opts); !why.empty())
        add("mirror", V::kFailed, "bs_pmem refuses it: mirror_meta=" + opts.mirror_meta + ": " + why);
      else
        add("mirror", V::kOk,
            std::string(mirror::to_string(rec.role)) + " (" + mirror::describe(rec.generations) +
                "), " + std::to_string(m->store->bitmap().marked()) + " region(s) marked");
    }
  }
  r.ok = std::none_of(r.findings.begin(), r.findings.end(),
                      [](const Finding& f) { return f.verdict == V::kFailed; });
  return r;
}

std::string canonical(const std::string& path) {
  std::error_code ec;
  auto c = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : c.string();
}

}  // namespace

int run_check_config(const CheckConfigArgs& a, Io& io) {
  std::vector<std::string> files = a.files;
  if (files.empty()) files.push_back(kDefaultTgtConfig);
  const TgtConfig config = read_tgt_config(files);

  std::vector<ConfigProblem> problems = config.problems;
  // One backing store under two LUNs: each overwrites the other's data.
  std::map<std::string, const ConfiguredLun*> owner;
  for (const auto& l : config.luns) {
    auto [it, fresh] = owner.emplace(canonical(l.path), &l);
    if (!fresh)
      problems.push_back({l.place, l.path + " is also the backing store of target " +
                                       it->second->target + " (" + where(it->second->place) +
                                       "): two LUNs on one store overwrite each other's data"});
  }

  std::vector<LunReport> reports;
  std::size_t others = 0;
  for (const auto& l : config.luns) {
    if (l.bs_type == "pmem") {
      reports.push_back(check_lun(l));
    } else {
      ++others;
    }
  }
  const auto failed = static_cast<std::size_t>(
      std::count_if(reports.begin(), reports.end(), [](const LunReport& r) { return !r.ok; }));
  const bool ok = failed == 0 && problems.empty();

  if (a.json) {
    nlohmann::ordered_json j;
    j["ok"] = ok;
    j["files"] = config.files;
    j["problems"] = nlohmann::ordered_json::array();
    for (const auto& p : problems)
      j["problems"].push_back(
          {{"file", p.place.file}, {"line", p.place.line}, {"message", p.message}});
    j["luns"] = nlohmann::ordered_json::array();
    for (const auto& r : reports) {
      nlohmann::ordered_json lun;
      lun["file"] = r.lun->place.file;
      lun["line"] = r.lun->place.line;
      lun["target"] = r.lun->target;
      lun["lun"] = r.lun->lun.value_or("");
      lun["path"] = r.lun->path;
      lun["ok"] = r.ok;
      lun["block_size"] = r.block_size;
      lun["layout"] = r.layout;
      lun["durability"] = r.durability;
      lun["checks"] = findings_json(r.findings);
      j["luns"].push_back(std::move(lun));
    }
    j["other_luns"] = others;
    j["ignore_errors"] = config.ignore_errors;
    io.out << json_line(j);
  } else {
    for (const auto& p : problems) io.out << where(p.place) << ": " << p.message << '\n';
    for (const auto& r : reports) {
      io.out << where(r.lun->place) << ": target " << r.lun->target << ", lun "
             << r.lun->lun.value_or("(next free)") << ", " << r.lun->path << ": ";
      if (r.ok) {
        io.out << "ok (block size " << r.block_size << ", layout " << r.layout
               << ", durability " << r.durability << ")\n";
      } else {
        io.out << "FAILED\n";
      }
      for (const auto& f : r.findings)
        if (f.verdict == V::kFailed || f.verdict == V::kWarning)
          io.out << "    " << verdict_name(f.verdict) << ": " << f.name << ": " << f.detail << '\n';
    }
    io.out << "check-config: " << config.files.size() << " file(s), " << reports.size()
           << " pmem LUN(s): " << reports.size() - failed << " ok, " << failed
           << " failed; " << problems.size() << " problem(s) in the configuration";
    if (others) io.out << "; " << others << " LUN(s) of other backing-store types not checked";
    io.out << '\n';
    if (failed && !config.ignore_errors)
      io.out << "check-config: tgt-admin --execute (at boot) stops at the first refused LUN and "
                "creates no target after it; fix them, or set 'ignore-errors yes' at the top "
                "of targets.conf to have it go on\n";
  }
  if (config.named_file_unreadable) return kExitCannotUse;
  return ok ? kExitOk : kExitCheckFailed;
}

}  // namespace tgt_pmem::admin
