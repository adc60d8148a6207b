// SPDX-License-Identifier: GPL-2.0-only
// SRP information units: the wire layouts, and the checks that make every parser total over
// arbitrary bytes. Offsets were taken from the T10 SRP r16a layouts as Linux writes them down
// in include/scsi/srp.h (struct srp_login_req, srp_login_req_rdma, srp_login_rsp,
// srp_login_rej, srp_i_logout, srp_t_logout, srp_tsk_mgmt, srp_cmd, srp_rsp,
// srp_direct_buf, srp_indirect_buf, srp_imm_buf) and checked against what the Linux
// initiator (drivers/infiniband/ulp/srp/ib_srp.c: srp_send_req, srp_queuecommand,
// srp_map_data, srp_process_rsp, srp_cm_rep_handler) actually sends and reads.
//
// Every field is read and written byte by byte (big-endian on the wire): no packed struct is
// laid over the bytes, nothing depends on alignment or host byte order, and every read is
// preceded by a length check against the span.
#include "iu.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <tgt_pmem/bytes/big_endian.h>

namespace tgt_pmem::srp {
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

template <std::size_t N>
std::array<std::uint8_t, N> get_array(Bytes b, std::size_t off) noexcept {
  std::array<std::uint8_t, N> a;
  std::memcpy(a.data(), b.data() + off, N);
  return a;
}

std::unexpected<ParseError> fail(ParseError e) noexcept { return std::unexpected(e); }

// --- Layouts ----------------------------------------------------------------------------

// SRP_LOGIN_REQ as IB CM private data: struct srp_login_req (64 bytes).
namespace login_ib {
constexpr std::size_t kOpcode = 0;  // 1..7 reserved
constexpr std::size_t kTag = 8;
constexpr std::size_t kItIuLen = 16;  // 20..23 reserved
constexpr std::size_t kBufFmt = 24;
constexpr std::size_t kFlags = 26;      // 27 reserved
constexpr std::size_t kImmOffset = 28;  // be16, Linux SRP2 extension; 30..31 reserved
constexpr std::size_t kInitiatorPort = 32;
constexpr std::size_t kTargetPort = 48;
}  // namespace login_ib

// SRP_LOGIN_REQ as RDMA CM private data: struct srp_login_req_rdma (56 bytes). Linux moved
// the fields around to drop the reserved bytes: 92 bytes of IB CM REQ private data minus
// the 36-byte RDMA CM header leave 56 (comment on that struct in srp.h). ib_srpt
// (srpt_rdma_cm_req_recv) converts it field by field into the IB CM form.
namespace login_rdma {
constexpr std::size_t kTag = 0;
constexpr std::size_t kBufFmt = 8;
constexpr std::size_t kFlags = 10;
constexpr std::size_t kOpcode = 11;
constexpr std::size_t kItIuLen = 12;
constexpr std::size_t kInitiatorPort = 16;
constexpr std::size_t kTargetPort = 32;
constexpr std::size_t kImmOffset = 48;  // be16; 50..55 reserved
}  // namespace login_rdma

// REQ FLAGS of SRP_LOGIN_REQ (srp.h: SRP_MULTICHAN_SINGLE/MULTI, SRP_IMMED_REQUESTED;
// ib_srpt masks the multi-channel action with SRP_MTCH_ACTION = 0x03).
constexpr std::uint8_t kReqFlagMultiChannelMask = 0x03;
constexpr std::uint8_t kReqFlagImmediate = 0x80;

// SRP_LOGIN_RSP: struct srp_login_rsp (52 bytes).
namespace login_rsp {
constexpr std::size_t kReqLimDelta = 4;
constexpr std::size_t kTag = 8;
constexpr std::size_t kMaxItIuLen = 16;
constexpr std::size_t kMaxTiIuLen = 20;
constexpr std::size_t kBufFmt = 24;
constexpr std::size_t kFlags = 26;  // 27..51 reserved
}  // namespace login_rsp
// RSP FLAGS (srp.h: SRP_LOGIN_RSP_MULTICHAN_*, SRP_LOGIN_RSP_IMMED_SUPP).
constexpr std::uint8_t kRspFlagMultiChannelMask = 0x03;
constexpr std::uint8_t kRspFlagImmediate = 0x80;

// SRP_LOGIN_REJ: struct srp_login_rej (32 bytes).
namespace login_rej {
constexpr std::size_t kReason = 4;
constexpr std::size_t kTag = 8;      // 16..23 reserved
constexpr std::size_t kBufFmt = 24;  // 26..31 reserved
}  // namespace login_rej

// SRP_I_LOGOUT: struct srp_i_logout (16 bytes); SRP_T_LOGOUT: struct srp_t_logout (16).
constexpr std::size_t kLogoutTag = 8;
constexpr std::size_t kTargetLogoutReason = 4;

// SRP_TSK_MGMT: struct srp_tsk_mgmt (48 bytes).
namespace tsk {
constexpr std::size_t kTag = 8;
constexpr std::size_t kLun = 20;
constexpr std::size_t kFunction = 30;
constexpr std::size_t kTaskTag = 32;
}  // namespace tsk

// SRP_CMD: struct srp_cmd (48 bytes), then ADDITIONAL CDB, then the data-out buffer
// descriptor, then the data-in one (ib_srpt's srpt_get_desc_buf: add_data + add_cdb_len).
namespace cmd {
constexpr std::size_t kBufFmt = 5;  // high nibble data-out, low nibble data-in
constexpr std::size_t kOutCount = 6;
constexpr std::size_t kInCount = 7;
constexpr std::size_t kTag = 8;
constexpr std::size_t kLun = 20;
constexpr std::size_t kTaskAttr = 29;
constexpr std::size_t kAddCdbLen = 31;
constexpr std::size_t kCdb = 32;
constexpr std::size_t kCdbSize = 16;
}  // namespace cmd
// ADDITIONAL CDB LENGTH holds the length in 4-byte words in bits 7..2, bits 1..0 reserved
// (ib_srpt: "add_cdb_len & ~3"), so the byte value with those bits clear is the length in
// bytes; Linux writes round_up(cmd_len - 16, 4) there.
constexpr std::uint8_t kAddCdbReservedBits = 0x03;
// TASK ATTRIBUTE is bits 2..0 of byte 29: 0 simple, 1 head of queue, 2 ordered, 4 ACA.
constexpr std::uint8_t kTaskAttrMask = 0x07;

// struct srp_indirect_buf: a table descriptor (16), TOTAL LENGTH (4), then the partial list.
constexpr std::size_t kIndirectHeaderSize = 20;
constexpr std::size_t kIndirectTotal = 16;
// struct srp_imm_buf: only a be32 length; the data sits at the login's imm_data_offset.
constexpr std::size_t kImmediateDescriptorSize = 4;

// SRP_RSP: struct srp_rsp (36 bytes), then RESPONSE DATA, then SENSE DATA (T10 SRP r16a 6.9;
// ib_srp's srp_process_rsp reads the sense at data + resp_data_len).
namespace rsp {
constexpr std::size_t kReqLimDelta = 4;
constexpr std::size_t kTag = 8;
constexpr std::size_t kFlags = 18;
constexpr std::size_t kStatus = 19;
constexpr std::size_t kDataOutResidual = 20;
constexpr std::size_t kDataInResidual = 24;
constexpr std::size_t kSenseLen = 28;
constexpr std::size_t kResponseLen = 32;
// Task management RESPONSE DATA: 3 reserved bytes, then RSP CODE (ib_srp reads data[3]).
constexpr std::size_t kResponseDataSize = 4;
constexpr std::size_t kResponseCode = 3;
}  // namespace rsp
// FLAGS (srp.h: SRP_RSP_FLAG_*).
constexpr std::uint8_t kRspValid = 1u << 0;
constexpr std::uint8_t kSnsValid = 1u << 1;
constexpr std::uint8_t kDoOver = 1u << 2;
constexpr std::uint8_t kDoUnder = 1u << 3;
constexpr std::uint8_t kDiOver = 1u << 4;
constexpr std::uint8_t kDiUnder = 1u << 5;

constexpr std::uint32_t kU32Max = std::numeric_limits<std::uint32_t>::max();

Descriptor get_descriptor(Bytes b, std::size_t off) noexcept {
  return {load_be64(b, off), load_be32(b, off + 8), load_be32(b, off + 12)};
}

// The checks every fixed-size IU shares: not empty, the right type, then long enough.
std::expected<void, ParseError> check_fixed(Bytes iu, IuType type, std::size_t size) noexcept {
  if (iu.empty()) return fail(ParseError::kTruncated);
  if (load_u8(iu, 0) != static_cast<std::uint8_t>(type)) return fail(ParseError::kWrongType);
  if (iu.size() < size) return fail(ParseError::kTruncated);
  return {};
}

// What one direction of an SRP_CMD says about its data buffer.
struct Buffer {
  std::vector<Descriptor>& list;
  bool& table_in_iu;
  Descriptor& table;
  std::uint64_t& length;
};

// Reads one direction's buffer descriptor at pos (advanced past it). count is that
// direction's DESCRIPTOR COUNT, meaningful for the indirect format only.
std::expected<void, ParseError> parse_buffer(Bytes iu, std::size_t& pos, BufferFormat format,
                                             std::uint8_t count, Buffer out) {
  switch (format) {
    case BufferFormat::kNone:
      return {};
    case BufferFormat::kDirect: {
      if (iu.size() - pos < kDescriptorSize) return fail(ParseError::kTruncated);
      const Descriptor d = get_descriptor(iu, pos);
      pos += kDescriptorSize;
      out.list.assign(1, d);
      out.length = d.len;
      return {};
    }
    case BufferFormat::kIndirect: {
      if (iu.size() - pos < kIndirectHeaderSize) return fail(ParseError::kTruncated);
      out.table = get_descriptor(iu, pos);
      const std::uint32_t total = load_be32(iu, pos + kIndirectTotal);
      // The table descriptor covers the whole table (ib_srp: table_desc.len = ndesc * 16),
      // the IU carries the first `count` entries of it (min(ndesc, cmd_sg_cnt)).
      if (out.table.len % kDescriptorSize != 0 || out.table.len == 0)
        return fail(ParseError::kBadDescriptorCount);
      const std::size_t entries = out.table.len / kDescriptorSize;
      if (entries > kMaxDescriptors) return fail(ParseError::kTooManyDescriptors);
      if (count > entries) return fail(ParseError::kBadDescriptorCount);
      pos += kIndirectHeaderSize;
      if ((iu.size() - pos) / kDescriptorSize < count) return fail(ParseError::kTruncated);
      out.list.clear();
      out.list.reserve(count);
      std::uint64_t sum = 0;  // at most 255 * (2^32 - 1): no overflow in 64 bits
      for (std::size_t i = 0; i < count; ++i, pos += kDescriptorSize) {
        out.list.push_back(get_descriptor(iu, pos));
        sum += out.list.back().len;
      }
      out.table_in_iu = count == entries;
      // T10: TOTAL LENGTH is the sum of the lengths of all the table's descriptors. With the
      // whole table here, anything else is a lie; with a part, the part cannot exceed it
      // (the rest is checked by parse_descriptor_table(table, total) after the RDMA READ).
      if (out.table_in_iu ? sum != total : sum > total) return fail(ParseError::kLengthOverflow);
      out.length = total;
      return {};
    }
    case BufferFormat::kImmediate: {
      if (iu.size() - pos < kImmediateDescriptorSize) return fail(ParseError::kTruncated);
      out.length = load_be32(iu, pos);
      pos += kImmediateDescriptorSize;
      return {};
    }
  }
  return fail(ParseError::kBadDescriptorFormat);
}

std::expected<BufferFormat, ParseError> buffer_format(std::uint8_t nibble) noexcept {
  if (nibble > static_cast<std::uint8_t>(BufferFormat::kImmediate))
    return fail(ParseError::kBadDescriptorFormat);
  return static_cast<BufferFormat>(nibble);
}

}  // namespace

