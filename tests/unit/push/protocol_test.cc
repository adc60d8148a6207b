// SPDX-License-Identifier: GPL-2.0-only
// The push-mode wire protocol (iser_ext/docs/push-protocol.md) against messages written out
// byte by byte. All integers are big-endian; offsets are in the comments.
#include <tgt_pmem/push/protocol.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace tgt_pmem::push {
namespace {

using Msg = std::vector<std::byte>;

Msg from_hex(std::initializer_list<unsigned> v) {
  Msg m;
  for (unsigned x : v) m.push_back(static_cast<std::byte>(x));
  return m;
}

void append(Msg& m, std::string_view s) {
  for (char c : s) m.push_back(static_cast<std::byte>(c));
}

void set32(Msg& m, std::size_t off, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) m[off + i] = static_cast<std::byte>(v >> (24 - 8 * i));
}

void set16(Msg& m, std::size_t off, std::uint16_t v) {
  m[off] = static_cast<std::byte>(v >> 8);
  m[off + 1] = static_cast<std::byte>(v);
}

// Sets the header's length field to the message's size, as a sender would.
void fix_length(Msg& m) { set32(m, 8, static_cast<std::uint32_t>(m.size())); }

Msg prefix(const Msg& m, std::size_t n) { return Msg(m.begin(), m.begin() + static_cast<long>(n)); }

// --- Sample values ----------------------------------------------------------------------

Connect sample_connect() {
  return Connect{.request_id = 0x01020304,
                 .initiator_name = "iqn.2024-01.org.example:client",
                 .target_name = "iqn.2024-01.org.example:pmem0",
                 .lun = 0x1122334455667788};
}

ConnectReply sample_connect_reply() {
  return ConnectReply{.request_id = 9,
                      .status = Status::kOk,
                      .lun_size = 0x0000'0004'0000'0000,
                      .block_size = 4096,
                      .max_regions = 64,
                      .max_exposed = 0x0000'0001'0000'0000,
                      .chap_id = 0,
                      .chap_challenge = {}};
}

ConnectReply sample_chap_required() {
  ConnectReply r{.request_id = 10, .status = Status::kChapRequired, .chap_id = 0xa5};
  for (std::size_t i = 0; i < kChapChallengeSize; ++i) {
    r.chap_challenge[i] = static_cast<std::uint8_t>(0xf0 + i);
  }
  return r;
}

ChapResponse sample_chap_response() {
  ChapResponse r{.request_id = 11, .user = "alice"};
  for (std::size_t i = 0; i < kChapResponseSize; ++i) {
    r.response[i] = static_cast<std::uint8_t>(i * 7);
  }
  return r;
}

Register sample_register() {
  return Register{
      .request_id = 12, .offset = 0x10000, .length = 0x200000, .access = kRead | kWrite};
}

RegisterReply sample_register_reply() {
  return RegisterReply{.request_id = 13,
                       .status = Status::kOk,
                       .handle = 0xcafe,
                       .addr = 0x00007f12'34560000,
                       .rkey = 0xdeadbeef,
                       .length = 0x200000,
                       .flags = kRegionFlushable};
}

Commit sample_commit(std::size_t ranges) {
  Commit c{.request_id = 14, .handle = 0xcafe, .ranges = {}};
  for (std::size_t i = 0; i < ranges; ++i) {
    c.ranges.push_back(Range{.offset = i * 4096, .length = 512 + i});
  }
  return c;
}

Unregister sample_unregister() { return Unregister{.request_id = 15, .handle = 0xcafe}; }

// Every message type, encoded, with the parser for its type (the value check is done by the
// round-trip tests; these drive the generic error tests).
struct Case {
  std::string name;
  Msg bytes;
  std::function<std::expected<void, ParseError>(std::span<const std::byte>)> parse;
};

template <typename F>
std::function<std::expected<void, ParseError>(std::span<const std::byte>)> erase(F f) {
  return [f](std::span<const std::byte> b) -> std::expected<void, ParseError> {
    const auto r = f(b);
    if (!r) return std::unexpected(r.error());
    return {};
  };
}

