// SPDX-License-Identifier: GPL-2.0-only
#include "mirror.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "live_state.h"
#include "mirror/generations.h"
#include "mirror/meta_open.h"
#include "mirror/meta_store.h"
#include "options.h"
#include "pmem_medium.h"
#include "tgt_pmem/status/run_dir.h"

namespace tgt_pmem::admin {
namespace {

using bs::mirror::hex;

// Creates a missing file of `size` bytes (mode 0600). Error: errno text.
std::string create_file(const std::string& path, std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return std::strerror(errno);
  std::string error;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0 || ::fsync(fd) != 0)
    error = std::strerror(errno);
  ::close(fd);
  if (!error.empty()) ::unlink(path.c_str());
  return error;
}

// Which running tgtd serves a LUN with this metadata store ("" if none): its status files
// (bs_pmem(8), STATUS FILES) name the store of every mirrored LUN.
std::string served_by(const std::string& path) {
  std::error_code ec;
  const auto want = std::filesystem::weakly_canonical(path, ec);
  const auto root = status::tgtd_dir(0).parent_path();
  for (const auto& e : std::filesystem::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("tgtd.")) continue;
    int port = -1;
    try {
      port = std::stoi(name.substr(5));
    } catch (...) {
      continue;
    }
    const LiveState s = read_live_state(port);
    for (const auto& l : s.luns) {
      if (!l.contains("mirror") || !l["mirror"].is_object()) continue;
      std::error_code ec2;
      if (std::filesystem::weakly_canonical(l["mirror"].value("meta", std::string()), ec2) == want)
        return "the tgtd on control port " + std::to_string(port) + " serves it (target " +
               l.value("target", std::string("?")) + ", LUN " +
               std::to_string(l.value("lun", 0)) + "): delete that LUN first";
    }
  }
  return {};
}

}  // namespace

int run_mirror_role(const MirrorRoleArgs& a, Io& io) {
  namespace m = bs::mirror;
  if (auto who = served_by(a.path); !who.empty()) return fail(io, kExitRefused, a.path + ": " + who);
  auto opened = m::open_store(a.path, bs::Durability::kAuto);
  if (!opened) return fail(io, kExitCannotUse, a.path + ": " + opened.error());
  m::MetaStore& store = *opened->store;
  const m::Record r = store.record();
  const m::Role want = a.promote ? m::Role::kPrimary : m::Role::kSecondary;
  if (r.role == want)
    return fail(io, kExitRefused, a.path + ": already a " + std::string(to_string(want)));
  m::Generations g = r.generations;
  if (a.promote && g.current == 0)
    return fail(io, kExitRefused,
                a.path + ": a blank secondary: no primary ever completed a resync to it, so its "
                         "LUN holds no mirror's data; nothing to promote");
  std::string next;
  if (a.promote) {
    g = m::diverge(g, m::fresh_generation());
    next = "its old primary, once demoted, gets what changes here by a bitmap resync";
  } else if (g.bitmap != 0 && !a.discard) {
    // This copy went on alone: it holds acknowledged writes the other copy lacks. Making it
    // a secondary would have them overwritten: the administrator must say so.
    return fail(io, kExitRefused,
                a.path + ": this copy went on without its secondary since generation " +
                    hex(g.bitmap) + " (" + std::to_string(store.bitmap().marked()) +
                    " region(s) marked): it holds acknowledged writes the other copy may lack. "
                    "Keep it primary and demote the other copy, or discard its writes: "
                    "--discard-my-data");
  } else if (store.bitmap().marked() != 0 || g.bitmap != 0) {
    // Writes that may be on this copy only (in flight at a crash, or discarded on purpose):
    // the new primary must copy everything.
    g = m::Generations{0, 0, {g.current, g.history[0]}};
    next = "a full resync from the new primary (" + std::to_string(store.bitmap().marked()) +
           " region(s) here may differ from it)";
  } else {
    next = "a bitmap resync from the new primary";
  }
  if (auto s = store.update(want, g); !s)
    return fail(io, kExitCannotUse, a.path + ": the new record is not durable: " +
                                        s.error().message());
  if (a.json) {
    io.out << nlohmann::ordered_json{{"path", a.path},
                                     {"role", to_string(want)},
                                     {"current", hex(g.current)},
                                     {"bitmap", hex(g.bitmap)},
                                     {"next", next}}
                  .dump()
           << "\n";
  } else {
    io.out << (a.promote ? "promoted " : "demoted ") << a.path << ": mirror "
           << to_string(want) << ", " << m::describe(g) << "; next: " << next << "\n";
  }
  return kExitOk;
}