std::string_view to_string(ParseError e) noexcept {
  switch (e) {
    case ParseError::kTruncated:
      return "information unit truncated";
    case ParseError::kWrongType:
      return "wrong information unit type";
    case ParseError::kBadDescriptorFormat:
      return "unsupported data buffer descriptor format";
    case ParseError::kBadDescriptorCount:
      return "inconsistent data buffer descriptor count";
    case ParseError::kTooManyDescriptors:
      return "too many data buffer descriptors";
    case ParseError::kLengthOverflow:
      return "data buffer descriptor lengths do not add up";
    case ParseError::kBadCdbLength:
      return "invalid additional CDB length";
    case ParseError::kBadField:
      return "reserved field value";
  }
  return "unknown parse error";
}

std::expected<IuType, ParseError> iu_type(std::span<const std::byte> iu) noexcept {
  if (iu.empty()) return fail(ParseError::kTruncated);
  switch (const auto t = static_cast<IuType>(load_u8(iu, 0))) {
    case IuType::kLoginReq:
    case IuType::kTskMgmt:
    case IuType::kCmd:
    case IuType::kILogout:
    case IuType::kCredRsp:
    case IuType::kAerRsp:
    case IuType::kTLogout:
    case IuType::kCredReq:
    case IuType::kAerReq:
    case IuType::kLoginRsp:
    case IuType::kRsp:
    case IuType::kLoginRej:
      return t;
  }
  return fail(ParseError::kWrongType);
}