std::vector<Case> all_cases() {
  return {
      {"connect", encode(sample_connect()), erase(parse_connect)},
      {"connect_reply", encode(sample_connect_reply()), erase(parse_connect_reply)},
      {"chap_required", encode(sample_chap_required()), erase(parse_connect_reply)},
      {"chap_response", encode(sample_chap_response()), erase(parse_chap_response)},
      {"register", encode(sample_register()), erase(parse_register)},
      {"register_reply", encode(sample_register_reply()), erase(parse_register_reply)},
      {"commit_whole", encode(sample_commit(0)), erase(parse_commit)},
      {"commit_ranges", encode(sample_commit(3)), erase(parse_commit)},
      {"unregister", encode(sample_unregister()), erase(parse_unregister)},
      {"commit_reply",
       encode(MessageType::kCommitReply, SimpleReply{.request_id = 16, .status = Status::kIoError}),
       erase([](std::span<const std::byte> b) {
         return parse_simple_reply(MessageType::kCommitReply, b);
       })},
      {"unregister_reply",
       encode(MessageType::kUnregisterReply, SimpleReply{.request_id = 17, .status = Status::kOk}),
       erase([](std::span<const std::byte> b) {
         return parse_simple_reply(MessageType::kUnregisterReply, b);
       })},
  };
}

// --- Round trips ------------------------------------------------------------------------

TEST(PushProtocol, RoundTripsConnect) {
  const Connect c = sample_connect();
  const Msg m = encode(c);
  ASSERT_EQ(m.size(), 32 + c.initiator_name.size() + c.target_name.size());
  const auto back = parse_connect(m);
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  EXPECT_EQ(*back, c);
  EXPECT_EQ(encode(*back), m);
}

TEST(PushProtocol, RoundTripsConnectWithEmptyAndLongestNames) {
  const Connect c{.request_id = 1,
                  .initiator_name = std::string(kMaxNameLength, 'i'),
                  .target_name = "",
                  .lun = 0};
  const auto back = parse_connect(encode(c));
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  EXPECT_EQ(*back, c);
}

TEST(PushProtocol, RoundTripsConnectReply) {
  for (const ConnectReply& r : {sample_connect_reply(), sample_chap_required()}) {
    const Msg m = encode(r);
    ASSERT_EQ(m.size(), 64u);
    const auto back = parse_connect_reply(m);
    ASSERT_TRUE(back.has_value()) << to_string(back.error());
    EXPECT_EQ(*back, r);
    EXPECT_EQ(encode(*back), m);
  }
}

TEST(PushProtocol, RoundTripsEveryStatus) {
  for (std::uint32_t s = 0; s <= static_cast<std::uint32_t>(Status::kInternal); ++s) {
    ConnectReply r = sample_connect_reply();
    r.status = static_cast<Status>(s);
    const auto back = parse_connect_reply(encode(r));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->status, r.status);
  }
}

TEST(PushProtocol, RoundTripsChapResponse) {
  const ChapResponse r = sample_chap_response();
  const Msg m = encode(r);
  ASSERT_EQ(m.size(), 36 + r.user.size());
  const auto back = parse_chap_response(m);
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  EXPECT_EQ(*back, r);
  EXPECT_EQ(encode(*back), m);
}

TEST(PushProtocol, RoundTripsRegister) {
  for (std::uint8_t access :
       {std::uint8_t{kRead}, std::uint8_t{kWrite}, static_cast<std::uint8_t>(kRead | kWrite)}) {
    Register r = sample_register();
    r.access = access;
    const Msg m = encode(r);
    ASSERT_EQ(m.size(), 40u);
    const auto back = parse_register(m);
    ASSERT_TRUE(back.has_value()) << to_string(back.error());
    EXPECT_EQ(*back, r);
    EXPECT_EQ(encode(*back), m);
  }
}

TEST(PushProtocol, RoundTripsRegisterReply) {
  const RegisterReply r = sample_register_reply();
  const Msg m = encode(r);
  ASSERT_EQ(m.size(), 48u);
  const auto back = parse_register_reply(m);
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  EXPECT_EQ(*back, r);
  EXPECT_EQ(encode(*back), m);
}

