// SPDX-License-Identifier: GPL-2.0-only
// libFuzzer target: the push-mode wire protocol (iser_ext/src/protocol.cc; CHAP is left out).
// The whole input is given to every parser, in a buffer of exactly its size so that ASan sees
// any read past it; then the builders encode values made from the input's bytes. Besides the
// sanitizers' findings, a result that breaks the codec's contract aborts:
//   - at most one parser accepts an input, and only if parse_header agrees on its type;
//   - parsing is a function (the same input gives the same answer twice);
//   - parse -> encode gives back the input byte for byte (the parsers are strict), and
//     parsing that again gives the same value;
//   - a builder's output is at most kMaxMessageSize bytes, and what it built from a valid
//     value parses back to that value; from a value it cannot encode it builds nothing.
#include <tgt_pmem/push/protocol.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace tgt_pmem::push;
using Bytes = std::span<const std::byte>;

void check(bool ok) {
  if (!ok) std::abort();
}

// Reads fields for the builders from the input, zero once it runs out.
class Input {
 public:
  explicit Input(Bytes d) : d_(d) {}
  std::uint8_t u8() { return pos_ < d_.size() ? std::to_integer<std::uint8_t>(d_[pos_++]) : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return std::uint32_t{u16()} << 16 | u16(); }
  std::uint64_t u64() { return std::uint64_t{u32()} << 32 | u32(); }
  std::string str(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(u8()));
    return s;
  }

 private:
  Bytes d_;
  std::size_t pos_ = 0;
};

// One parser: if it accepts `msg`, the value must encode back to `msg` exactly and parse
// again to itself. Returns whether it accepted.
template <typename Parse, typename Encode>
bool check_parser(Bytes msg, MessageType type, Parse parse, Encode enc) {
  const auto v = parse(msg);
  const auto again = parse(msg);
  check(v.has_value() == again.has_value());
  if (!v) {
    check(v.error() == again.error());
    check(!to_string(v.error()).empty());
    return false;
  }
  check(*v == *again);
  const auto h = parse_header(msg);
  check(h.has_value() && h->type == type && h->length == msg.size());
  check(v->request_id == h->request_id);
  const std::vector<std::byte> out = enc(*v);
  check(out.size() <= kMaxMessageSize);
  check(out.size() == msg.size() && std::equal(out.begin(), out.end(), msg.begin()));
  const auto back = parse(out);
  check(back.has_value() && *back == *v);
  return true;
}

void check_parsers(Bytes msg) {
  const auto h = parse_header(msg);
  if (h) {
    check(msg.size() >= kHeaderSize && msg.size() <= kMaxMessageSize && h->length == msg.size());
  } else {
    check(!to_string(h.error()).empty());
  }

  int accepted = 0;
  accepted += check_parser(msg, MessageType::kConnect, parse_connect,
                           [](const Connect& v) { return encode(v); });
  accepted += check_parser(msg, MessageType::kConnectReply, parse_connect_reply,
                           [](const ConnectReply& v) { return encode(v); });
  accepted += check_parser(msg, MessageType::kChapResponse, parse_chap_response,
                           [](const ChapResponse& v) { return encode(v); });
  accepted += check_parser(msg, MessageType::kRegister, parse_register,
                           [](const Register& v) { return encode(v); });
  accepted += check_parser(msg, MessageType::kRegisterReply, parse_register_reply,
                           [](const RegisterReply& v) { return encode(v); });
  accepted += check_parser(msg, MessageType::kCommit, parse_commit,
                           [](const Commit& v) { return encode(v); });
  accepted += check_parser(msg, MessageType::kUnregister, parse_unregister,
                           [](const Unregister& v) { return encode(v); });
  accepted += check_parser(msg, MessageType::kMirrorState, parse_mirror_state,
                           [](const MirrorState& v) { return encode(v); });
  accepted += check_parser(msg, MessageType::kMirrorStateReply, parse_mirror_state_reply,
                           [](const MirrorStateReply& v) { return encode(v); });
  for (MessageType t : {MessageType::kCommitReply, MessageType::kUnregisterReply}) {
    accepted += check_parser(
        msg, t, [t](Bytes b) { return parse_simple_reply(t, b); },
        [t](const SimpleReply& v) { return encode(t, v); });
  }
  check(accepted <= 1);
  if (accepted == 1) check(h.has_value());
  // A parser that is not a reply type's refuses without reading.
  const auto wrong = parse_simple_reply(MessageType::kCommit, msg);
  check(!wrong && wrong.error() == ParseError::kWrongType);
}