// --- Login ------------------------------------------------------------------------------

std::expected<LoginRequest, ParseError> parse_login_request(
    std::span<const std::byte> iu) noexcept {
  LoginRequest r;
  std::uint8_t flags = 0;
  std::uint16_t imm_offset = 0;
  if (iu.size() >= kLoginRequestSize) {
    // IB CM: the REQ carries 92 bytes of private data, the login request in the first 64.
    if (load_u8(iu, login_ib::kOpcode) != static_cast<std::uint8_t>(IuType::kLoginReq))
      return fail(ParseError::kWrongType);
    r.tag = load_be64(iu, login_ib::kTag);
    r.max_it_iu_len = load_be32(iu, login_ib::kItIuLen);
    r.buf_fmt = load_be16(iu, login_ib::kBufFmt);
    flags = load_u8(iu, login_ib::kFlags);
    imm_offset = load_be16(iu, login_ib::kImmOffset);
    r.initiator_port_id = get_array<16>(iu, login_ib::kInitiatorPort);
    r.target_port_id = get_array<16>(iu, login_ib::kTargetPort);
  } else if (iu.size() == kLoginRequestRdmaSize) {
    // RDMA CM over IB/RoCE hands the listener exactly 92 - 36 = 56 bytes, and Linux sends
    // sizeof(struct srp_login_req_rdma) = 56; 57..63 bytes can only be a cut IB CM form.
    if (load_u8(iu, login_rdma::kOpcode) != static_cast<std::uint8_t>(IuType::kLoginReq))
      return fail(ParseError::kWrongType);
    r.tag = load_be64(iu, login_rdma::kTag);
    r.max_it_iu_len = load_be32(iu, login_rdma::kItIuLen);
    r.buf_fmt = load_be16(iu, login_rdma::kBufFmt);
    flags = load_u8(iu, login_rdma::kFlags);
    imm_offset = load_be16(iu, login_rdma::kImmOffset);
    r.initiator_port_id = get_array<16>(iu, login_rdma::kInitiatorPort);
    r.target_port_id = get_array<16>(iu, login_rdma::kTargetPort);
  } else {
    return fail(ParseError::kTruncated);
  }
  r.multichannel = flags & kReqFlagMultiChannelMask;
  if (r.multichannel > 1) return fail(ParseError::kBadField);  // 10b, 11b reserved
  // imm_data_offset means something only with SRP_IMMED_REQUESTED (ib_srpt ignores it
  // otherwise); bits 6..2 of REQ FLAGS are reserved and ignored.
  r.immediate_data = (flags & kReqFlagImmediate) != 0;
  r.imm_data_offset = r.immediate_data ? imm_offset : 0;
  return r;
}