TEST(PushProtocol, RoundTripsCommit) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, kMaxCommitRanges}) {
    const Commit c = sample_commit(n);
    const Msg m = encode(c);
    ASSERT_EQ(m.size(), 24 + 16 * n);
    EXPECT_LE(m.size(), kMaxMessageSize);
    const auto back = parse_commit(m);
    ASSERT_TRUE(back.has_value()) << to_string(back.error());
    EXPECT_EQ(*back, c);
    EXPECT_EQ(encode(*back), m);
  }
}

TEST(PushProtocol, RoundTripsUnregister) {
  const Unregister u = sample_unregister();
  const Msg m = encode(u);
  ASSERT_EQ(m.size(), 24u);
  const auto back = parse_unregister(m);
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  EXPECT_EQ(*back, u);
  EXPECT_EQ(encode(*back), m);
}

// MIRROR_STATE (issue 16): every field where the documentation says, unknown flags, roles
// and statuses refused, reserved bytes checked.
TEST(PushProtocol, RoundTripsMirrorStateAndRefusesWhatV1DoesNotDefine) {
  const MirrorGenerations g{0x0102030405060708, 0x1112131415161718, 0x2122232425262728,
                            0x3132333435363738};
  const MirrorState q{.request_id = 77, .flags = kMirrorSet, .generations = g};
  const Msg m = encode(q);
  ASSERT_EQ(m.size(), 56u);
  EXPECT_EQ(m[16 + 3], std::byte{1}) << "flags, big-endian at 16";
  EXPECT_EQ(m[24], std::byte{0x01}) << "current at 24";
  EXPECT_EQ(m[48 + 7], std::byte{0x38}) << "history1 ends the message";
  const auto back = parse_mirror_state(m);
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  EXPECT_EQ(*back, q);
  EXPECT_EQ(encode(*back), m);
  Msg bad_flags = m;
  bad_flags[16 + 3] = std::byte{2};
  EXPECT_EQ(parse_mirror_state(bad_flags).error(), ParseError::kBadField);
  Msg reserved = m;
  reserved[21] = std::byte{1};
  EXPECT_EQ(parse_mirror_state(reserved).error(), ParseError::kBadField);
  Msg longer = m;
  longer.push_back(std::byte{0});
  set32(longer, 8, 57);
  EXPECT_FALSE(parse_mirror_state(longer).has_value());

  const MirrorStateReply r{.request_id = 78, .status = Status::kOk,
                           .role = MirrorRole::kSecondary, .generations = g};
  const Msg rm = encode(r);
  ASSERT_EQ(rm.size(), 56u);
  const auto rback = parse_mirror_state_reply(rm);
  ASSERT_TRUE(rback.has_value()) << to_string(rback.error());
  EXPECT_EQ(*rback, r);
  Msg bad_role = rm;
  bad_role[20 + 3] = std::byte{3};
  EXPECT_EQ(parse_mirror_state_reply(bad_role).error(), ParseError::kBadField);
  EXPECT_EQ(parse_mirror_state_reply(m).error(), ParseError::kWrongType);
}

TEST(PushProtocol, RoundTripsSimpleReplies) {
  for (MessageType t : {MessageType::kCommitReply, MessageType::kUnregisterReply}) {
    const SimpleReply r{.request_id = 0xffffffff, .status = Status::kNoSuchHandle};
    const Msg m = encode(t, r);
    ASSERT_EQ(m.size(), 24u);
    const auto back = parse_simple_reply(t, m);
    ASSERT_TRUE(back.has_value()) << to_string(back.error());
    EXPECT_EQ(*back, r);
    EXPECT_EQ(encode(t, *back), m);
  }
}

