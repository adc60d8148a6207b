// SPDX-License-Identifier: GPL-2.0-only
#include "push_runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

namespace tgt_pmem::push::tool {
namespace {

using Clock = std::chrono::steady_clock;
// Why a step did not succeed. Only a refusal by the client library, the target or the RDMA
// device can satisfy expect=refused; a tool error (a file, a handle name) never does.
struct Failure {
  std::string reason;
  bool refused = false;
};
// ok: the details after "ok".
using Outcome = std::expected<std::string, Failure>;

std::unexpected<Failure> tool_error(std::string reason) {
  return std::unexpected(Failure{std::move(reason), false});
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

std::unexpected<Failure> failed(const std::error_code& ec) {
  return std::unexpected(Failure{ec.message(), true});
}

std::expected<std::vector<std::byte>, std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected("cannot open " + path + ": " + std::strerror(errno));
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::unexpected("cannot read " + path);
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

// Creates or truncates path and writes bytes to it. A symbolic link at path is not followed
// (O_NOFOLLOW): in a shared directory another user could plant one to have the tool overwrite,
// or create, a file of their choosing with our rights. An existing regular file is
// overwritten, as the man page says of out: and save-handle:.
std::expected<void, std::string> write_file(const std::string& path,
                                            std::span<const std::byte> bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0 && errno == ELOOP)
    return std::unexpected("cannot create " + path +
                           ": a symbolic link, not followed (remove it, or give the path it "
                           "points to)");
  if (fd < 0) return std::unexpected("cannot create " + path + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return std::unexpected("cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0)
    return std::unexpected("cannot write " + path + ": " + std::strerror(errno));
  return {};
}

class Session {
 public:
  explicit Session(Client& client) : client_(client) {}

  Outcome run(const Step& s) {
    switch (s.kind) {
      case StepKind::kRegister:
        return do_register(s);
      case StepKind::kWrite:
        return do_write(s);
      case StepKind::kWriteFlush:
        return do_write_flush(s);
      case StepKind::kRead:
        return do_read(s);
      case StepKind::kCommit:
        return do_commit(s);
      case StepKind::kReadAfterWrite:
        return with_region(s, [&](const Region& r) -> Outcome {
          if (auto f = client_.flush_read_after_write(r, s.offset, s.length); !f)
            return failed(f.error());
          return std::to_string(s.length) + " bytes durable (read-after-write)";
        });
      case StepKind::kUnregister:
        return with_region(s, [&](const Region& r) -> Outcome {
          if (auto u = client_.unregister(r); !u) return failed(u.error());
          return "handle " + std::to_string(r.handle) + " unregistered";
        });
      case StepKind::kSaveHandle:
        return with_region(s, [&](const Region& r) -> Outcome {
          const std::string text = format_handle(r.remote);
          if (auto w = write_file(s.path, std::as_bytes(std::span(text))); !w)
            return tool_error(w.error());
          return "saved to " + s.path;
        });
      case StepKind::kWriteRaw:
        return do_write_raw(s);
      case StepKind::kSleep:
        std::this_thread::sleep_for(std::chrono::duration<double>(s.seconds));
        return "slept";
    }
    return tool_error("unknown step");
  }

 private:
  template <class F>
  Outcome with_region(const Step& s, F f) {
    if (s.handle >= regions_.size())
      return tool_error("h" + std::to_string(s.handle) + " names no register step before");
    if (!regions_[s.handle])
      return tool_error("h" + std::to_string(s.handle) + " was not registered");
    return f(*regions_[s.handle]);
  }

  Outcome do_register(const Step& s) {
    // The name is the register step's position, whether or not the target granted it.
    regions_.emplace_back();
    auto r = client_.register_region(s.offset, s.length, s.access);
    if (!r) return failed(r.error());
    regions_.back() = *r;
    return "h" + std::to_string(regions_.size() - 1) + " handle=" + std::to_string(r->handle) +
           " addr=" + hex(r->remote.addr) + " rkey=" + hex(r->remote.rkey) +
           " length=" + std::to_string(r->remote.length) + (r->flushable ? " flushable" : "");
  }

  std::expected<std::vector<std::byte>, std::string> data_of(const Step& s) {
    if (s.use_file) return read_file(s.path);
    std::vector<std::byte> data;
    try {
      data.resize(s.length);
    } catch (const std::exception&) {
      return std::unexpected("cannot allocate " + std::to_string(s.length) + " bytes");
    }
    fill_pattern(s.seed, data);
    return data;
  }

  Outcome do_write(const Step& s) {
    return with_region(s, [&](const Region& r) -> Outcome {
      auto data = data_of(s);
      if (!data) return tool_error(data.error());
      if (auto w = client_.write(r, s.offset, *data); !w) return failed(w.error());
      return std::to_string(data->size()) + " bytes written";
    });
  }

  // The write made durable one-sidedly, by the method flush_method() resolves for the region.
  Outcome do_write_flush(const Step& s) {
    return with_region(s, [&](const Region& r) -> Outcome {
      auto method = client_.flush_method(r);
      if (!method) return failed(method.error());
      auto data = data_of(s);
      if (!data) return tool_error(data.error());
      if (auto w = client_.write_and_flush(r, s.offset, *data); !w) return failed(w.error());
      return std::to_string(data->size()) + " bytes written and durable (" +
             std::string(to_string(*method)) + ")";
    });
  }

  Outcome do_read(const Step& s) {
    return with_region(s, [&](const Region& r) -> Outcome {
      std::vector<std::byte> data;
      try {
        data.resize(s.length);
      } catch (const std::exception&) {
        return tool_error("cannot allocate " + std::to_string(s.length) + " bytes");
      }
      if (auto rd = client_.read(r, s.offset, data); !rd) return failed(rd.error());
      if (s.use_file) {
        if (auto w = write_file(s.path, data); !w) return tool_error(w.error());
        return std::to_string(data.size()) + " bytes read to " + s.path;
      }
      // Not a refusal: the target let us read, the data is wrong.
      if (auto bad = first_pattern_mismatch(s.seed, data))
        return tool_error("data mismatch at byte " + std::to_string(*bad) +
                          " of the read (region offset " + std::to_string(s.offset + *bad) + ")");
      return std::to_string(data.size()) + " bytes verified";
    });
  }

  Outcome do_commit(const Step& s) {
    return with_region(s, [&](const Region& r) -> Outcome {
      const Range range{s.offset, s.length};
      auto c = s.whole_region ? client_.commit(r) : client_.commit(r, {&range, 1});
      if (!c) return failed(c.error());
      return s.whole_region ? "region committed" : std::to_string(s.length) + " bytes committed";
    });
  }

  Outcome do_write_raw(const Step& s) {
    auto text = read_file(s.path);
    if (!text) return tool_error(text.error());
    auto remote =
        parse_handle(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()));
    if (!remote) return tool_error(remote.error());
    auto data = data_of(s);
    if (!data) return tool_error(data.error());
    if (auto w = client_.write_raw(*remote, s.offset, *data); !w) return failed(w.error());
    return std::to_string(data->size()) + " bytes written through rkey " + hex(remote->rkey);
  }

  Client& client_;
  std::vector<std::optional<Region>> regions_;
};

}  // namespace

bool run_steps(Client& client, std::span<const Step> steps, const LineSink& out) {
  Session session(client);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    const std::string prefix = "step " + std::to_string(i + 1) + " " + s.text + ": ";
    const auto start = Clock::now();
    const Outcome o = session.run(s);
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    const std::string took = " (" + std::to_string(us) + " us)";
    if (o && !s.expect_refused) {
      out(prefix + "ok " + *o + took);
    } else if (!o && o.error().refused && s.expect_refused) {
      out(prefix + "ok refused as expected: " + o.error().reason);
    } else if (o) {
      out(prefix + "FAILED succeeded (" + *o + "), but expect=refused");
      return false;
    } else {
      out(prefix + "FAILED " + o.error().reason);
      return false;
    }
  }
  return true;
}

}  // namespace tgt_pmem::push::tool