std::size_t build_login_response(const LoginResponse& rsp, std::span<std::byte> out) noexcept {
  if (out.size() < kLoginResponseSize) return 0;
  const Out o = out.first(kLoginResponseSize);
  std::memset(o.data(), 0, o.size());  // reserved bytes are zero
  store_u8(o, 0, static_cast<std::uint8_t>(IuType::kLoginRsp));
  store_be32(o, login_rsp::kReqLimDelta, static_cast<std::uint32_t>(rsp.req_lim_delta));
  store_be64(o, login_rsp::kTag, rsp.tag);
  store_be32(o, login_rsp::kMaxItIuLen, rsp.max_it_iu_len);
  store_be32(o, login_rsp::kMaxTiIuLen, rsp.max_ti_iu_len);
  store_be16(o, login_rsp::kBufFmt, rsp.buf_fmt);
  // ib_srp enables immediate data only if the target sets SRP_LOGIN_RSP_IMMED_SUPP
  // (srp_cm_rep_handler); the multi-channel result is informational.
  store_u8(o, login_rsp::kFlags,
       static_cast<std::uint8_t>((rsp.multichannel_result & kRspFlagMultiChannelMask) |
                                 (rsp.immediate_data ? kRspFlagImmediate : 0)));
  return kLoginResponseSize;
}

