// SPDX-License-Identifier: GPL-2.0-only
#include "push_steps.h"

#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <vector>

#include "tgt_pmem/text/size.h"

namespace tgt_pmem::push::tool {
namespace {

std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto colon = text.find(':');
    out.push_back(text.substr(0, colon));
    if (colon == std::string_view::npos) return out;
    text.remove_prefix(colon + 1);
  }
}

// fields [first, last) joined again with ':' (a path may contain colons).
std::string join(std::span<const std::string_view> fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i != 0) out += ':';
    out += fields[i];
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  std::unexpected<std::string> error(const std::string& what) const {
    return std::unexpected("step '" + std::string(text_) + "': " + what);
  }

  std::expected<std::uint64_t, std::string> size(std::string_view field, const char* what) const {
    auto v = text::parse_size(field);
    if (!v) return error(std::string(what) + ": " + v.error());
    return *v;
  }

  std::expected<std::size_t, std::string> handle(std::string_view field) const {
    std::size_t n = 0;
    if (field.size() < 2 || field[0] != 'h')
      return error("'" + std::string(field) + "' is not a handle (h0, h1, ...)");
    const auto [ptr, ec] = std::from_chars(field.data() + 1, field.data() + field.size(), n);
    if (ec != std::errc() || ptr != field.data() + field.size())
      return error("'" + std::string(field) + "' is not a handle (h0, h1, ...)");
    return n;
  }

  std::expected<std::uint64_t, std::string> seed(std::string_view field) const {
    std::uint64_t v = 0;
    int base = 10;
    if (field.size() > 2 && field[0] == '0' && (field[1] == 'x' || field[1] == 'X')) {
      field.remove_prefix(2);
      base = 16;
    }
    const auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), v, base);
    if (field.empty() || ec != std::errc() || ptr != field.data() + field.size())
      return error("seed '" + std::string(field) + "' is not a number");
    return v;
  }

 private:
  std::string_view text_;
};

std::expected<std::uint8_t, std::string> parse_access(const Parser& p, std::string_view field) {
  if (field == "r") return kRead;
  if (field == "w") return kWrite;
  if (field == "rw" || field == "wr") return static_cast<std::uint8_t>(kRead | kWrite);
  return p.error("access '" + std::string(field) + "' is not r, w or rw");
}

}  // namespace

