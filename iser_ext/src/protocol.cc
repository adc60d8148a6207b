// SPDX-License-Identifier: GPL-2.0-only
// The push-mode wire protocol, version 1: layouts and the checks that make every parser total
// over arbitrary bytes. The layouts are documented, byte by byte, in
// iser_ext/docs/push-protocol.md; the offsets below must stay in step with that file.
//
// Every field is read and written byte by byte, big-endian: no struct is laid over the bytes,
// nothing depends on alignment or host byte order, and every read is preceded by a check of
// the span's length. Parsers are strict: reserved bytes must be zero, statuses and access bits
// must be ones version 1 defines, and a message must be exactly as long as its fields, so that
// parse -> encode gives back the same bytes.
//
// CHAP lives in chap.cc, apart, so that the parsers need nothing but the C++ library (the fuzz
// target builds this file alone).
#include <tgt_pmem/push/protocol.h>

#include <algorithm>
#include <cstring>

#include <tgt_pmem/bytes/big_endian.h>

namespace tgt_pmem::push {
namespace {

using Bytes = std::span<const std::byte>;
using Out = std::span<std::byte>;

// Big-endian fields (tgt_pmem/bytes/big_endian.h). Callers have checked off + width <= size.
using bytes::load_be16;
using bytes::load_be32;
using bytes::load_be64;
using bytes::load_u8;
using bytes::store_be16;
using bytes::store_be32;
using bytes::store_be64;
using bytes::store_u8;

void put_bytes(Out b, std::size_t off, const void* src, std::size_t n) noexcept {
  if (n != 0) std::memcpy(b.data() + off, src, n);
}

std::unexpected<ParseError> fail(ParseError e) noexcept { return std::unexpected(e); }

// --- Layouts (offsets from the start of the message) ------------------------------------

namespace header {
constexpr std::size_t kMagic = 0;
constexpr std::size_t kVersion = 4;
constexpr std::size_t kType = 6;
constexpr std::size_t kLength = 8;
constexpr std::size_t kRequestId = 12;
}  // namespace header

// CONNECT: 32 fixed bytes, then the initiator name, then the target name (no padding).
namespace connect {
constexpr std::size_t kLun = 16;
constexpr std::size_t kInitiatorLength = 24;
constexpr std::size_t kTargetLength = 26;
constexpr std::size_t kReserved = 28;  // 4 bytes, zero
constexpr std::size_t kNames = 32;
constexpr std::size_t kFixedSize = 32;
}  // namespace connect

// CONNECT_REPLY: 64 bytes.
namespace connect_reply {
constexpr std::size_t kStatus = 16;
constexpr std::size_t kBlockSize = 20;
constexpr std::size_t kLunSize = 24;
constexpr std::size_t kMaxExposed = 32;
constexpr std::size_t kMaxRegions = 40;
constexpr std::size_t kChapId = 44;
constexpr std::size_t kReserved = 45;  // 3 bytes, zero
constexpr std::size_t kReservedSize = 3;
constexpr std::size_t kChapChallenge = 48;
constexpr std::size_t kSize = 64;
}  // namespace connect_reply

// CHAP_RESPONSE: 36 fixed bytes, then the user name.
namespace chap {
constexpr std::size_t kResponse = 16;
constexpr std::size_t kUserLength = 32;
constexpr std::size_t kReserved = 34;  // 2 bytes, zero
constexpr std::size_t kUser = 36;
constexpr std::size_t kFixedSize = 36;
}  // namespace chap

// REGISTER: 40 bytes.
namespace reg {
constexpr std::size_t kOffset = 16;
constexpr std::size_t kLength = 24;
constexpr std::size_t kAccess = 32;
constexpr std::size_t kReserved = 33;  // 7 bytes, zero
constexpr std::size_t kReservedSize = 7;
constexpr std::size_t kSize = 40;
}  // namespace reg

// REGISTER_REPLY: 48 bytes.
namespace reg_reply {
constexpr std::size_t kStatus = 16;
constexpr std::size_t kHandle = 20;
constexpr std::size_t kAddr = 24;
constexpr std::size_t kLength = 32;
constexpr std::size_t kRkey = 40;
constexpr std::size_t kFlags = 44;  // 4 bytes, RegionFlags (unknown bits refused)
constexpr std::size_t kSize = 48;
}  // namespace reg_reply

// COMMIT: 24 fixed bytes, then range count x 16 bytes (offset u64, length u64).
namespace commit {
constexpr std::size_t kHandle = 16;
constexpr std::size_t kRangeCount = 20;
constexpr std::size_t kRanges = 24;
constexpr std::size_t kFixedSize = 24;
constexpr std::size_t kRangeSize = 16;
}  // namespace commit

// UNREGISTER: 24 bytes.
namespace unreg {
constexpr std::size_t kHandle = 16;
constexpr std::size_t kReserved = 20;  // 4 bytes, zero
constexpr std::size_t kSize = 24;
}  // namespace unreg

// COMMIT_REPLY and UNREGISTER_REPLY: 24 bytes.
namespace simple {
constexpr std::size_t kStatus = 16;
constexpr std::size_t kReserved = 20;  // 4 bytes, zero
constexpr std::size_t kSize = 24;
}  // namespace simple

// MIRROR_STATE and MIRROR_STATE_REPLY: 56 bytes each, the generations at 24.
namespace mirror {
constexpr std::size_t kFlags = 16;     // MIRROR_STATE: MirrorStateFlags
constexpr std::size_t kReserved = 20;  // MIRROR_STATE: 4 bytes, zero
constexpr std::size_t kStatus = 16;    // MIRROR_STATE_REPLY
constexpr std::size_t kRole = 20;      // MIRROR_STATE_REPLY: MirrorRole
constexpr std::size_t kCurrent = 24;
constexpr std::size_t kBitmap = 32;
constexpr std::size_t kHistory0 = 40;
constexpr std::size_t kHistory1 = 48;
constexpr std::size_t kSize = 56;
}  // namespace mirror

constexpr std::uint8_t kAccessMask = kRead | kWrite;

bool known_status(std::uint32_t s) noexcept {
  return s <= static_cast<std::uint32_t>(Status::kInternal);
}

bool zero(Bytes b, std::size_t off, std::size_t n) noexcept {
  const Bytes r = b.subspan(off, n);
  return std::all_of(r.begin(), r.end(), [](std::byte x) { return x == std::byte{0}; });
}

// The header, the type, and at least `fixed` bytes. parse_header has made the span exactly
// as long as the length field says.
std::expected<Header, ParseError> expect(Bytes msg, MessageType type, std::size_t fixed) noexcept {
  auto h = parse_header(msg);
  if (!h) return fail(h.error());
  if (h->type != type) return fail(ParseError::kWrongType);
  if (msg.size() < fixed) return fail(ParseError::kTruncated);
  return h;
}

// A message whose size is fixed by its fields: shorter is truncated, longer is a length that
// disagrees with the fields.
std::expected<void, ParseError> exact(Bytes msg, std::size_t size) noexcept {
  if (msg.size() < size) return fail(ParseError::kTruncated);
  if (msg.size() > size) return fail(ParseError::kBadLength);
  return {};
}

// A name's bytes; the caller has checked its length and the span. A NUL would let a C
// comparison (tgt's ACLs and accounts are C strings) see a different name than the bytes.
std::expected<std::string, ParseError> get_name(Bytes b, std::size_t off, std::size_t n) {
  const Bytes r = b.subspan(off, n);
  if (std::find(r.begin(), r.end(), std::byte{0}) != r.end()) return fail(ParseError::kBadField);
  std::string s(n, '\0');
  if (n != 0) std::memcpy(s.data(), r.data(), n);
  return s;
}

// A zeroed message of `size` bytes with its header filled in.
std::vector<std::byte> start(MessageType type, std::size_t size, std::uint32_t request_id) {
  std::vector<std::byte> m(size, std::byte{0});
  const Out o(m);
  store_be32(o, header::kMagic, kMagic);
  store_be16(o, header::kVersion, kVersion);
  store_be16(o, header::kType, static_cast<std::uint16_t>(type));
  store_be32(o, header::kLength, static_cast<std::uint32_t>(size));
  store_be32(o, header::kRequestId, request_id);
  return m;
}

}  // namespace

std::string_view to_string(Status s) noexcept {
  switch (s) {
    case Status::kOk:
      return "ok";
    case Status::kChapRequired:
      return "CHAP authentication required";
    case Status::kNoSuchLun:
      return "no such push-enabled LUN";
    case Status::kNotAdmitted:
      return "initiator not admitted by the target's ACL";
    case Status::kAuthFailed:
      return "CHAP authentication failed";
    case Status::kBadRequest:
      return "malformed request or not allowed in this state";
    case Status::kOutOfRange:
      return "range outside the LUN or region, or not block aligned";
    case Status::kLimitReached:
      return "region or exposure limit reached";
    case Status::kNoSuchHandle:
      return "no such region handle on this connection";
    case Status::kAccessDenied:
      return "access denied";
    case Status::kIoError:
      return "I/O error making data durable";
    case Status::kUnsupported:
      return "unsupported version, access mode or layout";
    case Status::kInternal:
      return "internal target error";
  }
  return "unknown status";
}

std::string_view to_string(ParseError e) noexcept {
  switch (e) {
    case ParseError::kTruncated:
      return "message truncated";
    case ParseError::kBadMagic:
      return "bad magic";
    case ParseError::kBadVersion:
      return "unsupported protocol version";
    case ParseError::kBadLength:
      return "length field disagrees with the message";
    case ParseError::kWrongType:
      return "wrong message type";
    case ParseError::kBadField:
      return "reserved field value";
    case ParseError::kNameTooLong:
      return "name too long";
  }
  return "unknown parse error";
}

std::expected<Header, ParseError> parse_header(std::span<const std::byte> msg) noexcept {
  if (msg.size() < kHeaderSize) return fail(ParseError::kTruncated);
  if (load_be32(msg, header::kMagic) != kMagic) return fail(ParseError::kBadMagic);
  if (load_be16(msg, header::kVersion) != kVersion) return fail(ParseError::kBadVersion);
  const std::uint32_t length = load_be32(msg, header::kLength);
  if (length < kHeaderSize || length > kMaxMessageSize) return fail(ParseError::kBadLength);
  if (length > msg.size()) return fail(ParseError::kTruncated);
  if (length < msg.size()) return fail(ParseError::kBadLength);
  return Header{static_cast<MessageType>(load_be16(msg, header::kType)), length,
                load_be32(msg, header::kRequestId)};
}

// --- CONNECT ----------------------------------------------------------------------------

std::vector<std::byte> encode(const Connect& m) {
  const std::size_t ilen = m.initiator_name.size();
  const std::size_t tlen = m.target_name.size();
  if (ilen > kMaxNameLength || tlen > kMaxNameLength) return {};
  auto b = start(MessageType::kConnect, connect::kFixedSize + ilen + tlen, m.request_id);
  const Out o(b);
  store_be64(o, connect::kLun, m.lun);
  store_be16(o, connect::kInitiatorLength, static_cast<std::uint16_t>(ilen));
  store_be16(o, connect::kTargetLength, static_cast<std::uint16_t>(tlen));
  put_bytes(o, connect::kNames, m.initiator_name.data(), ilen);
  put_bytes(o, connect::kNames + ilen, m.target_name.data(), tlen);
  return b;
}

std::expected<Connect, ParseError> parse_connect(std::span<const std::byte> msg) {
  const auto h = expect(msg, MessageType::kConnect, connect::kFixedSize);
  if (!h) return fail(h.error());
  if (!zero(msg, connect::kReserved, 4)) return fail(ParseError::kBadField);
  const std::size_t ilen = load_be16(msg, connect::kInitiatorLength);
  const std::size_t tlen = load_be16(msg, connect::kTargetLength);
  if (ilen > kMaxNameLength || tlen > kMaxNameLength) return fail(ParseError::kNameTooLong);
  if (const auto e = exact(msg, connect::kFixedSize + ilen + tlen); !e) return fail(e.error());
  Connect c;
  c.request_id = h->request_id;
  c.lun = load_be64(msg, connect::kLun);
  auto initiator = get_name(msg, connect::kNames, ilen);
  if (!initiator) return fail(initiator.error());
  auto target = get_name(msg, connect::kNames + ilen, tlen);
  if (!target) return fail(target.error());
  c.initiator_name = std::move(*initiator);
  c.target_name = std::move(*target);
  return c;
}

// --- CONNECT_REPLY ----------------------------------------------------------------------

std::vector<std::byte> encode(const ConnectReply& m) {
  auto b = start(MessageType::kConnectReply, connect_reply::kSize, m.request_id);
  const Out o(b);
  store_be32(o, connect_reply::kStatus, static_cast<std::uint32_t>(m.status));
  store_be32(o, connect_reply::kBlockSize, m.block_size);
  store_be64(o, connect_reply::kLunSize, m.lun_size);
  store_be64(o, connect_reply::kMaxExposed, m.max_exposed);
  store_be32(o, connect_reply::kMaxRegions, m.max_regions);
  store_u8(o, connect_reply::kChapId, m.chap_id);
  put_bytes(o, connect_reply::kChapChallenge, m.chap_challenge.data(), kChapChallengeSize);
  return b;
}

std::expected<ConnectReply, ParseError> parse_connect_reply(std::span<const std::byte> msg) {
  const auto h = expect(msg, MessageType::kConnectReply, connect_reply::kSize);
  if (!h) return fail(h.error());
  if (const auto e = exact(msg, connect_reply::kSize); !e) return fail(e.error());
  const std::uint32_t status = load_be32(msg, connect_reply::kStatus);
  if (!known_status(status) || !zero(msg, connect_reply::kReserved, connect_reply::kReservedSize)) {
    return fail(ParseError::kBadField);
  }
  ConnectReply r;
  r.request_id = h->request_id;
  r.status = static_cast<Status>(status);
  r.block_size = load_be32(msg, connect_reply::kBlockSize);
  r.lun_size = load_be64(msg, connect_reply::kLunSize);
  r.max_exposed = load_be64(msg, connect_reply::kMaxExposed);
  r.max_regions = load_be32(msg, connect_reply::kMaxRegions);
  r.chap_id = load_u8(msg, connect_reply::kChapId);
  std::memcpy(r.chap_challenge.data(), msg.data() + connect_reply::kChapChallenge,
              kChapChallengeSize);
  return r;
}

// --- CHAP_RESPONSE ----------------------------------------------------------------------

std::vector<std::byte> encode(const ChapResponse& m) {
  const std::size_t ulen = m.user.size();
  if (ulen > kMaxNameLength) return {};
  auto b = start(MessageType::kChapResponse, chap::kFixedSize + ulen, m.request_id);
  const Out o(b);
  put_bytes(o, chap::kResponse, m.response.data(), kChapResponseSize);
  store_be16(o, chap::kUserLength, static_cast<std::uint16_t>(ulen));
  put_bytes(o, chap::kUser, m.user.data(), ulen);
  return b;
}

std::expected<ChapResponse, ParseError> parse_chap_response(std::span<const std::byte> msg) {
  const auto h = expect(msg, MessageType::kChapResponse, chap::kFixedSize);
  if (!h) return fail(h.error());
  if (!zero(msg, chap::kReserved, 2)) return fail(ParseError::kBadField);
  const std::size_t ulen = load_be16(msg, chap::kUserLength);
  if (ulen > kMaxNameLength) return fail(ParseError::kNameTooLong);
  if (const auto e = exact(msg, chap::kFixedSize + ulen); !e) return fail(e.error());
  auto user = get_name(msg, chap::kUser, ulen);
  if (!user) return fail(user.error());
  ChapResponse r;
  r.request_id = h->request_id;
  r.user = std::move(*user);
  std::memcpy(r.response.data(), msg.data() + chap::kResponse, kChapResponseSize);
  return r;
}

// --- REGISTER ---------------------------------------------------------------------------

std::vector<std::byte> encode(const Register& m) {
  auto b = start(MessageType::kRegister, reg::kSize, m.request_id);
  const Out o(b);
  store_be64(o, reg::kOffset, m.offset);
  store_be64(o, reg::kLength, m.length);
  store_u8(o, reg::kAccess, m.access);
  return b;
}

std::expected<Register, ParseError> parse_register(std::span<const std::byte> msg) {
  const auto h = expect(msg, MessageType::kRegister, reg::kSize);
  if (!h) return fail(h.error());
  if (const auto e = exact(msg, reg::kSize); !e) return fail(e.error());
  const std::uint8_t access = load_u8(msg, reg::kAccess);
  if (access == 0 || (access & ~kAccessMask) != 0 ||
      !zero(msg, reg::kReserved, reg::kReservedSize)) {
    return fail(ParseError::kBadField);
  }
  Register r;
  r.request_id = h->request_id;
  r.offset = load_be64(msg, reg::kOffset);
  r.length = load_be64(msg, reg::kLength);
  r.access = access;
  return r;
}

// --- REGISTER_REPLY ---------------------------------------------------------------------

std::vector<std::byte> encode(const RegisterReply& m) {
  auto b = start(MessageType::kRegisterReply, reg_reply::kSize, m.request_id);
  const Out o(b);
  store_be32(o, reg_reply::kStatus, static_cast<std::uint32_t>(m.status));
  store_be32(o, reg_reply::kHandle, m.handle);
  store_be64(o, reg_reply::kAddr, m.addr);
  store_be64(o, reg_reply::kLength, m.length);
  store_be32(o, reg_reply::kRkey, m.rkey);
  store_be32(o, reg_reply::kFlags, m.flags);
  return b;
}

std::expected<RegisterReply, ParseError> parse_register_reply(std::span<const std::byte> msg) {
  const auto h = expect(msg, MessageType::kRegisterReply, reg_reply::kSize);
  if (!h) return fail(h.error());
  if (const auto e = exact(msg, reg_reply::kSize); !e) return fail(e.error());
  const std::uint32_t status = load_be32(msg, reg_reply::kStatus);
  const std::uint32_t flags = load_be32(msg, reg_reply::kFlags);
  if (!known_status(status) || (flags & ~kKnownRegionFlags) != 0) {
    return fail(ParseError::kBadField);
  }
  RegisterReply r;
  r.request_id = h->request_id;
  r.status = static_cast<Status>(status);
  r.handle = load_be32(msg, reg_reply::kHandle);
  r.addr = load_be64(msg, reg_reply::kAddr);
  r.length = load_be64(msg, reg_reply::kLength);
  r.rkey = load_be32(msg, reg_reply::kRkey);
  r.flags = flags;
  return r;
}

// --- COMMIT -----------------------------------------------------------------------------

std::vector<std::byte> encode(const Commit& m) {
  const std::size_t n = m.ranges.size();
  if (n > kMaxCommitRanges) return {};
  auto b = start(MessageType::kCommit, commit::kFixedSize + n * commit::kRangeSize, m.request_id);
  const Out o(b);
  store_be32(o, commit::kHandle, m.handle);
  store_be32(o, commit::kRangeCount, static_cast<std::uint32_t>(n));
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t off = commit::kRanges + i * commit::kRangeSize;
    store_be64(o, off, m.ranges[i].offset);
    store_be64(o, off + 8, m.ranges[i].length);
  }
  return b;
}