TEST(PushProtocol, ParsesHeaderOfEveryMessage) {
  const std::vector<std::pair<MessageType, Msg>> msgs = {
      {MessageType::kConnect, encode(sample_connect())},
      {MessageType::kConnectReply, encode(sample_connect_reply())},
      {MessageType::kChapResponse, encode(sample_chap_response())},
      {MessageType::kRegister, encode(sample_register())},
      {MessageType::kRegisterReply, encode(sample_register_reply())},
      {MessageType::kCommit, encode(sample_commit(2))},
      {MessageType::kCommitReply, encode(MessageType::kCommitReply, SimpleReply{.request_id = 5})},
      {MessageType::kUnregister, encode(sample_unregister())},
      {MessageType::kUnregisterReply,
       encode(MessageType::kUnregisterReply, SimpleReply{.request_id = 6})},
      {MessageType::kMirrorState, encode(MirrorState{.request_id = 7, .flags = 0, .generations = {}})},
      {MessageType::kMirrorStateReply, encode(MirrorStateReply{.request_id = 8, .status = Status::kOk, .role = MirrorRole::kNone, .generations = {}})},
  };
  for (const auto& [type, m] : msgs) {
    const auto h = parse_header(m);
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->type, type);
    EXPECT_EQ(h->length, m.size());
  }
  EXPECT_EQ(parse_header(encode(sample_register()))->request_id, 12u);
}

TEST(PushProtocol, HeaderReturnsUnknownTypeAsIs) {
  Msg m = encode(sample_unregister());
  set16(m, 6, 0x7777);
  const auto h = parse_header(m);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(static_cast<std::uint16_t>(h->type), 0x7777);
  EXPECT_EQ(parse_unregister(m).error(), ParseError::kWrongType);
}

// --- Golden encodings (the examples in iser_ext/docs/push-protocol.md) --------------------

TEST(PushProtocol, EncodesConnectAsDocumented) {
  const Msg golden = from_hex({
      0x54, 0x50, 0x50, 0x4d, 0x00, 0x01, 0x00, 0x01,  // "TPPM", version 1, CONNECT
      0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x07,  // length 48, request id 7
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,  // 16 LUN 2
      0x00, 0x08, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00,  // 24 name lengths 8, 8; reserved
      0x69, 0x71, 0x6e, 0x2e, 0x78, 0x3a, 0x63, 0x31,  // 32 "iqn.x:c1"
      0x69, 0x71, 0x6e, 0x2e, 0x78, 0x3a, 0x74, 0x31,  // 40 "iqn.x:t1"
  });
  const Connect c{
      .request_id = 7, .initiator_name = "iqn.x:c1", .target_name = "iqn.x:t1", .lun = 2};
  EXPECT_EQ(encode(c), golden);
  const auto back = parse_connect(golden);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, c);
}

TEST(PushProtocol, EncodesRegisterReplyAsDocumented) {
  const Msg golden = from_hex({
      0x54, 0x50, 0x50, 0x4d, 0x00, 0x01, 0x00, 0x05,  // "TPPM", version 1, REGISTER_REPLY
      0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x08,  // length 48, request id 8
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,  // 16 status kOk; 20 handle 3
      0x00, 0x00, 0x7f, 0x00, 0x12, 0x34, 0x00, 0x00,  // 24 addr 0x00007f0012340000
      0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00,  // 32 length 2 MiB
      0x12, 0x34, 0xab, 0xcd, 0x00, 0x00, 0x00, 0x01,  // 40 rkey 0x1234abcd; 44 flushable
  });
  const RegisterReply r{.request_id = 8,
                        .status = Status::kOk,
                        .handle = 3,
                        .addr = 0x00007f0012340000,
                        .rkey = 0x1234abcd,
                        .length = 0x200000,
                        .flags = kRegionFlushable};
  EXPECT_EQ(encode(r), golden);
  const auto back = parse_register_reply(golden);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, r);
}

// --- Lengths ----------------------------------------------------------------------------

// Cut anywhere, the length field still promising the whole message: truncated.
TEST(PushProtocol, RefusesEveryTruncation) {
  for (const Case& c : all_cases()) {
    ASSERT_TRUE(c.parse(c.bytes).has_value()) << c.name;
    for (std::size_t n = 0; n < c.bytes.size(); ++n) {
      const auto r = c.parse(prefix(c.bytes, n));
      ASSERT_FALSE(r.has_value()) << c.name << " cut at " << n;
      EXPECT_EQ(r.error(), ParseError::kTruncated) << c.name << " cut at " << n;
    }
  }
}