std::expected<Step, std::string> parse_step(std::string_view text) {
  const Parser p(text);
  Step s;
  s.text = std::string(text);
  std::vector<std::string_view> f = split(text);
  if (f.size() > 1 && f.back().starts_with("expect=")) {
    const std::string_view want = f.back().substr(7);
    if (want == "refused")
      s.expect_refused = true;
    else if (want != "ok")
      return p.error("'" + std::string(f.back()) + "': expect=refused or expect=ok");
    f.pop_back();
  }
  const std::string_view kind = f[0];
  const std::size_t n = f.size();
  auto bad_form = [&](std::string_view form) { return p.error("expected " + std::string(form)); };

  if (kind == "register") {
    if (n != 4) return bad_form("register:OFFSET:LENGTH:r|w|rw");
    s.kind = StepKind::kRegister;
    auto off = p.size(f[1], "offset");
    if (!off) return std::unexpected(off.error());
    auto len = p.size(f[2], "length");
    if (!len) return std::unexpected(len.error());
    auto access = parse_access(p, f[3]);
    if (!access) return std::unexpected(access.error());
    s.offset = *off;
    s.length = *len;
    s.access = *access;
    return s;
  }

  if (kind == "write" || kind == "write-flush") {
    s.kind = kind == "write" ? StepKind::kWrite : StepKind::kWriteFlush;
    const std::string forms = std::string(kind) + ":hN:OFFSET:pattern:SEED:LEN or " +
                              std::string(kind) + ":hN:OFFSET:file:PATH";
    if (n < 5) return bad_form(forms);
    auto h = p.handle(f[1]);
    if (!h) return std::unexpected(h.error());
    auto off = p.size(f[2], "offset");
    if (!off) return std::unexpected(off.error());
    s.handle = *h;
    s.offset = *off;
    if (f[3] == "pattern" && n == 6) {
      auto seed = p.seed(f[4]);
      if (!seed) return std::unexpected(seed.error());
      auto len = p.size(f[5], "length");
      if (!len) return std::unexpected(len.error());
      s.seed = *seed;
      s.length = *len;
      return s;
    }
    if (f[3] == "file") {
      s.use_file = true;
      s.path = join(std::span(f).subspan(4));
      if (s.path.empty()) return p.error("empty PATH");
      return s;
    }
    return bad_form(forms);
  }

  if (kind == "read") {
    s.kind = StepKind::kRead;
    if (n < 6)
      return bad_form("read:hN:OFFSET:LEN:verify-pattern:SEED or read:hN:OFFSET:LEN:out:PATH");
    auto h = p.handle(f[1]);
    if (!h) return std::unexpected(h.error());
    auto off = p.size(f[2], "offset");
    if (!off) return std::unexpected(off.error());
    auto len = p.size(f[3], "length");
    if (!len) return std::unexpected(len.error());
    s.handle = *h;
    s.offset = *off;
    s.length = *len;
    if (f[4] == "verify-pattern" && n == 6) {
      auto seed = p.seed(f[5]);
      if (!seed) return std::unexpected(seed.error());
      s.seed = *seed;
      return s;
    }
    if (f[4] == "out") {
      s.use_file = true;
      s.path = join(std::span(f).subspan(5));
      if (s.path.empty()) return p.error("empty PATH");
      return s;
    }
    return bad_form("read:hN:OFFSET:LEN:verify-pattern:SEED or read:hN:OFFSET:LEN:out:PATH");
  }

  if (kind == "commit") {
    s.kind = StepKind::kCommit;
    if (n != 2 && n != 4) return bad_form("commit:hN or commit:hN:OFFSET:LEN");
    auto h = p.handle(f[1]);
    if (!h) return std::unexpected(h.error());
    s.handle = *h;
    s.whole_region = n == 2;
    if (n == 4) {
      auto off = p.size(f[2], "offset");
      if (!off) return std::unexpected(off.error());
      auto len = p.size(f[3], "length");
      if (!len) return std::unexpected(len.error());
      s.offset = *off;
      s.length = *len;
    }
    return s;
  }

  if (kind == "raf") {
    s.kind = StepKind::kReadAfterWrite;
    if (n != 4) return bad_form("raf:hN:OFFSET:LEN");
    auto h = p.handle(f[1]);
    if (!h) return std::unexpected(h.error());
    auto off = p.size(f[2], "offset");
    if (!off) return std::unexpected(off.error());
    auto len = p.size(f[3], "length");
    if (!len) return std::unexpected(len.error());
    s.handle = *h;
    s.offset = *off;
    s.length = *len;
    return s;
  }

  if (kind == "unregister") {
    s.kind = StepKind::kUnregister;
    if (n != 2) return bad_form("unregister:hN");
    auto h = p.handle(f[1]);
    if (!h) return std::unexpected(h.error());
    s.handle = *h;
    return s;
  }

  if (kind == "save-handle") {
    s.kind = StepKind::kSaveHandle;
    if (n < 3) return bad_form("save-handle:hN:PATH");
    auto h = p.handle(f[1]);
    if (!h) return std::unexpected(h.error());
    s.handle = *h;
    s.path = join(std::span(f).subspan(2));
    if (s.path.empty()) return p.error("empty PATH");
    return s;
  }

  if (kind == "write-raw") {
    s.kind = StepKind::kWriteRaw;
    // The path is in the middle: the last four fields are OFFSET:pattern:SEED:LEN.
    if (n < 6 || f[n - 3] != "pattern") return bad_form("write-raw:PATH:OFFSET:pattern:SEED:LEN");
    s.path = join(std::span(f).subspan(1, n - 5));
    if (s.path.empty()) return p.error("empty PATH");
    auto off = p.size(f[n - 4], "offset");
    if (!off) return std::unexpected(off.error());
    auto seed = p.seed(f[n - 2]);
    if (!seed) return std::unexpected(seed.error());
    auto len = p.size(f[n - 1], "length");
    if (!len) return std::unexpected(len.error());
    s.offset = *off;
    s.seed = *seed;
    s.length = *len;
    return s;
  }

  if (kind == "sleep") {
    s.kind = StepKind::kSleep;
    if (n != 2) return bad_form("sleep:SECONDS");
    double v = 0;
    const auto [ptr, ec] = std::from_chars(f[1].data(), f[1].data() + f[1].size(), v);
    if (f[1].empty() || ec != std::errc() || ptr != f[1].data() + f[1].size() || !(v >= 0) ||
        !std::isfinite(v))
      return p.error("'" + std::string(f[1]) + "' is not a number of seconds");
    s.seconds = v;
    return s;
  }

  return p.error("unknown step '" + std::string(kind) +
                 "' (register, write, read, commit, raf, unregister, save-handle, write-raw, "
                 "sleep)");
}

