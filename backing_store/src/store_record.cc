// SPDX-License-Identifier: GPL-2.0-only
#include "store_record.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tgt_pmem/status/run_dir.h"

namespace tgt_pmem::bs {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string canonical_path(const std::string& path) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(path, ec);
  return ec ? path : c.string();
}

// One file per store: the canonical path with '%' and '/' escaped.
std::string record_name(const std::string& canonical) {
  std::string n;
  for (const char c : canonical) {
    if (c == '%')
      n += "%25";
    else if (c == '/')
      n += "%2F";
    else
      n += c;
  }
  return n + ".json";
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return {};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string today(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  char buf[32];
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

}  // namespace

fs::path store_record_dir() {
  const char* env = std::getenv("TGTPMEM_STATE_DIR");
  return (env && *env) ? fs::path(env) : fs::path("/var/lib/tgt-pmem/stores");
}

StoreIdentity store_identity(int fd, const fs::path& sysfs_root) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {"file", ""};
  if (!S_ISCHR(st.st_mode))
    return {"file", std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)};
  // /sys/dev/char/M:m is the dax device; its parent, the nvdimm dax device, has the UUID of
  // the info block that made the namespace devdax (ndctl create-namespace -m devdax).
  const fs::path link = sysfs_root / "dev" / "char" /
                        (std::to_string(major(st.st_rdev)) + ":" +
                         std::to_string(minor(st.st_rdev)));
  std::error_code ec;
  const fs::path dev = fs::canonical(link, ec);
  if (ec) return {"devdax", ""};
  std::string uuid = read_text(dev.parent_path() / "uuid");
  while (!uuid.empty() && (uuid.back() == '\n' || uuid.back() == ' ')) uuid.pop_back();
  return {"devdax", uuid};
}

StoreRecordCheck check_store_record(const fs::path& dir, const std::string& path, int fd,
                                    std::uint32_t block_size, const fs::path& sysfs_root,
                                    bool record) noexcept {
  using K = StoreRecordCheck::Kind;
  try {
    const std::string canonical = canonical_path(path);
    const StoreIdentity id = store_identity(fd, sysfs_root);
    const std::string name = record_name(canonical);
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    StoreRecordCheck result;

    // A namespace recorded under another path: they were renumbered.
    if (id.kind == "devdax" && !id.id.empty()) {
      std::error_code ec;
      for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().filename() == name || it->path().extension() != ".json") continue;
        const json r = json::parse(read_text(it->path()), nullptr, false);
        if (r.is_discarded() || !r.is_object()) continue;
        if (r.value("kind", "") == "devdax" && r.value("id", "") == id.id) {
          const std::string other = r.value("path", "?");
          return {K::kRefused,
                  path + " is the devdax namespace (UUID " + id.id + ") served as " + other +
                      " with " + std::to_string(r.value("block_size", 0U)) + "-byte blocks (since " +
                      today(r.value("recorded", std::int64_t{0})) +
                      "): device names were renumbered? Serving it as " + path +
                      " would give that LUN's data to this one. Configure " + other +
                      " as it was; if the namespace really moved, run 'tgtpmem-admin forget " +
                      other + "'"};
        }
      }
    }

    const fs::path file = dir / name;
    const json old = json::parse(read_text(file), nullptr, false);
    // The same store (a devdax device whose sysfs has no UUID: the same path).
    if (old.is_object() && old.value("kind", "") == id.kind && old.value("id", "") == id.id) {
      const auto recorded_bs = old.value("block_size", 0U);
      if (recorded_bs != block_size)
        return {K::kRefused,
                path + " was served with " + std::to_string(recorded_bs) +
                    "-byte blocks (recorded " + today(old.value("recorded", std::int64_t{0})) +
                    " in " + file.string() + "); with " + std::to_string(block_size) +
                    "-byte blocks, initiators would read their partition tables and file "
                    "systems at the wrong offsets. Give bsopts block_size=" +
                    std::to_string(recorded_bs) + ", or, if the store starts afresh, run "
                    "'tgtpmem-admin forget " + path + "' (tgtpmem-admin create does it too)"};
      return {K::kSame, {}};
    }
    if (old.is_object()) {
      result.kind = K::kReplaced;
      result.message = path + " is another store than the one recorded for it (" +
                       old.value("kind", std::string("?")) + " " +
                       old.value("id", std::string("?")) + ", now " + id.kind + " " + id.id +
                       "): recorded afresh with " + std::to_string(block_size) + "-byte blocks";
    }
    if (!record) return result;
    json r;
    r["format"] = 1;
    r["path"] = canonical;
    r["kind"] = id.kind;
    r["id"] = id.id;
    r["block_size"] = block_size;
    r["recorded"] = now;
    if (const auto ec = tgt_pmem::status::publish(dir, name, r.dump(1, '\t') + "\n", /*durable=*/true))
      return {K::kUnrecorded,
              "no record of " + path + " kept (" + (dir / name).string() + ": " + ec.message() + ")"};
    return result;
  } catch (...) {
    return {K::kUnrecorded, "no record of " + path + " kept (out of memory)"};
  }
}

bool forget_store_record(const fs::path& dir, const std::string& path,
                         std::string* error) noexcept {
  try {
    const fs::path file = dir / record_name(canonical_path(path));
    if (::unlink(file.c_str()) == 0) {
      const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
      }
      return true;
    }
    if (errno != ENOENT && error) *error = file.string() + ": " + std::strerror(errno);
    return false;
  } catch (...) {
    if (error) *error = "out of memory";
    return false;
  }
}

}  // namespace tgt_pmem::bs