// Cut anywhere past the header with the length field made to agree: shorter than the fields.
TEST(PushProtocol, RefusesMessagesShorterThanTheirFields) {
  for (const Case& c : all_cases()) {
    for (std::size_t n = kHeaderSize; n < c.bytes.size(); ++n) {
      Msg m = prefix(c.bytes, n);
      fix_length(m);
      const auto r = c.parse(m);
      ASSERT_FALSE(r.has_value()) << c.name << " cut at " << n;
      EXPECT_EQ(r.error(), ParseError::kTruncated) << c.name << " cut at " << n;
    }
  }
}

TEST(PushProtocol, RefusesTrailingBytes) {
  for (const Case& c : all_cases()) {
    Msg m = c.bytes;
    m.push_back(std::byte{0});
    // Bytes beyond the length field.
    EXPECT_EQ(c.parse(m).error(), ParseError::kBadLength) << c.name;
    EXPECT_EQ(parse_header(m).error(), ParseError::kBadLength) << c.name;
    // The length field covers them, the fields do not.
    fix_length(m);
    EXPECT_EQ(c.parse(m).error(), ParseError::kBadLength) << c.name;
  }
}

TEST(PushProtocol, RefusesBadLengthFields) {
  const Msg good = encode(sample_unregister());  // 24 bytes
  for (std::uint32_t len : {0u, 1u, 15u}) {
    Msg m = good;
    set32(m, 8, len);
    EXPECT_EQ(parse_header(m).error(), ParseError::kBadLength) << len;
    EXPECT_EQ(parse_unregister(m).error(), ParseError::kBadLength) << len;
  }
  Msg m = good;
  set32(m, 8, 23);
  EXPECT_EQ(parse_unregister(m).error(), ParseError::kBadLength);
  set32(m, 8, 25);
  EXPECT_EQ(parse_unregister(m).error(), ParseError::kTruncated);
  set32(m, 8, 0xffffffff);
  EXPECT_EQ(parse_unregister(m).error(), ParseError::kBadLength);

  // Longer than any receive buffer, even if every byte is there.
  Msg big = encode(sample_commit(0));
  big.resize(kMaxMessageSize + 1);
  fix_length(big);
  EXPECT_EQ(parse_header(big).error(), ParseError::kBadLength);
  EXPECT_EQ(parse_commit(big).error(), ParseError::kBadLength);
}

TEST(PushProtocol, RefusesBadMagic) {
  for (const Case& c : all_cases()) {
    for (std::size_t i = 0; i < 4; ++i) {
      Msg m = c.bytes;
      m[i] ^= std::byte{0x20};
      EXPECT_EQ(parse_header(m).error(), ParseError::kBadMagic) << c.name;
      EXPECT_EQ(c.parse(m).error(), ParseError::kBadMagic) << c.name;
    }
  }
}

TEST(PushProtocol, RefusesOtherVersions) {
  for (const Case& c : all_cases()) {
    for (std::uint16_t v : {0, 2, 0x0100, 0xffff}) {
      Msg m = c.bytes;
      set16(m, 4, v);
      EXPECT_EQ(parse_header(m).error(), ParseError::kBadVersion) << c.name << " " << v;
      EXPECT_EQ(c.parse(m).error(), ParseError::kBadVersion) << c.name << " " << v;
    }
  }
}

TEST(PushProtocol, RefusesOtherTypes) {
  const auto cases = all_cases();
  for (const Case& parser : cases) {
    for (const Case& msg : cases) {
      const auto pt = parse_header(parser.bytes)->type;
      const auto mt = parse_header(msg.bytes)->type;
      if (pt == mt) continue;
      EXPECT_EQ(parser.parse(msg.bytes).error(), ParseError::kWrongType)
          << parser.name << " given " << msg.name;
    }
  }
  EXPECT_EQ(parse_simple_reply(MessageType::kCommit, encode(sample_commit(0))).error(),
            ParseError::kWrongType);
}