std::expected<Commit, ParseError> parse_commit(std::span<const std::byte> msg) {
  const auto h = expect(msg, MessageType::kCommit, commit::kFixedSize);
  if (!h) return fail(h.error());
  const std::uint32_t n = load_be32(msg, commit::kRangeCount);
  if (n > kMaxCommitRanges) return fail(ParseError::kBadField);
  if (const auto e = exact(msg, commit::kFixedSize + std::size_t{n} * commit::kRangeSize); !e) {
    return fail(e.error());
  }
  Commit c;
  c.request_id = h->request_id;
  c.handle = load_be32(msg, commit::kHandle);
  c.ranges.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t off = commit::kRanges + i * commit::kRangeSize;
    c.ranges.push_back(Range{load_be64(msg, off), load_be64(msg, off + 8)});
  }
  return c;
}

// --- UNREGISTER -------------------------------------------------------------------------

std::vector<std::byte> encode(const Unregister& m) {
  auto b = start(MessageType::kUnregister, unreg::kSize, m.request_id);
  store_be32(Out(b), unreg::kHandle, m.handle);
  return b;
}

std::expected<Unregister, ParseError> parse_unregister(std::span<const std::byte> msg) {
  const auto h = expect(msg, MessageType::kUnregister, unreg::kSize);
  if (!h) return fail(h.error());
  if (const auto e = exact(msg, unreg::kSize); !e) return fail(e.error());
  if (!zero(msg, unreg::kReserved, 4)) return fail(ParseError::kBadField);
  return Unregister{h->request_id, load_be32(msg, unreg::kHandle)};
}