// Encodes `v`; an empty result only when `encodable` is false; else the message parses back.
template <typename T, typename Parse>
void check_builder(const T& v, bool encodable, bool valid, std::vector<std::byte> out,
                   Parse parse) {
  check(out.size() <= kMaxMessageSize);
  check(out.empty() == !encodable);
  if (!encodable) return;
  const auto h = parse_header(out);
  check(h.has_value() && h->length == out.size() && h->request_id == v.request_id);
  const auto back = parse(std::span<const std::byte>(out));
  check(back.has_value() == valid);
  if (valid) check(*back == v);
}

bool name_ok(const std::string& s) {
  return s.size() <= kMaxNameLength && s.find('\0') == std::string::npos;
}

bool status_ok(Status s) {
  return static_cast<std::uint32_t>(s) <= static_cast<std::uint32_t>(Status::kInternal);
}

void check_builders(Bytes data) {
  Input in(data);
  // Small values favoured for statuses, lengths and counts so that valid ones are common.
  const auto status = [&in] {
    const std::uint8_t b = in.u8();
    return static_cast<Status>(b < 0xf0 ? b % 14 : in.u32());
  };

  Connect c;
  c.request_id = in.u32();
  c.lun = in.u64();
  c.initiator_name = in.str(in.u8());
  c.target_name = in.str(in.u16() % 300);
  const bool c_enc =
      c.initiator_name.size() <= kMaxNameLength && c.target_name.size() <= kMaxNameLength;
  check_builder(c, c_enc, c_enc && name_ok(c.initiator_name) && name_ok(c.target_name), encode(c),
                parse_connect);

  ConnectReply cr;
  cr.request_id = in.u32();
  cr.status = status();
  cr.lun_size = in.u64();
  cr.block_size = in.u32();
  cr.max_regions = in.u32();
  cr.max_exposed = in.u64();
  cr.chap_id = in.u8();
  for (auto& x : cr.chap_challenge) x = in.u8();
  check_builder(cr, true, status_ok(cr.status), encode(cr), parse_connect_reply);

  ChapResponse ch;
  ch.request_id = in.u32();
  ch.user = in.str(in.u16() % 300);
  for (auto& x : ch.response) x = in.u8();
  const bool ch_enc = ch.user.size() <= kMaxNameLength;
  check_builder(ch, ch_enc, ch_enc && name_ok(ch.user), encode(ch), parse_chap_response);

  Register r;
  r.request_id = in.u32();
  r.offset = in.u64();
  r.length = in.u64();
  r.access = in.u8();
  check_builder(r, true, r.access >= 1 && r.access <= 3, encode(r), parse_register);

  RegisterReply rr;
  rr.request_id = in.u32();
  rr.status = status();
  rr.handle = in.u32();
  rr.addr = in.u64();
  rr.rkey = in.u32();
  rr.length = in.u64();
  rr.flags = in.u8();  // kRegionFlushable (1) or nothing; any other bit is refused
  check_builder(rr, true, status_ok(rr.status) && (rr.flags & ~kKnownRegionFlags) == 0,
                encode(rr), parse_register_reply);

  Commit cm;
  cm.request_id = in.u32();
  cm.handle = in.u32();
  const std::size_t n = in.u8() % 140;
  for (std::size_t i = 0; i < n; ++i) cm.ranges.push_back(Range{in.u64(), in.u64()});
  const bool cm_enc = n <= kMaxCommitRanges;
  check_builder(cm, cm_enc, cm_enc, encode(cm), parse_commit);

  Unregister u;
  u.request_id = in.u32();
  u.handle = in.u32();
  check_builder(u, true, true, encode(u), parse_unregister);

  const auto generations = [&in] {
    return MirrorGenerations{in.u64(), in.u64(), in.u64(), in.u64()};
  };
  MirrorState ms;
  ms.request_id = in.u32();
  ms.flags = in.u8() % 4;  // kMirrorSet (1) or nothing; any other bit is refused
  ms.generations = generations();
  check_builder(ms, true, (ms.flags & ~kKnownMirrorStateFlags) == 0, encode(ms),
                parse_mirror_state);

  MirrorStateReply mr;
  mr.request_id = in.u32();
  mr.status = status();
  mr.role = static_cast<MirrorRole>(in.u8() % 4);  // 0-2 valid, 3 refused
  mr.generations = generations();
  check_builder(mr, true, status_ok(mr.status) && static_cast<std::uint32_t>(mr.role) <= 2,
                encode(mr), parse_mirror_state_reply);

  SimpleReply s;
  s.request_id = in.u32();
  s.status = status();
  const auto type = static_cast<MessageType>(in.u8() % 11);
  const bool s_enc = type == MessageType::kCommitReply || type == MessageType::kUnregisterReply;
  check_builder(s, s_enc, status_ok(s.status), encode(type, s),
                [type](Bytes b) { return parse_simple_reply(type, b); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::byte> msg(reinterpret_cast<const std::byte*>(data),
                                   reinterpret_cast<const std::byte*>(data) + size);
  check_parsers(msg);
  check_builders(msg);
  return 0;
}