// --- Field checks -----------------------------------------------------------------------

Msg connect_bytes(std::uint16_t ilen, std::uint16_t tlen, std::string_view names) {
  // A CONNECT header (request id 1) and a zeroed fixed part (LUN 0, reserved 0).
  Msg m = from_hex({0x54, 0x50, 0x50, 0x4d, 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1});
  m.resize(32);
  set16(m, 24, ilen);
  set16(m, 26, tlen);
  append(m, names);
  fix_length(m);
  return m;
}

TEST(PushProtocol, RefusesNamesLongerThanTheLimit) {
  const std::string longest(kMaxNameLength, 'n');
  const std::string too_long(kMaxNameLength + 1, 'n');
  ASSERT_TRUE(parse_connect(connect_bytes(kMaxNameLength, 0, longest)).has_value());
  ASSERT_TRUE(parse_connect(connect_bytes(0, kMaxNameLength, longest)).has_value());
  EXPECT_EQ(parse_connect(connect_bytes(kMaxNameLength + 1, 0, too_long)).error(),
            ParseError::kNameTooLong);
  EXPECT_EQ(parse_connect(connect_bytes(0, kMaxNameLength + 1, too_long)).error(),
            ParseError::kNameTooLong);
  // The limit is checked before the bytes: a huge length in a short message.
  EXPECT_EQ(parse_connect(connect_bytes(0xffff, 0, "x")).error(), ParseError::kNameTooLong);

  ChapResponse r = sample_chap_response();
  r.user = longest;
  Msg m = encode(r);
  ASSERT_TRUE(parse_chap_response(m).has_value());
  m.push_back(std::byte{'n'});
  set16(m, 32, kMaxNameLength + 1);
  fix_length(m);
  EXPECT_EQ(parse_chap_response(m).error(), ParseError::kNameTooLong);

  // The builders refuse what they cannot encode rather than truncate it.
  Connect c = sample_connect();
  c.target_name = too_long;
  EXPECT_TRUE(encode(c).empty());
  r.user = too_long;
  EXPECT_TRUE(encode(r).empty());
}

TEST(PushProtocol, NameLengthsMustMatchTheMessage) {
  EXPECT_EQ(parse_connect(connect_bytes(3, 3, "abcde")).error(), ParseError::kTruncated);
  EXPECT_EQ(parse_connect(connect_bytes(3, 3, "abcdefg")).error(), ParseError::kBadLength);
  const auto ok = parse_connect(connect_bytes(3, 3, "abcdef"));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->initiator_name, "abc");
  EXPECT_EQ(ok->target_name, "def");
}

TEST(PushProtocol, RefusesNulInNames) {
  EXPECT_EQ(parse_connect(connect_bytes(3, 3, std::string_view("ab\0def", 6))).error(),
            ParseError::kBadField);
  EXPECT_EQ(parse_connect(connect_bytes(3, 3, std::string_view("abcde\0", 6))).error(),
            ParseError::kBadField);
  ChapResponse r = sample_chap_response();
  r.user = std::string("al\0ce", 5);
  EXPECT_EQ(parse_chap_response(encode(r)).error(), ParseError::kBadField);
}

TEST(PushProtocol, RefusesUnknownAccessBits) {
  for (unsigned access = 0; access < 256; ++access) {
    Register r = sample_register();
    r.access = static_cast<std::uint8_t>(access);
    const auto back = parse_register(encode(r));
    if (access >= 1 && access <= 3) {
      EXPECT_TRUE(back.has_value()) << access;
    } else {
      ASSERT_FALSE(back.has_value()) << access;
      EXPECT_EQ(back.error(), ParseError::kBadField) << access;
    }
  }
}

TEST(PushProtocol, RefusesUnknownStatus) {
  const auto bad = static_cast<Status>(static_cast<std::uint32_t>(Status::kInternal) + 1);
  ConnectReply c = sample_connect_reply();
  c.status = bad;
  EXPECT_EQ(parse_connect_reply(encode(c)).error(), ParseError::kBadField);
  RegisterReply r = sample_register_reply();
  r.status = static_cast<Status>(0xffffffff);
  EXPECT_EQ(parse_register_reply(encode(r)).error(), ParseError::kBadField);
  EXPECT_EQ(parse_simple_reply(MessageType::kCommitReply,
                               encode(MessageType::kCommitReply, SimpleReply{.status = bad}))
                .error(),
            ParseError::kBadField);
}