std::expected<LoginResponse, ParseError> parse_login_response(
    std::span<const std::byte> iu) noexcept {
  if (auto ok = check_fixed(iu, IuType::kLoginRsp, kLoginResponseSize); !ok)
    return fail(ok.error());
  LoginResponse r;
  r.req_lim_delta = static_cast<std::int32_t>(load_be32(iu, login_rsp::kReqLimDelta));
  r.tag = load_be64(iu, login_rsp::kTag);
  r.max_it_iu_len = load_be32(iu, login_rsp::kMaxItIuLen);
  r.max_ti_iu_len = load_be32(iu, login_rsp::kMaxTiIuLen);
  r.buf_fmt = load_be16(iu, login_rsp::kBufFmt);
  const std::uint8_t flags = load_u8(iu, login_rsp::kFlags);
  r.multichannel_result = flags & kRspFlagMultiChannelMask;
  r.immediate_data = (flags & kRspFlagImmediate) != 0;
  return r;
}

std::size_t build_login_reject(std::uint64_t tag, RejectReason reason, std::uint16_t buf_fmt,
                               std::span<std::byte> out) noexcept {
  if (out.size() < kLoginRejectSize) return 0;
  const Out o = out.first(kLoginRejectSize);
  std::memset(o.data(), 0, o.size());
  store_u8(o, 0, static_cast<std::uint8_t>(IuType::kLoginRej));
  store_be32(o, login_rej::kReason, static_cast<std::uint32_t>(reason));
  store_be64(o, login_rej::kTag, tag);
  store_be16(o, login_rej::kBufFmt, buf_fmt);
  return kLoginRejectSize;
}

// --- Logout -----------------------------------------------------------------------------