namespace {

// splitmix64's finaliser: a good 64-bit mix, so that nearby (seed, word) differ everywhere.
std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::byte pattern_byte(std::uint64_t seed_mix, std::uint64_t i) noexcept {
  return static_cast<std::byte>((mix(seed_mix + i / 8) >> (8 * (i % 8))) & 0xff);
}

}  // namespace

void fill_pattern(std::uint64_t seed, std::span<std::byte> out) noexcept {
  const std::uint64_t m = mix(seed);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = pattern_byte(m, i);
}

std::optional<std::size_t> first_pattern_mismatch(std::uint64_t seed,
                                                  std::span<const std::byte> data) noexcept {
  const std::uint64_t m = mix(seed);
  for (std::size_t i = 0; i < data.size(); ++i)
    if (data[i] != pattern_byte(m, i)) return i;
  return std::nullopt;
}

std::string format_handle(const RemoteRegion& remote) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "addr=0x%" PRIx64 " rkey=0x%" PRIx32 " length=%" PRIu64 "\n",
                remote.addr, remote.rkey, remote.length);
  return buf;
}

std::expected<RemoteRegion, std::string> parse_handle(std::string_view text) {
  RemoteRegion r;
  bool have_addr = false, have_rkey = false, have_length = false;
  while (!text.empty()) {
    const auto start = text.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const auto end = text.find_first_of(" \t\r\n");
    const std::string_view word = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end);
    const auto eq = word.find('=');
    if (eq == std::string_view::npos)
      return std::unexpected("handle file: '" + std::string(word) + "' is not KEY=VALUE");
    const std::string_view key = word.substr(0, eq);
    std::string_view value = word.substr(eq + 1);
    int base = 10;
    if (value.starts_with("0x") || value.starts_with("0X")) {
      value.remove_prefix(2);
      base = 16;
    }
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v, base);
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size())
      return std::unexpected("handle file: bad value in '" + std::string(word) + "'");
    if (key == "addr") {
      r.addr = v;
      have_addr = true;
    } else if (key == "rkey") {
      if (v > UINT32_MAX) return std::unexpected("handle file: rkey above 32 bits");
      r.rkey = static_cast<std::uint32_t>(v);
      have_rkey = true;
    } else if (key == "length") {
      r.length = v;
      have_length = true;
    } else {
      return std::unexpected("handle file: unknown key '" + std::string(key) + "'");
    }
  }
  if (!have_addr || !have_rkey || !have_length)
    return std::unexpected("handle file: needs addr=, rkey= and length=");
  return r;
}

}  // namespace tgt_pmem::push::tool