TEST(PushProtocol, RefusesNonZeroReservedBytes) {
  const std::vector<std::pair<Case, std::vector<std::size_t>>> reserved = {
      {all_cases()[0], {28, 29, 30, 31}}, {all_cases()[1], {45, 46, 47}},
      {all_cases()[3], {34, 35}},         {all_cases()[4], {33, 34, 35, 36, 37, 38, 39}},
      {all_cases()[8], {20, 21, 22, 23}},
      {all_cases()[9], {20, 21, 22, 23}}, {all_cases()[10], {20, 21, 22, 23}},
  };
  for (const auto& [c, offsets] : reserved) {
    for (std::size_t off : offsets) {
      Msg m = c.bytes;
      m[off] = std::byte{0x01};
      const auto r = c.parse(m);
      ASSERT_FALSE(r.has_value()) << c.name << " byte " << off;
      EXPECT_EQ(r.error(), ParseError::kBadField) << c.name << " byte " << off;
    }
  }
}

// REGISTER_REPLY's flags: kRegionFlushable (bit 0) is the only one; any other bit is refused,
// as reserved bytes are, so that a later version can give it meaning.
TEST(PushProtocol, RegisterReplyFlagsKnowOnlyFlushable) {
  RegisterReply plain = sample_register_reply();
  plain.flags = 0;
  const auto back = parse_register_reply(encode(plain));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->flags, 0u);
  const Msg flushable = encode(sample_register_reply());
  ASSERT_EQ(parse_register_reply(flushable)->flags, std::uint32_t{kRegionFlushable});
  for (std::size_t off : {44, 45, 46, 47}) {
    Msg m = flushable;
    m[off] |= std::byte{0x02};
    const auto r = parse_register_reply(m);
    ASSERT_FALSE(r.has_value()) << "byte " << off;
    EXPECT_EQ(r.error(), ParseError::kBadField) << "byte " << off;
  }
  RegisterReply unknown = sample_register_reply();
  unknown.flags = 0x80000000u | kRegionFlushable;
  EXPECT_EQ(parse_register_reply(encode(unknown)).error(), ParseError::kBadField);
}

TEST(PushProtocol, RefusesTooManyCommitRanges) {
  EXPECT_TRUE(encode(sample_commit(kMaxCommitRanges + 1)).empty());
  // 129 ranges, every byte present: the count alone is refused.
  Msg m = encode(sample_commit(kMaxCommitRanges));
  m.resize(m.size() + 16);
  set32(m, 20, kMaxCommitRanges + 1);
  fix_length(m);
  EXPECT_EQ(parse_commit(m).error(), ParseError::kBadField);
  set32(m, 20, 0xffffffff);
  EXPECT_EQ(parse_commit(m).error(), ParseError::kBadField);
}

TEST(PushProtocol, RefusesRangeCountDisagreeingWithLength) {
  Msg m = encode(sample_commit(2));  // 24 + 32 bytes
  set32(m, 20, 3);
  EXPECT_EQ(parse_commit(m).error(), ParseError::kTruncated);
  set32(m, 20, 1);
  EXPECT_EQ(parse_commit(m).error(), ParseError::kBadLength);
  set32(m, 20, 0);
  EXPECT_EQ(parse_commit(m).error(), ParseError::kBadLength);
  // Not a whole number of ranges.
  Msg odd = encode(sample_commit(1));
  odd.resize(odd.size() + 8);
  fix_length(odd);
  EXPECT_EQ(parse_commit(odd).error(), ParseError::kBadLength);
}

