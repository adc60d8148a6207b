// SPDX-License-Identifier: GPL-2.0-only
// libFuzzer target: the SRP information-unit codec (srp_ext/src/iu.*). The whole input is
// given to every parser as an IU, each input kept in a buffer of exactly its size so that
// ASan sees any read past it; then the builders write responses made from the input's bytes
// into buffers of input-chosen sizes, again exactly sized. Besides the sanitizers' findings,
// a result that breaks the codec's contract aborts:
//   - views a parser returns (CDB, immediate data, sense) lie inside its input;
//   - descriptor lists respect kMaxDescriptors and agree with the formats and lengths;
//   - parsing is a function (the same input gives the same answer twice);
//   - a builder returns 0 or a size within its buffer, and what it built parses back.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "iu.h"

namespace {

using namespace tgt_pmem::srp;

void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(const void* p, std::size_t n, std::span<const std::byte> iu) {
  const auto* b = static_cast<const std::byte*>(p);
  if (n == 0) return true;
  return b >= iu.data() && b <= iu.data() + iu.size() &&
         n <= static_cast<std::size_t>(iu.data() + iu.size() - b);
}

// Reads fields for the builders from the input, zero once it runs out.
class Input {
 public:
  explicit Input(std::span<const std::byte> d) : d_(d) {}
  std::uint8_t u8() { return pos_ < d_.size() ? std::to_integer<std::uint8_t>(d_[pos_++]) : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return std::uint32_t{u16()} << 16 | u16(); }
  std::uint64_t u64() { return std::uint64_t{u32()} << 32 | u32(); }
  std::span<const std::byte> rest() const { return d_.subspan(std::min(pos_, d_.size())); }