// --- MIRROR_STATE, MIRROR_STATE_REPLY ---------------------------------------------------

namespace {
void store_generations(Out o, const MirrorGenerations& g) noexcept {
  store_be64(o, mirror::kCurrent, g.current);
  store_be64(o, mirror::kBitmap, g.bitmap);
  store_be64(o, mirror::kHistory0, g.history0);
  store_be64(o, mirror::kHistory1, g.history1);
}
MirrorGenerations load_generations(Bytes msg) noexcept {
  return MirrorGenerations{load_be64(msg, mirror::kCurrent), load_be64(msg, mirror::kBitmap),
                           load_be64(msg, mirror::kHistory0), load_be64(msg, mirror::kHistory1)};
}
}  // namespace

std::vector<std::byte> encode(const MirrorState& m) {
  auto b = start(MessageType::kMirrorState, mirror::kSize, m.request_id);
  const Out o(b);
  store_be32(o, mirror::kFlags, m.flags);
  store_generations(o, m.generations);
  return b;
}

std::expected<MirrorState, ParseError> parse_mirror_state(std::span<const std::byte> msg) {
  const auto h = expect(msg, MessageType::kMirrorState, mirror::kSize);
  if (!h) return fail(h.error());
  if (const auto e = exact(msg, mirror::kSize); !e) return fail(e.error());
  const std::uint32_t flags = load_be32(msg, mirror::kFlags);
  if ((flags & ~kKnownMirrorStateFlags) != 0 || !zero(msg, mirror::kReserved, 4)) {
    return fail(ParseError::kBadField);
  }
  return MirrorState{h->request_id, flags, load_generations(msg)};
}