TEST(PushProtocol, BuildersStayWithinTheReceiveBuffer) {
  Connect c{.initiator_name = std::string(kMaxNameLength, 'a'),
            .target_name = std::string(kMaxNameLength, 'b')};
  EXPECT_LE(encode(c).size(), kMaxMessageSize);
  EXPECT_LE(encode(sample_commit(kMaxCommitRanges)).size(), kMaxMessageSize);
  ChapResponse r{.user = std::string(kMaxNameLength, 'u')};
  EXPECT_LE(encode(r).size(), kMaxMessageSize);
}

TEST(PushProtocol, SimpleReplyNeedsAReplyType) {
  EXPECT_TRUE(encode(MessageType::kCommit, SimpleReply{}).empty());
  EXPECT_TRUE(encode(MessageType::kConnectReply, SimpleReply{}).empty());
}

TEST(PushProtocol, NamesEveryStatusAndError) {
  std::set<std::string_view> seen;
  for (std::uint32_t s = 0; s <= static_cast<std::uint32_t>(Status::kInternal); ++s) {
    const auto name = to_string(static_cast<Status>(s));
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(seen.insert(name).second) << name;
  }
  EXPECT_EQ(to_string(static_cast<Status>(99)), "unknown status");
  seen.clear();
  for (std::uint8_t e = 0; e <= static_cast<std::uint8_t>(ParseError::kNameTooLong); ++e) {
    const auto name = to_string(static_cast<ParseError>(e));
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(seen.insert(name).second) << name;
  }
}

// --- CHAP -------------------------------------------------------------------------------

using Digest = std::array<std::uint8_t, kChapResponseSize>;

// Computed apart from this code:
//   printf '\x2atgt-pmem-secret\x00\x01...\x0f' | md5sum  -> d5cac41be142a4287293e8280a536570
//   printf '\x00\xff...\xff' (16 x 0xff) | md5sum      -> 947a695c84af1793c7a50a9c5f5ed21b
TEST(PushProtocol, ComputesChapResponse) {
  std::array<std::uint8_t, kChapChallengeSize> challenge{};
  for (std::size_t i = 0; i < challenge.size(); ++i) challenge[i] = static_cast<std::uint8_t>(i);
  const Digest expected = {0xd5, 0xca, 0xc4, 0x1b, 0xe1, 0x42, 0xa4, 0x28,
                           0x72, 0x93, 0xe8, 0x28, 0x0a, 0x53, 0x65, 0x70};
  EXPECT_EQ(chap_response(0x2a, "tgt-pmem-secret", challenge), expected);
  EXPECT_EQ(try_chap_response(0x2a, "tgt-pmem-secret", challenge), expected);

  std::array<std::uint8_t, kChapChallengeSize> ones;
  ones.fill(0xff);
  const Digest empty_secret = {0x94, 0x7a, 0x69, 0x5c, 0x84, 0xaf, 0x17, 0x93,
                               0xc7, 0xa5, 0x0a, 0x9c, 0x5f, 0x5e, 0xd2, 0x1b};
  EXPECT_EQ(chap_response(0, "", ones), empty_secret);
}

TEST(PushProtocol, VerifiesChapResponse) {
  std::array<std::uint8_t, kChapChallengeSize> challenge{};
  for (std::size_t i = 0; i < challenge.size(); ++i) challenge[i] = static_cast<std::uint8_t>(i);
  Digest r = chap_response(0x2a, "tgt-pmem-secret", challenge);
  EXPECT_TRUE(chap_verify(0x2a, "tgt-pmem-secret", challenge, r));
  EXPECT_FALSE(chap_verify(0x2b, "tgt-pmem-secret", challenge, r));
  EXPECT_FALSE(chap_verify(0x2a, "tgt-pmem-secreT", challenge, r));
  r[15] ^= 1;
  EXPECT_FALSE(chap_verify(0x2a, "tgt-pmem-secret", challenge, r));
}

// The secret is taken by length, not up to a NUL.
TEST(PushProtocol, ChapSecretMayHoldNul) {
  std::array<std::uint8_t, kChapChallengeSize> challenge{};
  EXPECT_NE(chap_response(1, std::string_view("ab\0c", 4), challenge),
            chap_response(1, std::string_view("ab", 2), challenge));
}

}  // namespace
}  // namespace tgt_pmem::push