std::expected<std::uint64_t, ParseError> parse_initiator_logout(
    std::span<const std::byte> iu) noexcept {
  if (auto ok = check_fixed(iu, IuType::kILogout, kInitiatorLogoutSize); !ok)
    return fail(ok.error());
  return load_be64(iu, kLogoutTag);
}

std::size_t build_target_logout(std::uint64_t tag, std::uint32_t reason,
                                std::span<std::byte> out) noexcept {
  if (out.size() < kTargetLogoutSize) return 0;
  const Out o = out.first(kTargetLogoutSize);
  std::memset(o.data(), 0, o.size());  // SOLNT 0: no solicited notification asked for
  store_u8(o, 0, static_cast<std::uint8_t>(IuType::kTLogout));
  store_be32(o, kTargetLogoutReason, reason);
  store_be64(o, kLogoutTag, tag);
  return kTargetLogoutSize;
}

// --- Task management --------------------------------------------------------------------

std::expected<TaskManagement, ParseError> parse_task_management(
    std::span<const std::byte> iu) noexcept {
  if (auto ok = check_fixed(iu, IuType::kTskMgmt, kTaskManagementSize); !ok)
    return fail(ok.error());
  TaskManagement t;
  t.tag = load_be64(iu, tsk::kTag);
  t.lun = get_array<8>(iu, tsk::kLun);
  t.function = load_u8(iu, tsk::kFunction);
  t.task_tag = load_be64(iu, tsk::kTaskTag);
  return t;
}

// --- Commands ---------------------------------------------------------------------------

std::expected<Command, ParseError> parse_command(std::span<const std::byte> iu,
                                                 std::uint32_t imm_data_offset) {
  if (auto ok = check_fixed(iu, IuType::kCmd, kCommandFixedSize); !ok) return fail(ok.error());
  Command c;
  c.tag = load_be64(iu, cmd::kTag);
  c.lun = get_array<8>(iu, cmd::kLun);

  switch (const std::uint8_t attr = load_u8(iu, cmd::kTaskAttr) & kTaskAttrMask) {
    case 0:
    case 1:
    case 2:
    case 4:
      c.task_attr = static_cast<TaskAttribute>(attr);
      break;
    default:
      return fail(ParseError::kBadField);
  }

  const std::uint8_t add_cdb = load_u8(iu, cmd::kAddCdbLen);
  if (add_cdb & kAddCdbReservedBits) return fail(ParseError::kBadCdbLength);
  const std::size_t cdb_end = kCommandFixedSize + add_cdb;
  if (iu.size() < cdb_end) return fail(ParseError::kTruncated);
  // std::byte and std::uint8_t (unsigned char) may alias: a view, not an overlay.
  c.cdb = {reinterpret_cast<const std::uint8_t*>(iu.data()) + cmd::kCdb, cmd::kCdbSize + add_cdb};

  const std::uint8_t fmt = load_u8(iu, cmd::kBufFmt);
  auto out_fmt = buffer_format(fmt >> 4);
  auto in_fmt = buffer_format(fmt & 0x0f);
  if (!out_fmt) return fail(out_fmt.error());
  if (!in_fmt) return fail(in_fmt.error());
  c.data_out_format = *out_fmt;
  c.data_in_format = *in_fmt;
  // Immediate data only carries data-out (SRP_DATA_DESC_IMM, ib_srp uses it for
  // DMA_TO_DEVICE only) and only on a channel whose login granted it.
  if (c.data_in_format == BufferFormat::kImmediate) return fail(ParseError::kBadDescriptorFormat);
  if (c.data_out_format == BufferFormat::kImmediate && imm_data_offset == 0)
    return fail(ParseError::kBadDescriptorFormat);

  std::size_t pos = cdb_end;
  if (auto ok =
          parse_buffer(iu, pos, c.data_out_format, load_u8(iu, cmd::kOutCount),
                       {c.data_out, c.data_out_table_in_iu, c.data_out_table, c.data_out_length});
      !ok)
    return fail(ok.error());
  if (auto ok = parse_buffer(iu, pos, c.data_in_format, load_u8(iu, cmd::kInCount),
                             {c.data_in, c.data_in_table_in_iu, c.data_in_table, c.data_in_length});
      !ok)
    return fail(ok.error());

  if (c.data_out_format == BufferFormat::kImmediate) {
    // The data follows the descriptors (ib_srpt: "The immediate data buffer descriptor must
    // occur before the immediate data itself") and lies wholly inside the IU. Linux sends
    // the IU as 68 bytes of command plus the data (srp_map_data returns
    // SRP_IMM_DATA_OFFSET; the data goes in further SGEs of the same SEND).
    if (imm_data_offset < pos) return fail(ParseError::kBadField);
    if (imm_data_offset > iu.size() || iu.size() - imm_data_offset < c.data_out_length)
      return fail(ParseError::kTruncated);
    c.immediate_data = iu.subspan(imm_data_offset, static_cast<std::size_t>(c.data_out_length));
  }
  return c;
}