 private:
  std::span<const std::byte> d_;
  std::size_t pos_ = 0;
};

void check_buffer(BufferFormat f, const std::vector<Descriptor>& list, bool table_in_iu,
                  const Descriptor& table, std::uint64_t length) {
  check(list.size() <= kMaxDescriptors);
  std::uint64_t sum = 0;
  for (const Descriptor& d : list) sum += d.len;
  switch (f) {
    case BufferFormat::kNone:
      check(list.empty() && length == 0 && table_in_iu);
      break;
    case BufferFormat::kDirect:
      check(list.size() == 1 && length == list[0].len && table_in_iu);
      break;
    case BufferFormat::kIndirect:
      check(table.len % kDescriptorSize == 0 && table.len / kDescriptorSize <= kMaxDescriptors);
      check(list.size() <= table.len / kDescriptorSize);
      check(table_in_iu == (list.size() == table.len / kDescriptorSize));
      check(table_in_iu ? sum == length : sum <= length);
      check(length <= UINT32_MAX);
      break;
    case BufferFormat::kImmediate:
      check(list.empty() && length <= UINT32_MAX);
      break;
  }
}

void check_command(std::span<const std::byte> iu, std::uint32_t imm_offset) {
  const auto c = parse_command(iu, imm_offset);
  const auto again = parse_command(iu, imm_offset);
  check(c.has_value() == again.has_value());
  if (!c) {
    check(c.error() == again.error());
    return;
  }
  check(iu.size() >= kCommandFixedSize);
  check(c->cdb.size() >= 16 && (c->cdb.size() - 16) % 4 == 0);
  check(inside(c->cdb.data(), c->cdb.size(), iu));
  check(static_cast<const void*>(c->cdb.data()) == static_cast<const void*>(iu.data() + 32));
  check(c->data_in_format != BufferFormat::kImmediate);
  check_buffer(c->data_out_format, c->data_out, c->data_out_table_in_iu, c->data_out_table,
               c->data_out_length);
  check_buffer(c->data_in_format, c->data_in, c->data_in_table_in_iu, c->data_in_table,
               c->data_in_length);
  if (c->data_out_format == BufferFormat::kImmediate) {
    check(imm_offset != 0);
    check(c->immediate_data.size() == c->data_out_length);
    check(inside(c->immediate_data.data(), c->immediate_data.size(), iu));
    check(c->immediate_data.data() == iu.data() + imm_offset);
  } else {
    check(c->immediate_data.empty());
  }
}

void check_parsers(std::span<const std::byte> iu) {
  if (const auto t = iu_type(iu)) {
    check(!iu.empty() && static_cast<std::uint8_t>(*t) == std::to_integer<std::uint8_t>(iu[0]));
  } else {
    check(iu.empty() == (t.error() == ParseError::kTruncated));
  }

  if (const auto l = parse_login_request(iu)) {
    check(iu.size() == kLoginRequestRdmaSize || iu.size() >= kLoginRequestSize);
    check(l->multichannel <= 1);
    check(l->immediate_data || l->imm_data_offset == 0);
    check(l->imm_data_offset <= UINT16_MAX);
  } else {
    check(!to_string(l.error()).empty());
  }

  // No immediate data, Linux's offset, the smallest legal one, and one from the input (its
  // last two bytes) so that offsets inside and past the IU are both tried.
  check_command(iu, 0);
  check_command(iu, kLinuxImmDataOffset);
  check_command(iu, kCommandFixedSize);
  if (iu.size() >= 2) {
    const auto n = iu.size();
    check_command(iu, static_cast<std::uint32_t>(std::to_integer<std::uint8_t>(iu[n - 2]) << 8 |
                                                 std::to_integer<std::uint8_t>(iu[n - 1])));
  }

  if (const auto t = parse_descriptor_table(iu)) {
    check(!t->empty() && t->size() <= kMaxDescriptors && t->size() * kDescriptorSize == iu.size());
    std::uint64_t sum = 0;
    for (const Descriptor& d : *t) sum += d.len;
    check(parse_descriptor_table(iu, sum).has_value());
    check(!parse_descriptor_table(iu, sum + 1).has_value());
  }

  if (const auto t = parse_task_management(iu)) check(iu.size() >= kTaskManagementSize);
  if (const auto t = parse_initiator_logout(iu)) check(iu.size() >= kInitiatorLogoutSize);

  if (const auto r = parse_response(iu)) {
    check(iu.size() >= kResponseHeaderSize);
    check(inside(r->sense.data(), r->sense.size(), std::span(iu)));
  }
  (void)parse_login_response(iu);
}

// Builds into a buffer of exactly `size` bytes (ASan catches a write past it) and checks
// that the builder stayed within what it reports.
template <typename Build>
std::vector<std::byte> build_bounded(std::size_t size, Build build, std::size_t& used) {
  std::vector<std::byte> out(size, std::byte{0x5a});
  used = build(std::span(out));
  check(used <= out.size());
  for (std::size_t i = used; i < out.size(); ++i) check(out[i] == std::byte{0x5a});
  return out;
}

void check_builders(std::span<const std::byte> data) {
  Input in(data);

  Response r;
  r.tag = in.u64();
  r.req_lim_delta = static_cast<std::int32_t>(in.u32());
  r.status = in.u8();
  const std::uint8_t flags = in.u8();
  r.response_valid = flags & 1;
  r.response_code = in.u8();
  r.data_out_residual = static_cast<std::int64_t>(in.u64());
  r.data_in_residual = static_cast<std::int64_t>(in.u64());
  const std::size_t out_size = in.u16() % 512;
  const auto sense_src = in.rest();
  const std::vector<std::uint8_t> sense(reinterpret_cast<const std::uint8_t*>(sense_src.data()),
                                        reinterpret_cast<const std::uint8_t*>(sense_src.data()) +
                                            std::min<std::size_t>(sense_src.size(), 300));
  r.sense = sense;

  std::size_t used = 0;
  const auto out = build_bounded(
      out_size, [&](std::span<std::byte> o) { return build_response(r, o); }, used);
  const std::size_t fixed = kResponseHeaderSize + (r.response_valid ? 4 : 0);
  check((used == 0) == (out_size < fixed));
  if (used) {
    check(used == std::min(response_size(r), out_size));
    const auto back = parse_response(std::span(out).first(used));
    check(back.has_value());
    check(back->tag == r.tag && back->req_lim_delta == r.req_lim_delta && back->status == r.status);
    check(back->response_valid == r.response_valid);
    if (r.response_valid) check(back->response_code == r.response_code);
    check(back->sense.size() == used - fixed);
    check(std::equal(back->sense.begin(), back->sense.end(), r.sense.begin()));
    check((back->data_out_residual > 0) == (r.data_out_residual > 0));
    check((back->data_out_residual < 0) == (r.data_out_residual < 0));
    check((back->data_in_residual > 0) == (r.data_in_residual > 0));
    check((back->data_in_residual < 0) == (r.data_in_residual < 0));
    if (r.data_in_residual > 0 && r.data_in_residual <= INT64_C(0xffffffff))
      check(back->data_in_residual == r.data_in_residual);
  }

  Input lin(data.subspan(std::min<std::size_t>(data.size(), 3)));
  LoginResponse l;
  l.tag = lin.u64();
  l.req_lim_delta = static_cast<std::int32_t>(lin.u32());
  l.max_it_iu_len = lin.u32();
  l.max_ti_iu_len = lin.u32();
  l.buf_fmt = lin.u16();
  l.multichannel_result = lin.u8() % 3;
  l.immediate_data = lin.u8() & 1;
  const std::size_t l_size = lin.u8() % 80;
  const auto lout = build_bounded(
      l_size, [&](std::span<std::byte> o) { return build_login_response(l, o); }, used);
  check(used == (l_size >= kLoginResponseSize ? kLoginResponseSize : 0));
  if (used) {
    const auto back = parse_login_response(std::span(lout).first(used));
    check(back.has_value());
    check(back->tag == l.tag && back->req_lim_delta == l.req_lim_delta &&
          back->max_it_iu_len == l.max_it_iu_len && back->max_ti_iu_len == l.max_ti_iu_len &&
          back->buf_fmt == l.buf_fmt && back->multichannel_result == l.multichannel_result &&
          back->immediate_data == l.immediate_data);
  }

  const std::size_t rej_size = lin.u8() % 40;
  build_bounded(
      rej_size,
      [&](std::span<std::byte> o) {
        return build_login_reject(l.tag, RejectReason::kInsufficientResources, l.buf_fmt, o);
      },
      used);
  check(used == (rej_size >= kLoginRejectSize ? kLoginRejectSize : 0));

  const std::size_t logout_size = lin.u8() % 24;
  const auto tout = build_bounded(
      logout_size,
      [&](std::span<std::byte> o) { return build_target_logout(l.tag, l.max_it_iu_len, o); }, used);
  check(used == (logout_size >= kTargetLogoutSize ? kTargetLogoutSize : 0));
  if (used) check(iu_type(std::span(tout).first(used)) == IuType::kTLogout);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An exactly sized copy: libFuzzer's buffer is exact too, but keep it explicit.
  const std::vector<std::byte> iu(reinterpret_cast<const std::byte*>(data),
                                  reinterpret_cast<const std::byte*>(data) + size);
  check_parsers(iu);
  check_builders(iu);
  return 0;
}
