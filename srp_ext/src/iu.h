// SPDX-License-Identifier: GPL-2.0-only
// SRP information units (T10 SRP r16a; the Linux ib_srp wire layout): pure functions from
// bytes to structs and back. No I/O, no allocation beyond the returned values; every parser
// checks lengths before it reads. Big-endian on the wire, host order here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string_view>
#include <vector>

namespace tgt_pmem::srp {

enum class IuType : std::uint8_t {
  kLoginReq = 0x00,
  kTskMgmt = 0x01,
  kCmd = 0x02,
  kILogout = 0x03,
  kCredRsp = 0x41,
  kAerRsp = 0x42,
  kTLogout = 0x80,
  kCredReq = 0x81,
  kAerReq = 0x82,
  kLoginRsp = 0xc0,
  kRsp = 0xc1,
  kLoginRej = 0xc2,
};

// Why a parser refused its input.
enum class ParseError : std::uint8_t {
  kTruncated,           // shorter than the IU's fixed part or than its own lengths say
  kWrongType,           // the first byte is not the IU type this parser reads
  kBadDescriptorFormat, // a data buffer format that is reserved or not supported
  kBadDescriptorCount,  // descriptor counts disagree with the table length (a count beyond
                        // the IU is kTruncated)
  kTooManyDescriptors,  // more descriptors than kMaxDescriptors
  kLengthOverflow,      // descriptor lengths overflow 32 bits / exceed the stated total
  kBadCdbLength,        // additional CDB length not a multiple of 4 (an IU too short for
                        // it is kTruncated, like any IU shorter than its lengths say)
  kBadField,            // a field with a value the standard reserves
};
[[nodiscard]] std::string_view to_string(ParseError e) noexcept;

using PortId = std::array<std::uint8_t, 16>;

// Wire sizes (T10 SRP r16a; Linux include/scsi/srp.h, whose BUILD_BUG_ONs in ib_srp.c pin them).
inline constexpr std::size_t kLoginRequestSize = 64;      // struct srp_login_req (IB CM)
inline constexpr std::size_t kLoginRequestRdmaSize = 56;  // struct srp_login_req_rdma (RDMA CM)
inline constexpr std::size_t kCommandFixedSize = 48;      // struct srp_cmd, up to the CDB's end
inline constexpr std::size_t kTaskManagementSize = 48;    // struct srp_tsk_mgmt
inline constexpr std::size_t kInitiatorLogoutSize = 16;   // struct srp_i_logout
inline constexpr std::size_t kDescriptorSize = 16;        // struct srp_direct_buf
// The immediate data offset Linux ib_srp requests at login (SRP_IMM_DATA_OFFSET in
// drivers/infiniband/ulp/srp/ib_srp.h: sizeof(srp_cmd) 48 + 16 additional CDB bytes + the
// 4-byte srp_imm_buf), so that a 32-byte CDB still fits before the data.
inline constexpr std::uint32_t kLinuxImmDataOffset = 68;

// Tags are loaded and stored big-endian, so a tag written back into a response carries the
// initiator's bytes unchanged (Linux treats them as host-order u64 and tests bit 31 of the
// task management ones: the engine must treat them as opaque).

// Data buffer descriptor formats (SRP_CMD DATA-OUT/DATA-IN BUFFER DESCRIPTOR FORMAT).
enum class BufferFormat : std::uint8_t { kNone = 0, kDirect = 1, kIndirect = 2, kImmediate = 3 };
// Bits of SUPPORTED BUFFER FORMATS in login request/response (big-endian u16 on the wire).
inline constexpr std::uint16_t kBufFmtDirect = 1u << 1;
inline constexpr std::uint16_t kBufFmtIndirect = 1u << 2;

// One memory descriptor (srp_direct_buf): virtual address, memory handle (rkey), length.
struct Descriptor {
  std::uint64_t va = 0;
  std::uint32_t key = 0;
  std::uint32_t len = 0;
};
inline constexpr std::size_t kMaxDescriptors = 256;

// SRP_LOGIN_REQ. Accepts both the 64-byte IB CM form and the 56-byte form Linux ib_srp
// sends as RDMA CM private data (no 8 reserved bytes before TAG... see iu.cc for the exact
// layouts and their sources). Told apart by length: 64 bytes or more (IB CM private data is
// 92) is the IB CM form, exactly 56 the RDMA CM form (RDMA CM over IB/RoCE delivers exactly
// 92 - 36 = 56 bytes), anything else kTruncated. A reserved MULTI-CHANNEL ACTION (2, 3) is
// kBadField. Not checked here, the engine's to judge: buf_fmt, max_it_iu_len (ib_srpt
// rejects < 64) and imm_data_offset (ib_srpt grants immediate data only if >= 48).
struct LoginRequest {
  std::uint64_t tag = 0;
  std::uint32_t max_it_iu_len = 0;  // REQUESTED MAXIMUM INITIATOR TO TARGET IU LENGTH
  std::uint16_t buf_fmt = 0;        // REQUIRED BUFFER FORMATS
  std::uint8_t multichannel = 0;    // MULTI-CHANNEL ACTION (0 single, 1 multiple)
  bool immediate_data = false;      // Linux extension: SRP_IMMED_REQUESTED
  std::uint32_t imm_data_offset = 0;  // Linux extension (valid if immediate_data)
  PortId initiator_port_id{};
  PortId target_port_id{};
};
[[nodiscard]] std::expected<LoginRequest, ParseError> parse_login_request(
    std::span<const std::byte> iu) noexcept;

// SRP_LOGIN_RSP (52 bytes).
struct LoginResponse {
  std::uint64_t tag = 0;
  std::int32_t req_lim_delta = 0;   // credits granted: receives posted for this channel
  std::uint32_t max_it_iu_len = 0;
  std::uint32_t max_ti_iu_len = 0;
  std::uint16_t buf_fmt = kBufFmtDirect | kBufFmtIndirect;
  std::uint8_t multichannel_result = 0;  // 0 no existing channels, 1 terminated, 2 kept
  bool immediate_data = false;           // Linux extension: SRP_LOGIN_RSP_IMMED_SUPP
};
inline constexpr std::size_t kLoginResponseSize = 52;
// Writes the response into out (at least kLoginResponseSize bytes); returns the bytes used,
// or 0 if out is too small.
std::size_t build_login_response(const LoginResponse& rsp, std::span<std::byte> out) noexcept;
// The initiator's side (tests, tools): reads an SRP_LOGIN_RSP.
[[nodiscard]] std::expected<LoginResponse, ParseError> parse_login_response(
    std::span<const std::byte> iu) noexcept;

// SRP_LOGIN_REJ (32 bytes). Reasons (T10 SRP table 11).
enum class RejectReason : std::uint32_t {
  kUnableEstablishChannel = 0x00010000,
  kInsufficientResources = 0x00010001,
  kIuTooLarge = 0x00010002,
  kUnableAssociateChannel = 0x00010003,
  kUnsupportedDescriptorFormat = 0x00010004,
  kMultiChannelUnsupported = 0x00010005,
  kChannelLimitReached = 0x00010006,
};
inline constexpr std::size_t kLoginRejectSize = 32;
// Returns the bytes used (kLoginRejectSize), or 0 if out is too small.
std::size_t build_login_reject(std::uint64_t tag, RejectReason reason, std::uint16_t buf_fmt,
                               std::span<std::byte> out) noexcept;

// SRP_CMD.
enum class TaskAttribute : std::uint8_t { kSimple = 0, kHeadOfQueue = 1, kOrdered = 2, kAca = 4 };
struct Command {
  std::uint64_t tag = 0;
  std::array<std::uint8_t, 8> lun{};  // the LOGICAL UNIT NUMBER field as sent (SAM format)
  TaskAttribute task_attr = TaskAttribute::kSimple;
  std::span<const std::uint8_t> cdb;  // 16 bytes + ADDITIONAL CDB; points into the IU
  BufferFormat data_out_format = BufferFormat::kNone;
  BufferFormat data_in_format = BufferFormat::kNone;
  // The descriptors present in the IU, data-out ones first. For an indirect buffer whose
  // whole descriptor table is in the IU these are the table's entries; otherwise
  // (table_in_iu == false) they are the partial list and table is where to RDMA READ
  // the whole table from.
  std::vector<Descriptor> data_out;
  std::vector<Descriptor> data_in;
  bool data_out_table_in_iu = true;
  bool data_in_table_in_iu = true;
  Descriptor data_out_table{};  // indirect: the table descriptor
  Descriptor data_in_table{};
  std::uint64_t data_out_length = 0;  // total (indirect: TOTAL LENGTH; direct: len)
  std::uint64_t data_in_length = 0;
  std::span<const std::byte> immediate_data;  // kImmediate data-out: the bytes in the IU
};
// imm_data_offset: where immediate data starts (login's imm_data_offset), 0 if not in use.
// Refuses: a wrong opcode (kWrongType); fewer bytes than 48 + ADDITIONAL CDB or than any
// descriptor, or immediate data reaching past the IU (kTruncated); ADDITIONAL CDB LENGTH
// with its reserved low bits set (kBadCdbLength); a reserved buffer format, immediate
// data-in, or immediate data-out while imm_data_offset is 0 (kBadDescriptorFormat); a
// reserved TASK ATTRIBUTE, or immediate data starting before the descriptors end (kBadField);
// an indirect table length that is not a multiple of 16, empty, or shorter than the
// descriptors in the IU (kBadDescriptorCount), with more than kMaxDescriptors entries
// (kTooManyDescriptors), or whose entries in the IU add up to more than TOTAL LENGTH (or,
// when the whole table is there, to anything else) (kLengthOverflow). The DESCRIPTOR COUNT
// fields are read for indirect formats only: Linux leaves them 0 for direct and immediate.
[[nodiscard]] std::expected<Command, ParseError> parse_command(
    std::span<const std::byte> iu, std::uint32_t imm_data_offset = 0);

// Parses a descriptor table fetched with RDMA READ (table_bytes / 16 entries).
[[nodiscard]] std::expected<std::vector<Descriptor>, ParseError> parse_descriptor_table(
    std::span<const std::byte> table);
// The same, and the entries' lengths must add up to total_length (the indirect buffer's
// TOTAL LENGTH, Command::data_*_length), else kLengthOverflow.
[[nodiscard]] std::expected<std::vector<Descriptor>, ParseError> parse_descriptor_table(
    std::span<const std::byte> table, std::uint64_t total_length);

// SRP_TSK_MGMT.
enum class TaskFunction : std::uint8_t {
  kAbortTask = 0x01,
  kAbortTaskSet = 0x02,
  kClearTaskSet = 0x04,
  kLogicalUnitReset = 0x08,
  kClearAca = 0x40,
};
struct TaskManagement {
  std::uint64_t tag = 0;
  std::array<std::uint8_t, 8> lun{};
  std::uint8_t function = 0;  // a TaskFunction value, or something else (answer: not supported)
  std::uint64_t task_tag = 0; // TAG OF TASK TO BE MANAGED
};
[[nodiscard]] std::expected<TaskManagement, ParseError> parse_task_management(
    std::span<const std::byte> iu) noexcept;

// SRP_I_LOGOUT: only the tag.
[[nodiscard]] std::expected<std::uint64_t, ParseError> parse_initiator_logout(
    std::span<const std::byte> iu) noexcept;

// SRP_RSP.
struct Response {
  std::uint64_t tag = 0;
  std::int32_t req_lim_delta = 0;
  std::uint8_t status = 0;                 // SCSI status
  std::span<const std::uint8_t> sense;     // SNSVALID when not empty
  bool response_valid = false;             // RSPVALID: task management responses
  std::uint8_t response_code = 0;          // 0 complete, 4 not supported, 5 failed, ...
  // Residuals (DOUNDER/DOOVER/DIUNDER/DIOVER): positive = underflow, negative = overflow.
  std::int64_t data_out_residual = 0;
  std::int64_t data_in_residual = 0;
};
inline constexpr std::size_t kResponseHeaderSize = 36;
// Bytes build_response needs for rsp (header + response data + sense).
[[nodiscard]] std::size_t response_size(const Response& rsp) noexcept;
// Writes rsp into out; returns the bytes used, or 0 if out is too small. Sense data that
// would not fit max_ti_iu_len is cut to fit (the caller passes out sized by max_ti_iu_len).
std::size_t build_response(const Response& rsp, std::span<std::byte> out) noexcept;
// The initiator's side (tests, tools): reads an SRP_RSP; sense points into iu. Both OVER
// and UNDER set for one direction is kBadField.
[[nodiscard]] std::expected<Response, ParseError> parse_response(
    std::span<const std::byte> iu) noexcept;

// SRP_T_LOGOUT (target-initiated logout, 16 bytes: Linux include/scsi/srp.h struct
// srp_t_logout), reason per T10 SRP table 24. Returns 0 if out is too small.
inline constexpr std::size_t kTargetLogoutSize = 16;
std::size_t build_target_logout(std::uint64_t tag, std::uint32_t reason,
                                std::span<std::byte> out) noexcept;

// The IU type of any IU (first byte), or kTruncated for an empty one, kWrongType for a
// first byte that is no IU type.
[[nodiscard]] std::expected<IuType, ParseError> iu_type(std::span<const std::byte> iu) noexcept;

}  // namespace tgt_pmem::srp