std::expected<std::vector<Descriptor>, ParseError> parse_descriptor_table(
    std::span<const std::byte> table) {
  if (table.empty() || table.size() % kDescriptorSize != 0)
    return fail(ParseError::kBadDescriptorCount);
  const std::size_t n = table.size() / kDescriptorSize;
  if (n > kMaxDescriptors) return fail(ParseError::kTooManyDescriptors);
  std::vector<Descriptor> list;
  list.reserve(n);
  for (std::size_t off = 0; off < table.size(); off += kDescriptorSize)
    list.push_back(get_descriptor(table, off));
  return list;
}

std::expected<std::vector<Descriptor>, ParseError> parse_descriptor_table(
    std::span<const std::byte> table, std::uint64_t total_length) {
  auto list = parse_descriptor_table(table);
  if (!list) return list;
  std::uint64_t sum = 0;  // at most 256 * (2^32 - 1)
  for (const Descriptor& d : *list) sum += d.len;
  if (sum != total_length) return fail(ParseError::kLengthOverflow);
  return list;
}

// --- Responses --------------------------------------------------------------------------

namespace {

// A residual's flag and count: positive is an underflow, negative an overflow; the count
// field has 32 bits, so larger magnitudes are clamped (a caller bug, not wire data).
std::pair<std::uint8_t, std::uint32_t> residual(std::int64_t v, std::uint8_t under,
                                                std::uint8_t over) noexcept {
  if (v == 0) return {0, 0};
  // Magnitude in unsigned arithmetic: -INT64_MIN would overflow.
  const std::uint64_t mag =
      v > 0 ? static_cast<std::uint64_t>(v) : 0 - static_cast<std::uint64_t>(v);
  return {v > 0 ? under : over, static_cast<std::uint32_t>(std::min<std::uint64_t>(mag, kU32Max))};
}

std::expected<std::int64_t, ParseError> read_residual(std::uint8_t flags, std::uint8_t under,
                                                      std::uint8_t over,
                                                      std::uint32_t count) noexcept {
  if ((flags & under) && (flags & over)) return fail(ParseError::kBadField);
  if (flags & under) return std::int64_t{count};
  if (flags & over) return -std::int64_t{count};
  return 0;
}

}  // namespace

std::size_t response_size(const Response& rsp) noexcept {
  return kResponseHeaderSize + (rsp.response_valid ? rsp::kResponseDataSize : 0) + rsp.sense.size();
}