std::vector<std::byte> encode(const MirrorStateReply& m) {
  auto b = start(MessageType::kMirrorStateReply, mirror::kSize, m.request_id);
  const Out o(b);
  store_be32(o, mirror::kStatus, static_cast<std::uint32_t>(m.status));
  store_be32(o, mirror::kRole, static_cast<std::uint32_t>(m.role));
  store_generations(o, m.generations);
  return b;
}

std::expected<MirrorStateReply, ParseError> parse_mirror_state_reply(
    std::span<const std::byte> msg) {
  const auto h = expect(msg, MessageType::kMirrorStateReply, mirror::kSize);
  if (!h) return fail(h.error());
  if (const auto e = exact(msg, mirror::kSize); !e) return fail(e.error());
  const std::uint32_t status = load_be32(msg, mirror::kStatus);
  const std::uint32_t role = load_be32(msg, mirror::kRole);
  if (!known_status(status) || role > static_cast<std::uint32_t>(MirrorRole::kSecondary)) {
    return fail(ParseError::kBadField);
  }
  return MirrorStateReply{h->request_id, static_cast<Status>(status),
                          static_cast<MirrorRole>(role), load_generations(msg)};
}

// --- COMMIT_REPLY, UNREGISTER_REPLY -----------------------------------------------------

std::vector<std::byte> encode(MessageType type, const SimpleReply& m) {
  if (type != MessageType::kCommitReply && type != MessageType::kUnregisterReply) return {};
  auto b = start(type, simple::kSize, m.request_id);
  store_be32(Out(b), simple::kStatus, static_cast<std::uint32_t>(m.status));
  return b;
}

std::expected<SimpleReply, ParseError> parse_simple_reply(MessageType type,
                                                          std::span<const std::byte> msg) {
  if (type != MessageType::kCommitReply && type != MessageType::kUnregisterReply) {
    return fail(ParseError::kWrongType);
  }
  const auto h = expect(msg, type, simple::kSize);
  if (!h) return fail(h.error());
  if (const auto e = exact(msg, simple::kSize); !e) return fail(e.error());
  const std::uint32_t status = load_be32(msg, simple::kStatus);
  if (!known_status(status) || !zero(msg, simple::kReserved, 4)) {
    return fail(ParseError::kBadField);
  }
  return SimpleReply{h->request_id, static_cast<Status>(status)};
}

}  // namespace tgt_pmem::push
