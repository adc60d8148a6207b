// SPDX-License-Identifier: GPL-2.0-only
#include "mirror.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "mirror/generations.h"
#include "mirror/meta_open.h"
#include "mirror/meta_store.h"
#include "options.h"
#include "pmem_medium.h"

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

}  // namespace

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