int run_mirror_format(const MirrorFormatArgs& a, Io& io) {
  namespace m = bs::mirror;
  const std::uint64_t need = m::store_size_for(a.lun_size, a.region_shift);
  // Mappings are whole pages: a new file gets a size of whole 4 KiB pages.
  const std::uint64_t size = (need + 4095) / 4096 * 4096;
  struct stat st {};
  if (::stat(a.path.c_str(), &st) != 0) {
    if (errno != ENOENT) return fail(io, kExitCannotUse, a.path + ": " + std::strerror(errno));
    if (auto e = create_file(a.path, size); !e.empty())
      return fail(io, kExitCannotUse, a.path + ": cannot create: " + e);
  }
  auto medium = bs::PmemMedium::open(a.path.c_str(), m::kBitmapOffset, bs::Durability::kAuto);
  if (!medium) return fail(io, kExitCannotUse, a.path + ": " + medium.error().message);
  if ((*medium)->size() < need)
    return fail(io, kExitRefused,
                a.path + ": " + std::to_string((*medium)->size()) + " bytes; a LUN of " +
                    std::to_string(a.lun_size) + " bytes needs " + std::to_string(need));
  if (auto old = m::MetaStore::open(**medium); old && !a.force) {
    const m::Record r = (*old)->record();
    return fail(io, kExitRefused,
                a.path + ": holds the mirror metadata of a " + to_string(r.role) + " (" +
                    m::describe(r.generations) + ", " +
                    std::to_string((*old)->bitmap().marked()) +
                    " regions marked); formatting loses it: --force");
  }
  m::Generations g;
  if (a.role == "primary") g.current = m::fresh_generation();
  const m::Role role = a.role == "primary" ? m::Role::kPrimary : m::Role::kSecondary;
  auto store = m::MetaStore::format(**medium, {role, g, a.lun_size, a.region_shift});
  if (!store) return fail(io, kExitCannotUse, a.path + ": " + store.error());
  const m::Record r = (*store)->record();
  if (a.json) {
    io.out << nlohmann::ordered_json{{"path", a.path},
                                     {"role", to_string(r.role)},
                                     {"lun_size", r.lun_size},
                                     {"region_size", std::uint64_t{1} << r.region_shift},
                                     {"regions", (*store)->bitmap().regions()},
                                     {"current", hex(r.generations.current)}}
                  .dump()
           << "\n";
  } else {
    io.out << "formatted " << a.path << ": mirror " << to_string(r.role) << " of a LUN of "
           << r.lun_size << " bytes, " << (*store)->bitmap().regions() << " regions of "
           << (std::uint64_t{1} << r.region_shift) << " bytes"
           << (r.generations.current ? ", generation " + hex(r.generations.current)
                                     : std::string(", blank: its primary copies everything"))
           << "\n";
  }
  return kExitOk;
}

int run_mirror_status(const MirrorStatusArgs& a, Io& io) {
  namespace m = bs::mirror;
  auto opened = m::open_store(a.path, bs::Durability::kAuto);
  if (!opened) return fail(io, kExitCannotUse, a.path + ": " + opened.error());
  const m::Record r = opened->store->record();
  const auto& b = opened->store->bitmap();
  if (a.json) {
    io.out << nlohmann::ordered_json{
                  {"path", a.path},
                  {"role", to_string(r.role)},
                  {"lun_size", r.lun_size},
                  {"region_size", std::uint64_t{1} << r.region_shift},
                  {"regions", b.regions()},
                  {"regions_marked", b.marked()},
                  {"current", hex(r.generations.current)},
                  {"bitmap", hex(r.generations.bitmap)},
                  {"history", {hex(r.generations.history[0]), hex(r.generations.history[1])}},
                  {"record_seq", r.seq}}
                  .dump()
           << "\n";
    return kExitOk;
  }
  io.out << a.path << ": mirror " << to_string(r.role) << "\n"
         << "  LUN size        " << r.lun_size << " bytes\n"
         << "  regions         " << b.regions() << " of " << (std::uint64_t{1} << r.region_shift)
         << " bytes, " << b.marked() << " marked (may differ from the other copy)\n"
         << "  generations     " << m::describe(r.generations) << "\n";
  return kExitOk;
}

}  // namespace tgt_pmem::admin
