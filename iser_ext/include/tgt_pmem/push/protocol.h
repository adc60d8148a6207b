// SPDX-License-Identifier: GPL-2.0-only
// The push-mode wire protocol, version 1 (documented in iser_ext/docs/push-protocol.md):
// small messages carried by RDMA SEND/RECV on one reliable connection, made and read by
// pure functions. Both the target (inside tgtd) and the client library use this header.
//
// Every message starts with a 16-byte header, all integers big-endian:
//   0  magic "TPPM" (4)   4  version u16 (1)   6  type u16   8  length u32 (whole message)
//   12 request id u32 (chosen by the client, echoed in the reply)
// A session: CONNECT -> CONNECT_REPLY (status kChapRequired carries a challenge) ->
// [CHAP_RESPONSE -> CONNECT_REPLY] -> any number of REGISTER / COMMIT / UNREGISTER, each
// answered by its reply. At most one request is outstanding (the client waits).
//
// Installed with client.h (libtgtpmem-push-dev): the functions below are part of
// libtgtpmem-push.so's API (TGTPMEM_PUSH_API, export.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tgt_pmem/push/export.h"

namespace tgt_pmem::push {

inline constexpr std::uint32_t kMagic = 0x5450504d;  // "TPPM"
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 16;
// Receive buffers are this large; no message may be longer.
inline constexpr std::size_t kMaxMessageSize = 4096;
inline constexpr std::size_t kMaxNameLength = 223;      // iSCSI names (RFC 3720 3.2.6.1)
inline constexpr std::size_t kMaxCommitRanges = 128;
inline constexpr std::size_t kChapChallengeSize = 16;
inline constexpr std::size_t kChapResponseSize = 16;   // MD5 (RFC 1994)

enum class MessageType : std::uint16_t {
  kConnect = 1,
  kConnectReply = 2,
  kChapResponse = 3,
  kRegister = 4,
  kRegisterReply = 5,
  kCommit = 6,
  kCommitReply = 7,
  kUnregister = 8,
  kUnregisterReply = 9,
  kMirrorState = 10,       // a mirror primary asks (or sets) a secondary LUN's generations
  kMirrorStateReply = 11,
};

// Status codes of replies.
enum class Status : std::uint32_t {
  kOk = 0,
  kChapRequired = 1,      // CONNECT_REPLY: answer the challenge with CHAP_RESPONSE
  kNoSuchLun = 2,         // no push-enabled LUN by that target name and LUN number
  kNotAdmitted = 3,       // the target's ACL does not admit the initiator
  kAuthFailed = 4,        // CHAP response wrong or unknown user
  kBadRequest = 5,        // a malformed message or one not allowed in this state
  kOutOfRange = 6,        // range outside the LUN or not aligned to its block size
  kLimitReached = 7,      // regions per connection or bytes exposed
  kNoSuchHandle = 8,      // unknown handle, or not this connection's
  kAccessDenied = 9,      // e.g. COMMIT of a read-only region
  kIoError = 10,          // the durability method failed (EIO from msync/fdatasync)
  kUnsupported = 11,      // version, access mode or layout (push needs the raw layout)
  kInternal = 12,
};
[[nodiscard]] TGTPMEM_PUSH_API std::string_view to_string(Status s) noexcept;

enum class ParseError : std::uint8_t {
  kTruncated,    // shorter than the header, than its length field, or than its fields
  kBadMagic,
  kBadVersion,
  kBadLength,    // length field disagrees with the bytes, or exceeds kMaxMessageSize
  kWrongType,    // a parser for another type was given this message
  kBadField,     // a value the protocol reserves (unknown access bits, too many ranges...)
  kNameTooLong,
};
[[nodiscard]] TGTPMEM_PUSH_API std::string_view to_string(ParseError e) noexcept;

struct Header {
  MessageType type = MessageType::kConnect;
  std::uint32_t length = 0;
  std::uint32_t request_id = 0;
  friend bool operator==(const Header&, const Header&) = default;
};
// Checks magic, version and length (== bytes.size()); the type is returned as is (may be
// unknown: callers answer kBadRequest).
[[nodiscard]] TGTPMEM_PUSH_API std::expected<Header, ParseError> parse_header(
    std::span<const std::byte> msg) noexcept;

enum Access : std::uint8_t { kRead = 1, kWrite = 2 };

// CONNECT: names are length-prefixed (u16) strings, at most kMaxNameLength bytes.
struct Connect {
  std::uint32_t request_id = 0;
  std::string initiator_name;  // the client's iSCSI-style name, checked against -Q ACLs
  std::string target_name;     // the tgt target's name (IQN)
  std::uint64_t lun = 0;
  friend bool operator==(const Connect&, const Connect&) = default;
};
// CONNECT_REPLY.
struct ConnectReply {
  std::uint32_t request_id = 0;
  Status status = Status::kOk;
  std::uint64_t lun_size = 0;         // bytes (kOk)
  std::uint32_t block_size = 0;       // bytes (kOk)
  std::uint32_t max_regions = 0;      // per connection (kOk)
  std::uint64_t max_exposed = 0;      // bytes registered at once per connection (kOk)
  std::uint8_t chap_id = 0;           // kChapRequired: CHAP identifier ...
  std::array<std::uint8_t, kChapChallengeSize> chap_challenge{};  // ... and challenge
  friend bool operator==(const ConnectReply&, const ConnectReply&) = default;
};
struct ChapResponse {
  std::uint32_t request_id = 0;
  std::string user;
  std::array<std::uint8_t, kChapResponseSize> response{};  // MD5(id || secret || challenge)
  friend bool operator==(const ChapResponse&, const ChapResponse&) = default;
};
struct Register {
  std::uint32_t request_id = 0;
  std::uint64_t offset = 0;  // bytes into the LUN, a multiple of its block size
  std::uint64_t length = 0;  // bytes, a non-zero multiple of the block size
  std::uint8_t access = 0;   // Access bits
  friend bool operator==(const Register&, const Register&) = default;
};
// REGISTER_REPLY's flags (kOk): what the region offers besides the access asked for.
enum RegionFlags : std::uint32_t {
  // The target registered the region for RDMA FLUSH (IBTA Memory Placement Extensions) to the
  // persistence domain: a client on a FLUSH-capable connection may make its WRITEs durable
  // with RDMA FLUSH instead of COMMIT. Only ever set on regions with kWrite.
  kRegionFlushable = 1,
};
inline constexpr std::uint32_t kKnownRegionFlags = kRegionFlushable;

struct RegisterReply {
  std::uint32_t request_id = 0;
  Status status = Status::kOk;
  std::uint32_t handle = 0;   // names the region in COMMIT/UNREGISTER
  std::uint64_t addr = 0;     // RDMA address of the region's first byte
  std::uint32_t rkey = 0;     // valid on this connection only
  std::uint64_t length = 0;
  std::uint32_t flags = 0;    // RegionFlags (kOk); a parser refuses unknown bits
  friend bool operator==(const RegisterReply&, const RegisterReply&) = default;
};
struct Range {
  std::uint64_t offset = 0;  // bytes into the REGION
  std::uint64_t length = 0;
  friend bool operator==(const Range&, const Range&) = default;
};
// COMMIT: no ranges = the whole region.
struct Commit {
  std::uint32_t request_id = 0;
  std::uint32_t handle = 0;
  std::vector<Range> ranges;
  friend bool operator==(const Commit&, const Commit&) = default;
};
struct Unregister {
  std::uint32_t request_id = 0;
  std::uint32_t handle = 0;
  friend bool operator==(const Unregister&, const Unregister&) = default;
};
// COMMIT_REPLY and UNREGISTER_REPLY.
// MIRROR_STATE (issue 16, synchronous replication): the primary of a mirrored LUN reads the
// secondary LUN's role and generation identifiers, and - with kMirrorSet, once a resync has
// made the secondary equal to the primary - records new ones on it, durably, before the reply.
enum MirrorStateFlags : std::uint32_t { kMirrorSet = 1 };
inline constexpr std::uint32_t kKnownMirrorStateFlags = kMirrorSet;
struct MirrorGenerations {
  std::uint64_t current = 0;
  std::uint64_t bitmap = 0;
  std::uint64_t history0 = 0;
  std::uint64_t history1 = 0;
  friend bool operator==(const MirrorGenerations&, const MirrorGenerations&) = default;
};
struct MirrorState {
  std::uint32_t request_id = 0;
  std::uint32_t flags = 0;           // MirrorStateFlags; a parser refuses unknown bits
  MirrorGenerations generations;     // with kMirrorSet: what the secondary records
  friend bool operator==(const MirrorState&, const MirrorState&) = default;
};
// The LUN's mirror role, as its metadata says (MIRROR_STATE_REPLY).
enum class MirrorRole : std::uint32_t { kNone = 0, kPrimary = 1, kSecondary = 2 };
struct MirrorStateReply {
  std::uint32_t request_id = 0;
  Status status = Status::kOk;       // kUnsupported: the LUN has no mirror metadata
  MirrorRole role = MirrorRole::kNone;
  MirrorGenerations generations;     // the LUN's, after a kMirrorSet that succeeded
  friend bool operator==(const MirrorStateReply&, const MirrorStateReply&) = default;
};

struct SimpleReply {
  std::uint32_t request_id = 0;
  Status status = Status::kOk;
  friend bool operator==(const SimpleReply&, const SimpleReply&) = default;
};

// Builders return the encoded message (at most kMaxMessageSize bytes); the caller's values
// must be valid (names within kMaxNameLength, at most kMaxCommitRanges ranges).
// Values that cannot be encoded (a name longer than kMaxNameLength, more than
// kMaxCommitRanges ranges, a SimpleReply type other than the two below) give an EMPTY vector,
// never a truncated message. Other values are encoded as given, even ones the parsers refuse
// (unknown access bits or status, NUL in a name), so that tests can send them.
[[nodiscard]] TGTPMEM_PUSH_API std::vector<std::byte> encode(const Connect& m);
[[nodiscard]] TGTPMEM_PUSH_API std::vector<std::byte> encode(const ConnectReply& m);
[[nodiscard]] TGTPMEM_PUSH_API std::vector<std::byte> encode(const ChapResponse& m);
[[nodiscard]] TGTPMEM_PUSH_API std::vector<std::byte> encode(const Register& m);
[[nodiscard]] TGTPMEM_PUSH_API std::vector<std::byte> encode(const RegisterReply& m);
[[nodiscard]] TGTPMEM_PUSH_API std::vector<std::byte> encode(const Commit& m);
[[nodiscard]] TGTPMEM_PUSH_API std::vector<std::byte> encode(const Unregister& m);
[[nodiscard]] TGTPMEM_PUSH_API std::vector<std::byte> encode(const MirrorState& m);
[[nodiscard]] TGTPMEM_PUSH_API std::vector<std::byte> encode(const MirrorStateReply& m);
// type is kCommitReply or kUnregisterReply.
[[nodiscard]] TGTPMEM_PUSH_API std::vector<std::byte> encode(MessageType type,
                                                             const SimpleReply& m);

// Parsers: the whole message, header included.
[[nodiscard]] TGTPMEM_PUSH_API std::expected<Connect, ParseError> parse_connect(
    std::span<const std::byte> msg);
[[nodiscard]] TGTPMEM_PUSH_API std::expected<ConnectReply, ParseError> parse_connect_reply(
    std::span<const std::byte> msg);
[[nodiscard]] TGTPMEM_PUSH_API std::expected<ChapResponse, ParseError> parse_chap_response(
    std::span<const std::byte> msg);
[[nodiscard]] TGTPMEM_PUSH_API std::expected<Register, ParseError> parse_register(
    std::span<const std::byte> msg);
[[nodiscard]] TGTPMEM_PUSH_API std::expected<RegisterReply, ParseError> parse_register_reply(
    std::span<const std::byte> msg);
[[nodiscard]] TGTPMEM_PUSH_API std::expected<Commit, ParseError> parse_commit(
    std::span<const std::byte> msg);
[[nodiscard]] TGTPMEM_PUSH_API std::expected<Unregister, ParseError> parse_unregister(
    std::span<const std::byte> msg);
[[nodiscard]] TGTPMEM_PUSH_API std::expected<MirrorState, ParseError> parse_mirror_state(
    std::span<const std::byte> msg);
[[nodiscard]] TGTPMEM_PUSH_API std::expected<MirrorStateReply, ParseError>
parse_mirror_state_reply(std::span<const std::byte> msg);
// kCommitReply or kUnregisterReply.
[[nodiscard]] TGTPMEM_PUSH_API std::expected<SimpleReply, ParseError> parse_simple_reply(
    MessageType type, std::span<const std::byte> msg);

// CHAP (RFC 1994): MD5 over identifier, secret, challenge. Used by both sides.
// Should MD5 be unavailable (an OpenSSL configured FIPS-only, or out of memory) the result is
// random bytes (all zero if even RAND_bytes fails), which the peer will refuse. A target
// checks a response with chap_verify, never by comparing chap_response's result itself.
[[nodiscard]] TGTPMEM_PUSH_API std::array<std::uint8_t, kChapResponseSize> chap_response(
    std::uint8_t id, std::string_view secret,
    std::span<const std::uint8_t, kChapChallengeSize> challenge);
// As chap_response, but nullopt when MD5 cannot be computed. Thread-safe.
[[nodiscard]] TGTPMEM_PUSH_API std::optional<std::array<std::uint8_t, kChapResponseSize>>
try_chap_response(std::uint8_t id, std::string_view secret,
                  std::span<const std::uint8_t, kChapChallengeSize> challenge) noexcept;
// The target's check of a CHAP_RESPONSE: true only if `response` is the expected digest,
// compared in constant time; false also when MD5 cannot be computed. Thread-safe.
[[nodiscard]] TGTPMEM_PUSH_API bool chap_verify(
    std::uint8_t id, std::string_view secret,
    std::span<const std::uint8_t, kChapChallengeSize> challenge,
    std::span<const std::uint8_t, kChapResponseSize> response) noexcept;

}  // namespace tgt_pmem::push