std::size_t build_response(const Response& rsp, std::span<std::byte> out) noexcept {
  const std::size_t resp_len = rsp.response_valid ? rsp::kResponseDataSize : 0;
  if (out.size() < kResponseHeaderSize + resp_len) return 0;
  // Sense that does not fit what the initiator can receive is cut (ib_srpt does the same
  // in srpt_build_cmd_rsp: max_sense_len = max_ti_iu_len - sizeof(srp_rsp)); the start of
  // sense data (key, ASC, ASCQ) is what matters.
  const auto sense_len = std::min<std::size_t>(
      {rsp.sense.size(), out.size() - kResponseHeaderSize - resp_len, kU32Max});
  const std::size_t used = kResponseHeaderSize + resp_len + sense_len;
  const Out o = out.first(used);
  std::memset(o.data(), 0, kResponseHeaderSize + resp_len);

  const auto [out_flag, out_count] = residual(rsp.data_out_residual, kDoUnder, kDoOver);
  const auto [in_flag, in_count] = residual(rsp.data_in_residual, kDiUnder, kDiOver);
  std::uint8_t flags = out_flag | in_flag;
  if (rsp.response_valid) flags |= kRspValid;
  if (sense_len) flags |= kSnsValid;

  store_u8(o, 0, static_cast<std::uint8_t>(IuType::kRsp));
  store_be32(o, rsp::kReqLimDelta, static_cast<std::uint32_t>(rsp.req_lim_delta));
  store_be64(o, rsp::kTag, rsp.tag);
  store_u8(o, rsp::kFlags, flags);
  store_u8(o, rsp::kStatus, rsp.status);
  store_be32(o, rsp::kDataOutResidual, out_count);
  store_be32(o, rsp::kDataInResidual, in_count);
  store_be32(o, rsp::kSenseLen, static_cast<std::uint32_t>(sense_len));
  store_be32(o, rsp::kResponseLen, static_cast<std::uint32_t>(resp_len));
  if (resp_len) store_u8(o, kResponseHeaderSize + rsp::kResponseCode, rsp.response_code);
  if (sense_len)
    std::memcpy(o.data() + kResponseHeaderSize + resp_len, rsp.sense.data(), sense_len);
  return used;
}

std::expected<Response, ParseError> parse_response(std::span<const std::byte> iu) noexcept {
  if (auto ok = check_fixed(iu, IuType::kRsp, kResponseHeaderSize); !ok) return fail(ok.error());
  Response r;
  r.req_lim_delta = static_cast<std::int32_t>(load_be32(iu, rsp::kReqLimDelta));
  r.tag = load_be64(iu, rsp::kTag);
  const std::uint8_t flags = load_u8(iu, rsp::kFlags);
  r.status = load_u8(iu, rsp::kStatus);
  auto out_res = read_residual(flags, kDoUnder, kDoOver, load_be32(iu, rsp::kDataOutResidual));
  auto in_res = read_residual(flags, kDiUnder, kDiOver, load_be32(iu, rsp::kDataInResidual));
  if (!out_res) return fail(out_res.error());
  if (!in_res) return fail(in_res.error());
  r.data_out_residual = *out_res;
  r.data_in_residual = *in_res;
  // A length counts only with its VALID bit (T10); ib_srp uses resp_data_len unconditionally
  // as the sense offset, which agrees because a target leaves it 0 without RSPVALID.
  const std::uint64_t resp_len = (flags & kRspValid) ? load_be32(iu, rsp::kResponseLen) : 0;
  const std::uint64_t sense_len = (flags & kSnsValid) ? load_be32(iu, rsp::kSenseLen) : 0;
  if (iu.size() - kResponseHeaderSize < resp_len + sense_len) return fail(ParseError::kTruncated);
  r.response_valid = (flags & kRspValid) != 0;
  if (r.response_valid) {
    if (resp_len < rsp::kResponseDataSize) return fail(ParseError::kBadField);
    r.response_code = load_u8(iu, kResponseHeaderSize + rsp::kResponseCode);
  }
  const std::size_t sense_off = kResponseHeaderSize + static_cast<std::size_t>(resp_len);
  r.sense = {reinterpret_cast<const std::uint8_t*>(iu.data()) + sense_off,
             static_cast<std::size_t>(sense_len)};
  return r;
}

}  // namespace tgt_pmem::srp
