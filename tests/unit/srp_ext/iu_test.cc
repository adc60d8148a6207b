// SPDX-License-Identifier: GPL-2.0-only
// The SRP information-unit codec against IUs written out byte by byte, laid out as the Linux
// initiator (drivers/infiniband/ulp/srp/ib_srp.c) fills the structs of include/scsi/srp.h.
// Multi-byte fields are big-endian on the wire; offsets are in the comments.
#include "iu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace tgt_pmem::srp {
namespace {

using Iu = std::vector<std::uint8_t>;

std::span<const std::byte> bytes(const Iu& v) { return std::as_bytes(std::span(v)); }

Iu prefix(const Iu& v, std::size_t n) { return Iu(v.begin(), v.begin() + static_cast<long>(n)); }

void append32(Iu& v, std::uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<std::uint8_t>(x >> s));
}

void append64(Iu& v, std::uint64_t x) {
  append32(v, static_cast<std::uint32_t>(x >> 32));
  append32(v, static_cast<std::uint32_t>(x));
}

// struct srp_direct_buf: VA (8), R_KEY (4), LENGTH (4).
void append_descriptor(Iu& v, std::uint64_t va, std::uint32_t key, std::uint32_t len) {
  append64(v, va);
  append32(v, key);
  append32(v, len);
}

// The 48-byte fixed part of an SRP_CMD (struct srp_cmd) with a READ(10)/WRITE(10) CDB;
// variants below change single bytes at the documented offsets.
Iu command_header(std::uint8_t buf_fmt, std::uint8_t out_count, std::uint8_t in_count,
                  std::uint8_t add_cdb_len = 0) {
  // clang-format off
  return {
      0x02, 0x00, 0x00, 0x00, 0x00,  // 0 IU TYPE SRP_CMD, 1 SOLNT, 2..4 reserved
      buf_fmt,                       // 5 DATA-OUT (high nibble) / DATA-IN (low) FORMAT
      out_count, in_count,           // 6, 7 DATA-OUT / DATA-IN DESCRIPTOR COUNT
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,  // 8..15 TAG
      0x00, 0x00, 0x00, 0x00,                          // 16..19 reserved
      0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 20..27 LUN 1 (int_to_scsilun)
      0x00, 0x00, 0x00, add_cdb_len,  // 28 reserved, 29 TASK ATTR, 30 reserved, 31 ADD CDB LEN
      0x28, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x08, 0x00,  // 32..41 READ(10)
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                          // 42..47 CDB padding
  };
  // clang-format on
}

// Every proper prefix of a valid IU is refused with kTruncated.
template <typename Parse>
void expect_every_prefix_truncated(const Iu& iu, Parse parse) {
  for (std::size_t n = 0; n < iu.size(); ++n) {
    const Iu cut = prefix(iu, n);
    const auto r = parse(bytes(cut));
    ASSERT_FALSE(r.has_value()) << "prefix of " << n << " bytes accepted";
    EXPECT_EQ(r.error(), ParseError::kTruncated) << "prefix of " << n << " bytes";
  }
}

// --- SRP_LOGIN_REQ ----------------------------------------------------------------------

// struct srp_login_req_rdma as srp_send_req() fills it for an RDMA CM channel with the
// default module parameters (use_imm_data=1, max_imm_data=8192, cmd_sg_entries=12).
// clang-format off
const Iu kRdmaCmLogin = {
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,  // 0..7 TAG (Linux: 0; distinct here)
    0x00, 0x06,                                      // 8..9 REQ BUF FMT: direct | indirect
    0x80,                                            // 10 REQ FLAGS: IMMED_REQUESTED, single
    0x00,                                            // 11 IU TYPE SRP_LOGIN_REQ
    0x00, 0x00, 0x20, 0x44,  // 12..15 REQ IT IU LEN 8260 = max(48+16+20+12*16, 68+8192)
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 16..23 initiator: initiator_ext
    0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56,  // 24..31 initiator: port GUID
    0x00, 0x02, 0xc9, 0x03, 0x00, 0x0a, 0x0b, 0x0c,  // 32..39 target: id_ext
    0x00, 0x02, 0xc9, 0x03, 0x00, 0x0a, 0x0b, 0x0d,  // 40..47 target: ioc_guid
    0x00, 0x44,                                      // 48..49 imm_data_offset 68
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,              // 50..55 reserved
};
// clang-format on

// struct srp_login_req as srp_send_req() fills it for an IB CM channel, second channel
// (multich), use_imm_data=0.
// clang-format off
const Iu kIbCmLogin = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 0 IU TYPE, 1..7 reserved
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,  // 8..15 TAG
    0x00, 0x00, 0x01, 0x14,                          // 16..19 REQ IT IU LEN 276
    0x00, 0x00, 0x00, 0x00,                          // 20..23 reserved
    0x00, 0x06,                                      // 24..25 REQ BUF FMT
    0x01, 0x00,                                      // 26 REQ FLAGS MULTICHAN_MULTI, 27 res.
    0x00, 0x00, 0x00, 0x00,                          // 28..29 imm_data_offset, 30..31 res.
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 32..39 initiator: initiator_ext
    0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56,  // 40..47 initiator: port GUID
    0x00, 0x02, 0xc9, 0x03, 0x00, 0x0a, 0x0b, 0x0c,  // 48..55 target: id_ext
    0x00, 0x02, 0xc9, 0x03, 0x00, 0x0a, 0x0b, 0x0d,  // 56..63 target: ioc_guid
};
// clang-format on

const PortId kInitiatorPort = {0,    0,    0,    0,    0,    0,    0,    0,
                               0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56};
const PortId kTargetPort = {0x00, 0x02, 0xc9, 0x03, 0x00, 0x0a, 0x0b, 0x0c,
                            0x00, 0x02, 0xc9, 0x03, 0x00, 0x0a, 0x0b, 0x0d};

TEST(SrpIu, ParsesRdmaCmLoginRequest) {
  ASSERT_EQ(kRdmaCmLogin.size(), kLoginRequestRdmaSize);
  const auto r = parse_login_request(bytes(kRdmaCmLogin));
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->tag, 0x1122334455667788u);
  EXPECT_EQ(r->max_it_iu_len, 8260u);
  EXPECT_EQ(r->buf_fmt, kBufFmtDirect | kBufFmtIndirect);
  EXPECT_EQ(r->multichannel, 0);
  EXPECT_TRUE(r->immediate_data);
  EXPECT_EQ(r->imm_data_offset, kLinuxImmDataOffset);
  EXPECT_EQ(r->initiator_port_id, kInitiatorPort);
  EXPECT_EQ(r->target_port_id, kTargetPort);
}

TEST(SrpIu, ParsesIbCmLoginRequest) {
  ASSERT_EQ(kIbCmLogin.size(), kLoginRequestSize);
  const auto r = parse_login_request(bytes(kIbCmLogin));
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->tag, 0x1122334455667788u);
  EXPECT_EQ(r->max_it_iu_len, 276u);
  EXPECT_EQ(r->buf_fmt, kBufFmtDirect | kBufFmtIndirect);
  EXPECT_EQ(r->multichannel, 1);
  EXPECT_FALSE(r->immediate_data);
  EXPECT_EQ(r->imm_data_offset, 0u);
  EXPECT_EQ(r->initiator_port_id, kInitiatorPort);
  EXPECT_EQ(r->target_port_id, kTargetPort);
}

TEST(SrpIu, ParsesIbCmLoginRequestInFullPrivateData) {
  // The IB CM REQ carries 92 bytes of private data: the request, then zeros.
  Iu iu = kIbCmLogin;
  iu.resize(92, 0);
  iu[26] = 0x80;  // REQ FLAGS: IMMED_REQUESTED, single channel
  iu[29] = 0x44;  // imm_data_offset 68
  const auto r = parse_login_request(bytes(iu));
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->multichannel, 0);
  EXPECT_TRUE(r->immediate_data);
  EXPECT_EQ(r->imm_data_offset, 68u);
  EXPECT_EQ(r->target_port_id, kTargetPort);
}

TEST(SrpIu, LoginRequestOffsetCountsOnlyWithImmediateRequested) {
  Iu iu = kRdmaCmLogin;
  iu[10] = 0x01;  // MULTICHAN_MULTI, no IMMED_REQUESTED; the offset bytes stay 68
  const auto r = parse_login_request(bytes(iu));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->multichannel, 1);
  EXPECT_FALSE(r->immediate_data);
  EXPECT_EQ(r->imm_data_offset, 0u);
}

TEST(SrpIu, LoginRequestTruncationsAreRefused) {
  for (std::size_t n = 0; n < kRdmaCmLogin.size(); ++n) {
    const auto r = parse_login_request(bytes(prefix(kRdmaCmLogin, n)));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::kTruncated) << n;
  }
  for (std::size_t n = 0; n < kIbCmLogin.size(); ++n) {
    const auto r = parse_login_request(bytes(prefix(kIbCmLogin, n)));
    ASSERT_FALSE(r) << n;
    if (n == kLoginRequestRdmaSize) {
      // 56 bytes is the RDMA CM form by length, whose IU TYPE (byte 11) is here byte 3 of
      // the IB form's TAG (0x44): not a login request.
      EXPECT_EQ(r.error(), ParseError::kWrongType);
    } else {
      EXPECT_EQ(r.error(), ParseError::kTruncated) << n;
    }
  }
}

TEST(SrpIu, LoginRequestWrongOpcodeIsRefused) {
  Iu rdma = kRdmaCmLogin;
  rdma[11] = 0x02;
  ASSERT_FALSE(parse_login_request(bytes(rdma)));
  EXPECT_EQ(parse_login_request(bytes(rdma)).error(), ParseError::kWrongType);
  Iu ib = kIbCmLogin;
  ib[0] = 0xc0;
  ASSERT_FALSE(parse_login_request(bytes(ib)));
  EXPECT_EQ(parse_login_request(bytes(ib)).error(), ParseError::kWrongType);
}

TEST(SrpIu, LoginRequestReservedMultiChannelActionIsRefused) {
  for (std::uint8_t action : {0x02, 0x03}) {
    Iu iu = kRdmaCmLogin;
    iu[10] = static_cast<std::uint8_t>(0x80 | action);
    const auto r = parse_login_request(bytes(iu));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), ParseError::kBadField);
  }
}

// --- SRP_LOGIN_RSP / SRP_LOGIN_REJ --------------------------------------------------------

TEST(SrpIu, BuildsLoginResponseByteByByte) {
  LoginResponse rsp;
  rsp.tag = 0x1122334455667788u;
  rsp.req_lim_delta = 128;
  rsp.max_it_iu_len = 8260;
  rsp.max_ti_iu_len = 8260;
  rsp.multichannel_result = 2;
  rsp.immediate_data = true;
  std::vector<std::byte> out(kLoginResponseSize + 8, std::byte{0xaa});
  ASSERT_EQ(build_login_response(rsp, out), kLoginResponseSize);
  // clang-format off
  const std::uint8_t head[] = {
      0xc0, 0x00, 0x00, 0x00,                          // 0 IU TYPE SRP_LOGIN_RSP, 1..3 res.
      0x00, 0x00, 0x00, 0x80,                          // 4..7 REQUEST LIMIT DELTA 128
      0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,  // 8..15 TAG
      0x00, 0x00, 0x20, 0x44,                          // 16..19 MAX IT IU LEN
      0x00, 0x00, 0x20, 0x44,                          // 20..23 MAX TI IU LEN
      0x00, 0x06,                                      // 24..25 SUPPORTED BUF FMT
      0x82,  // 26 RSP FLAGS: IMMED_SUPP | MULTICHAN_MAINTAINED
  };
  // clang-format on
  // Filled rather than grown with resize(): g++ 12 -O3 warns (-Warray-bounds) on that.
  Iu expected(kLoginResponseSize + 8, 0xaa);                      // the 8 after: untouched
  std::fill_n(expected.begin(), kLoginResponseSize, 0x00);        // 27..51 reserved
  std::copy(std::begin(head), std::end(head), expected.begin());
  EXPECT_EQ(
      std::vector<std::uint8_t>(reinterpret_cast<const std::uint8_t*>(out.data()),
                                reinterpret_cast<const std::uint8_t*>(out.data()) + out.size()),
      expected);
}

TEST(SrpIu, LoginResponseWithoutImmediateDataHasNoImmedSupp) {
  LoginResponse rsp;
  rsp.req_lim_delta = -1;  // written as its two's complement bits
  std::vector<std::byte> out(kLoginResponseSize);
  ASSERT_EQ(build_login_response(rsp, out), kLoginResponseSize);
  EXPECT_EQ(std::to_integer<int>(out[26]), 0x00);
  for (std::size_t i = 4; i < 8; ++i) EXPECT_EQ(std::to_integer<int>(out[i]), 0xff);
  const auto back = parse_login_response(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->req_lim_delta, -1);
  EXPECT_FALSE(back->immediate_data);
  EXPECT_EQ(back->buf_fmt, kBufFmtDirect | kBufFmtIndirect);
}

TEST(SrpIu, LoginResponseRoundTrips) {
  LoginResponse rsp;
  rsp.tag = 42;
  rsp.req_lim_delta = 63;
  rsp.max_it_iu_len = 276;
  rsp.max_ti_iu_len = 4096;
  rsp.buf_fmt = kBufFmtDirect;
  rsp.multichannel_result = 1;
  rsp.immediate_data = true;
  std::vector<std::byte> out(kLoginResponseSize);
  ASSERT_EQ(build_login_response(rsp, out), kLoginResponseSize);
  const auto back = parse_login_response(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->tag, rsp.tag);
  EXPECT_EQ(back->req_lim_delta, rsp.req_lim_delta);
  EXPECT_EQ(back->max_it_iu_len, rsp.max_it_iu_len);
  EXPECT_EQ(back->max_ti_iu_len, rsp.max_ti_iu_len);
  EXPECT_EQ(back->buf_fmt, rsp.buf_fmt);
  EXPECT_EQ(back->multichannel_result, rsp.multichannel_result);
  EXPECT_TRUE(back->immediate_data);
  const Iu raw(reinterpret_cast<const std::uint8_t*>(out.data()),
               reinterpret_cast<const std::uint8_t*>(out.data()) + out.size());
  expect_every_prefix_truncated(raw, [](auto b) { return parse_login_response(b); });
}

TEST(SrpIu, LoginResponseNeedsRoom) {
  std::vector<std::byte> out(kLoginResponseSize - 1, std::byte{0xaa});
  EXPECT_EQ(build_login_response(LoginResponse{}, out), 0u);
  EXPECT_TRUE(
      std::all_of(out.begin(), out.end(), [](std::byte b) { return b == std::byte{0xaa}; }));
}

TEST(SrpIu, BuildsLoginRejectByteByByte) {
  std::vector<std::byte> out(kLoginRejectSize + 4, std::byte{0xaa});
  ASSERT_EQ(build_login_reject(0x0102030405060708u, RejectReason::kIuTooLarge,
                               kBufFmtDirect | kBufFmtIndirect, out),
            kLoginRejectSize);
  // clang-format off
  const Iu expected = {
      0xc2, 0x00, 0x00, 0x00,                          // 0 IU TYPE SRP_LOGIN_REJ, 1..3 res.
      0x00, 0x01, 0x00, 0x02,                          // 4..7 REASON: IT IU LENGTH TOO LARGE
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // 8..15 TAG
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 16..23 reserved
      0x00, 0x06,                                      // 24..25 SUPPORTED BUF FMT
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00,              // 26..31 reserved
      0xaa, 0xaa, 0xaa, 0xaa,                          // untouched
  };
  // clang-format on
  EXPECT_EQ(Iu(reinterpret_cast<const std::uint8_t*>(out.data()),
               reinterpret_cast<const std::uint8_t*>(out.data()) + out.size()),
            expected);
  std::vector<std::byte> small(kLoginRejectSize - 1);
  EXPECT_EQ(build_login_reject(1, RejectReason::kIuTooLarge, 0, small), 0u);
}

// --- SRP_CMD ------------------------------------------------------------------------------

TEST(SrpIu, ParsesCommandWithoutData) {
  const Iu iu = command_header(0x00, 0, 0);
  const auto c = parse_command(bytes(iu));
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->tag, 0x2au);
  EXPECT_EQ(c->lun, (std::array<std::uint8_t, 8>{0x00, 0x01, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(c->task_attr, TaskAttribute::kSimple);
  ASSERT_EQ(c->cdb.size(), 16u);
  EXPECT_EQ(c->cdb.data(), iu.data() + 32) << "the CDB is a view into the IU";
  EXPECT_EQ(c->cdb[0], 0x28);
  EXPECT_EQ(c->data_out_format, BufferFormat::kNone);
  EXPECT_EQ(c->data_in_format, BufferFormat::kNone);
  EXPECT_TRUE(c->data_out.empty());
  EXPECT_TRUE(c->data_in.empty());
  EXPECT_EQ(c->data_out_length, 0u);
  EXPECT_EQ(c->data_in_length, 0u);
  EXPECT_TRUE(c->immediate_data.empty());
}

// READ(10) of 8 blocks into one registered buffer: srp_map_data() with count == 1 writes a
// direct descriptor at add_data + add_cdb_len and buf_fmt = SRP_DATA_DESC_DIRECT (data-in).
// clang-format off
const Iu kReadDirect = {
    0x02, 0x00, 0x00, 0x00, 0x00,                    // 0 IU TYPE, 1 SOLNT, 2..4 reserved
    0x01,                                            // 5 BUF FMT: data-in direct
    0x00, 0x00,                                      // 6..7 counts (0 for direct)
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,  // 8..15 TAG
    0x00, 0x00, 0x00, 0x00,                          // 16..19 reserved
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 20..27 LUN 1
    0x00, 0x00, 0x00, 0x00,  // 28 res., 29 TASK ATTR simple, 30 res., 31 ADD CDB LEN 0
    0x28, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x08, 0x00,  // 32..41 READ(10)
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                          // 42..47
    0x00, 0x00, 0x7f, 0x12, 0x34, 0x56, 0x70, 0x00,  // 48..55 VA
    0x00, 0x00, 0x12, 0x34,                          // 56..59 R_KEY
    0x00, 0x00, 0x10, 0x00,                          // 60..63 LENGTH 4096
};
// clang-format on

TEST(SrpIu, ParsesReadWithDirectDescriptor) {
  const auto c = parse_command(bytes(kReadDirect));
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->data_out_format, BufferFormat::kNone);
  EXPECT_EQ(c->data_in_format, BufferFormat::kDirect);
  ASSERT_EQ(c->data_in.size(), 1u);
  EXPECT_EQ(c->data_in[0].va, 0x00007f1234567000u);
  EXPECT_EQ(c->data_in[0].key, 0x1234u);
  EXPECT_EQ(c->data_in[0].len, 4096u);
  EXPECT_TRUE(c->data_in_table_in_iu);
  EXPECT_EQ(c->data_in_length, 4096u);
  EXPECT_TRUE(c->data_out.empty());
  expect_every_prefix_truncated(kReadDirect, [](auto b) { return parse_command(b); });
}

TEST(SrpIu, ParsesWriteWithDirectDescriptor) {
  Iu iu = kReadDirect;
  iu[5] = 0x10;   // data-out direct
  iu[32] = 0x2a;  // WRITE(10)
  const auto c = parse_command(bytes(iu));
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->data_out_format, BufferFormat::kDirect);
  EXPECT_EQ(c->data_in_format, BufferFormat::kNone);
  ASSERT_EQ(c->data_out.size(), 1u);
  EXPECT_EQ(c->data_out[0].len, 4096u);
  EXPECT_EQ(c->data_out_length, 4096u);
  EXPECT_EQ(c->cdb[0], 0x2a);
}

TEST(SrpIu, ParsesBidirectionalCommandDataOutFirst) {
  Iu iu = command_header(0x11, 0, 0);
  append_descriptor(iu, 0x1000, 1, 512);   // 48..63 data-out
  append_descriptor(iu, 0x2000, 2, 1024);  // 64..79 data-in
  const auto c = parse_command(bytes(iu));
  ASSERT_TRUE(c) << to_string(c.error());
  ASSERT_EQ(c->data_out.size(), 1u);
  ASSERT_EQ(c->data_in.size(), 1u);
  EXPECT_EQ(c->data_out[0].va, 0x1000u);
  EXPECT_EQ(c->data_in[0].va, 0x2000u);
  EXPECT_EQ(c->data_out_length, 512u);
  EXPECT_EQ(c->data_in_length, 1024u);
  expect_every_prefix_truncated(iu, [](auto b) { return parse_command(b); });
}

// WRITE scattered over three pieces: srp_map_data() writes srp_indirect_buf with the whole
// table (table_desc.len = 3 * 16, TOTAL LENGTH = sum) and data_out_desc_cnt = 3.
Iu indirect_write_whole_table() {
  Iu iu = command_header(0x20, 3, 0);
  append_descriptor(iu, 0xffff888000001000, 0x77, 48);  // 48..63 table descriptor
  append32(iu, 4096 + 8192 + 512);                      // 64..67 TOTAL LENGTH
  append_descriptor(iu, 0x10000, 0x11, 4096);           // 68..83
  append_descriptor(iu, 0x20000, 0x12, 8192);           // 84..99
  append_descriptor(iu, 0x30000, 0x13, 512);            // 100..115
  return iu;
}

TEST(SrpIu, ParsesIndirectDataOutWithWholeTableInIu) {
  const Iu iu = indirect_write_whole_table();
  ASSERT_EQ(iu.size(), 116u);
  const auto c = parse_command(bytes(iu));
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->data_out_format, BufferFormat::kIndirect);
  EXPECT_TRUE(c->data_out_table_in_iu);
  EXPECT_EQ(c->data_out_table.va, 0xffff888000001000u);
  EXPECT_EQ(c->data_out_table.key, 0x77u);
  EXPECT_EQ(c->data_out_table.len, 48u);
  EXPECT_EQ(c->data_out_length, 4096u + 8192 + 512);
  ASSERT_EQ(c->data_out.size(), 3u);
  EXPECT_EQ(c->data_out[0].va, 0x10000u);
  EXPECT_EQ(c->data_out[1].key, 0x12u);
  EXPECT_EQ(c->data_out[2].len, 512u);
  EXPECT_TRUE(c->data_in.empty());
  expect_every_prefix_truncated(iu, [](auto b) { return parse_command(b); });
}

TEST(SrpIu, ParsesIndirectDataInWithPartialTable) {
  // allow_ext_sg: 5 pieces, only cmd_sg_cnt = 2 of them in the IU.
  Iu iu = command_header(0x02, 0, 2);
  append_descriptor(iu, 0xabc000, 0x99, 5 * 16);  // 48..63 table descriptor: 5 entries
  append32(iu, 5 * 4096);                         // 64..67 TOTAL LENGTH
  append_descriptor(iu, 0x10000, 1, 4096);        // 68..83
  append_descriptor(iu, 0x20000, 2, 4096);        // 84..99
  const auto c = parse_command(bytes(iu));
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->data_in_format, BufferFormat::kIndirect);
  EXPECT_FALSE(c->data_in_table_in_iu);
  EXPECT_EQ(c->data_in_table.va, 0xabc000u);
  EXPECT_EQ(c->data_in_table.len, 80u);
  ASSERT_EQ(c->data_in.size(), 2u);
  EXPECT_EQ(c->data_in[1].va, 0x20000u);
  EXPECT_EQ(c->data_in_length, 5u * 4096);
  EXPECT_TRUE(c->data_out_table_in_iu);
  expect_every_prefix_truncated(iu, [](auto b) { return parse_command(b); });
}

TEST(SrpIu, IndirectCountAboveTableLengthIsRefused) {
  Iu iu = indirect_write_whole_table();
  iu[48 + 15] = 32;  // table descriptor LENGTH 32: 2 entries, but 3 in the IU
  const auto c = parse_command(bytes(iu));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), ParseError::kBadDescriptorCount);
}

TEST(SrpIu, IndirectTableLengthMustBeWholeNonEmptyDescriptors) {
  for (std::uint8_t len : {0, 47, 49}) {
    Iu iu = indirect_write_whole_table();
    iu[48 + 15] = len;
    const auto c = parse_command(bytes(iu));
    ASSERT_FALSE(c) << int{len};
    EXPECT_EQ(c.error(), ParseError::kBadDescriptorCount) << int{len};
  }
}

TEST(SrpIu, IndirectCountBeyondIuLengthIsTruncated) {
  const Iu whole = indirect_write_whole_table();
  const Iu iu = prefix(whole, whole.size() - 16);  // no third descriptor; the count says 3
  const auto c = parse_command(bytes(iu));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), ParseError::kTruncated);
}

TEST(SrpIu, IndirectTableAboveMaxDescriptorsIsRefused) {
  Iu iu = command_header(0x20, 1, 0);
  append_descriptor(iu, 0x1000, 1, (kMaxDescriptors + 1) * 16);
  append32(iu, 4096);
  append_descriptor(iu, 0x10000, 1, 4096);
  const auto c = parse_command(bytes(iu));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), ParseError::kTooManyDescriptors);

  // kMaxDescriptors exactly is fine (the rest of the table is to be read).
  iu[48 + 12] = 0x00;
  iu[48 + 13] = 0x00;
  iu[48 + 14] = 0x10;  // 4096 = 256 * 16
  iu[48 + 15] = 0x00;
  const auto ok = parse_command(bytes(iu));
  ASSERT_TRUE(ok) << to_string(ok.error());
  EXPECT_FALSE(ok->data_out_table_in_iu);
}

TEST(SrpIu, IndirectLengthsMustAddUpToTotal) {
  {  // whole table, total one byte more than the sum
    Iu iu = indirect_write_whole_table();
    iu[67] += 1;
    const auto c = parse_command(bytes(iu));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), ParseError::kLengthOverflow);
  }
  {  // whole table, total one byte less
    Iu iu = indirect_write_whole_table();
    iu[67] -= 1;
    const auto c = parse_command(bytes(iu));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), ParseError::kLengthOverflow);
  }
  {  // lengths whose sum does not fit 32 bits
    Iu iu = command_header(0x20, 2, 0);
    append_descriptor(iu, 0x1000, 1, 32);
    append32(iu, 0xffffffff);
    append_descriptor(iu, 0x10000, 1, 0xffffffff);
    append_descriptor(iu, 0x20000, 1, 0x00000001);
    const auto c = parse_command(bytes(iu));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), ParseError::kLengthOverflow);
  }
  {  // partial list already longer than the total
    Iu iu = command_header(0x02, 0, 1);
    append_descriptor(iu, 0x1000, 1, 64);
    append32(iu, 100);
    append_descriptor(iu, 0x10000, 1, 101);
    const auto c = parse_command(bytes(iu));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), ParseError::kLengthOverflow);
  }
}

TEST(SrpIu, ParsesAdditionalCdb) {
  // A 32-byte CDB: add_cdb_len = round_up(32 - 16, 4) = 16 (srp_queuecommand).
  Iu iu = command_header(0x01, 0, 0, 16);
  iu[32] = 0x7f;  // VARIABLE LENGTH CDB
  iu[39] = 0x18;  // ADDITIONAL CDB LENGTH within the CDB: 24
  for (std::uint8_t i = 0; i < 16; ++i)
    iu.push_back(static_cast<std::uint8_t>(0xc0 + i));  // 48..63
  append_descriptor(iu, 0x5000, 7, 512);                // 64..79: the descriptor follows the CDB
  const auto c = parse_command(bytes(iu));
  ASSERT_TRUE(c) << to_string(c.error());
  ASSERT_EQ(c->cdb.size(), 32u);
  EXPECT_EQ(c->cdb.data(), iu.data() + 32);
  EXPECT_EQ(c->cdb[0], 0x7f);
  EXPECT_EQ(c->cdb[16], 0xc0);
  EXPECT_EQ(c->cdb[31], 0xcf);
  ASSERT_EQ(c->data_in.size(), 1u);
  EXPECT_EQ(c->data_in[0].va, 0x5000u);
  EXPECT_EQ(c->data_in[0].len, 512u);
  expect_every_prefix_truncated(iu, [](auto b) { return parse_command(b); });
}

TEST(SrpIu, AdditionalCdbLengthReservedBitsAreRefused) {
  for (std::uint8_t len : {1, 2, 3, 17}) {
    Iu iu = command_header(0x00, 0, 0, len);
    iu.resize(48 + 32, 0);
    const auto c = parse_command(bytes(iu));
    ASSERT_FALSE(c) << int{len};
    EXPECT_EQ(c.error(), ParseError::kBadCdbLength) << int{len};
  }
}

// A 512-byte WRITE with immediate data as srp_map_data() sends it when the login granted
// SRP_LOGIN_RSP_IMMED_SUPP: buf_fmt = SRP_DATA_DESC_IMM << 4, a struct srp_imm_buf (only a
// be32 length) at add_data + add_cdb_len, the data at SRP_IMM_DATA_OFFSET = 68.
Iu immediate_write(std::uint32_t len = 512) {
  Iu iu = command_header(0x30, 0, 0);
  iu[32] = 0x2a;                      // WRITE(10)
  append32(iu, len);                  // 48..51 srp_imm_buf.len
  iu.resize(kLinuxImmDataOffset, 0);  // 52..67 unused (room for a 32-byte CDB)
  for (std::uint32_t i = 0; i < len; ++i) iu.push_back(static_cast<std::uint8_t>(i * 7));
  return iu;
}

TEST(SrpIu, ParsesImmediateData) {
  const Iu iu = immediate_write();
  ASSERT_EQ(iu.size(), 68u + 512);
  const auto c = parse_command(bytes(iu), kLinuxImmDataOffset);
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->data_out_format, BufferFormat::kImmediate);
  EXPECT_TRUE(c->data_out.empty());
  EXPECT_EQ(c->data_out_length, 512u);
  ASSERT_EQ(c->immediate_data.size(), 512u);
  EXPECT_EQ(static_cast<const void*>(c->immediate_data.data()),
            static_cast<const void*>(iu.data() + 68));
  EXPECT_EQ(std::to_integer<int>(c->immediate_data[3]), 21);
  expect_every_prefix_truncated(iu, [](auto b) { return parse_command(b, kLinuxImmDataOffset); });
}

TEST(SrpIu, ParsesImmediateDataAfterAdditionalCdb) {
  Iu iu = command_header(0x30, 0, 0, 16);
  iu.resize(64, 0xee);  // 48..63 additional CDB
  append32(iu, 4);      // 64..67 srp_imm_buf.len: ends exactly at offset 68
  for (std::uint8_t b : {1, 2, 3, 4}) iu.push_back(b);
  const auto c = parse_command(bytes(iu), kLinuxImmDataOffset);
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->cdb.size(), 32u);
  ASSERT_EQ(c->immediate_data.size(), 4u);
  EXPECT_EQ(std::to_integer<int>(c->immediate_data[0]), 1);
}

TEST(SrpIu, ImmediateDataOutsideIuIsRefused) {
  {  // the descriptor says one byte more than the IU holds
    Iu iu = immediate_write();
    iu[51] = 0x01;  // srp_imm_buf.len 513
    iu[50] = 0x02;
    const auto c = parse_command(bytes(iu), kLinuxImmDataOffset);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), ParseError::kTruncated);
  }
  {  // a huge length must not wrap around
    Iu iu = immediate_write();
    iu[48] = iu[49] = iu[50] = iu[51] = 0xff;
    const auto c = parse_command(bytes(iu), kLinuxImmDataOffset);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), ParseError::kTruncated);
  }
  {  // an offset past the end of the IU
    const Iu iu = immediate_write(0);
    const auto c = parse_command(bytes(iu), 1000);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), ParseError::kTruncated);
  }
}

TEST(SrpIu, ImmediateDataMustFollowTheDescriptors) {
  const Iu iu = immediate_write();
  const auto c = parse_command(bytes(iu), 50);  // the descriptor ends at 52
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), ParseError::kBadField);
  const auto ok = parse_command(bytes(iu), 52);
  ASSERT_TRUE(ok) << to_string(ok.error());
  EXPECT_EQ(static_cast<const void*>(ok->immediate_data.data()),
            static_cast<const void*>(iu.data() + 52));
}

TEST(SrpIu, ImmediateDataNeedsNegotiationAndDataOut) {
  const Iu iu = immediate_write();
  const auto c = parse_command(bytes(iu));  // imm_data_offset 0: login did not grant it
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), ParseError::kBadDescriptorFormat);
  Iu in = immediate_write();
  in[5] = 0x03;  // immediate data-in: no such thing
  const auto d = parse_command(bytes(in), kLinuxImmDataOffset);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), ParseError::kBadDescriptorFormat);
}

TEST(SrpIu, ReservedBufferFormatsAreRefused) {
  for (std::uint8_t fmt : {0x40, 0xf0, 0x04, 0x0f, 0x41}) {
    Iu iu = kReadDirect;
    iu[5] = fmt;
    const auto c = parse_command(bytes(iu), kLinuxImmDataOffset);
    ASSERT_FALSE(c) << int{fmt};
    EXPECT_EQ(c.error(), ParseError::kBadDescriptorFormat) << int{fmt};
  }
}

TEST(SrpIu, CommandTaskAttributes) {
  const std::pair<std::uint8_t, TaskAttribute> ok[] = {{0, TaskAttribute::kSimple},
                                                       {1, TaskAttribute::kHeadOfQueue},
                                                       {2, TaskAttribute::kOrdered},
                                                       {4, TaskAttribute::kAca}};
  for (const auto& [byte, attr] : ok) {
    Iu iu = kReadDirect;
    iu[29] = byte;
    const auto c = parse_command(bytes(iu));
    ASSERT_TRUE(c) << int{byte};
    EXPECT_EQ(c->task_attr, attr);
  }
  for (std::uint8_t byte : {3, 5, 6, 7}) {
    Iu iu = kReadDirect;
    iu[29] = byte;
    const auto c = parse_command(bytes(iu));
    ASSERT_FALSE(c) << int{byte};
    EXPECT_EQ(c.error(), ParseError::kBadField);
  }
}

TEST(SrpIu, DescriptorCountsAreIgnoredForDirectFormat) {
  Iu iu = kReadDirect;
  iu[6] = 1;  // some initiators set the count for a direct descriptor too
  iu[7] = 1;
  const auto c = parse_command(bytes(iu));
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->data_in.size(), 1u);
}

TEST(SrpIu, CommandWrongOpcodeIsRefused) {
  Iu iu = kReadDirect;
  iu[0] = static_cast<std::uint8_t>(IuType::kTskMgmt);
  const auto c = parse_command(bytes(iu));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), ParseError::kWrongType);
}

// --- Descriptor tables fetched with RDMA READ --------------------------------------------

TEST(SrpIu, ParsesDescriptorTable) {
  Iu table;
  append_descriptor(table, 0x10000, 1, 4096);
  append_descriptor(table, 0x20000, 2, 4096);
  append_descriptor(table, 0x30000, 3, 100);
  const auto t = parse_descriptor_table(bytes(table));
  ASSERT_TRUE(t) << to_string(t.error());
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[2].va, 0x30000u);
  EXPECT_EQ((*t)[2].key, 3u);
  EXPECT_EQ((*t)[2].len, 100u);
  EXPECT_TRUE(parse_descriptor_table(bytes(table), 8292));
  const auto bad_total = parse_descriptor_table(bytes(table), 8293);
  ASSERT_FALSE(bad_total);
  EXPECT_EQ(bad_total.error(), ParseError::kLengthOverflow);
}

TEST(SrpIu, DescriptorTableSizeChecks) {
  Iu table;
  append_descriptor(table, 1, 1, 1);
  for (std::size_t n : {0, 1, 15, 17}) {
    Iu t = table;
    t.resize(n, 0);
    const auto r = parse_descriptor_table(bytes(t));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::kBadDescriptorCount) << n;
  }
  const Iu max(kMaxDescriptors * 16, 0);
  ASSERT_TRUE(parse_descriptor_table(bytes(max)));
  EXPECT_EQ(parse_descriptor_table(bytes(max))->size(), kMaxDescriptors);
  const Iu over((kMaxDescriptors + 1) * 16, 0);
  ASSERT_FALSE(parse_descriptor_table(bytes(over)));
  EXPECT_EQ(parse_descriptor_table(bytes(over)).error(), ParseError::kTooManyDescriptors);
}

// --- SRP_TSK_MGMT / SRP_I_LOGOUT -----------------------------------------------------------

// ABORT TASK as srp_send_tsk_mgmt() sends it on x86: the tags are host-order u64s, the
// IU tag with SRP_TAG_TSK_MGMT (bit 31) set.
// clang-format off
const Iu kAbortTask = {
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 0 IU TYPE, 1 SOLNT, 2..7 reserved
    0x01, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,  // 8..15 TAG (LE 0x80000001)
    0x00, 0x00, 0x00, 0x00,                          // 16..19 reserved
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 20..27 LUN 1
    0x00, 0x00,                                      // 28..29 reserved
    0x01,                                            // 30 TASK MANAGEMENT FUNCTION
    0x00,                                            // 31 reserved
    0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 32..39 TAG OF TASK TO BE MANAGED
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 40..47 reserved
};
// clang-format on

TEST(SrpIu, ParsesTaskManagement) {
  ASSERT_EQ(kAbortTask.size(), kTaskManagementSize);
  const auto t = parse_task_management(bytes(kAbortTask));
  ASSERT_TRUE(t) << to_string(t.error());
  EXPECT_EQ(t->tag, 0x0100008000000000u);
  EXPECT_EQ(t->lun, (std::array<std::uint8_t, 8>{0x00, 0x01, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(t->function, static_cast<std::uint8_t>(TaskFunction::kAbortTask));
  EXPECT_EQ(t->task_tag, 0x2a00000000000000u);
  expect_every_prefix_truncated(kAbortTask, [](auto b) { return parse_task_management(b); });
  Iu wrong = kAbortTask;
  wrong[0] = static_cast<std::uint8_t>(IuType::kCmd);
  ASSERT_FALSE(parse_task_management(bytes(wrong)));
  EXPECT_EQ(parse_task_management(bytes(wrong)).error(), ParseError::kWrongType);
}

TEST(SrpIu, TaskManagementTagComesBackUnchanged) {
  // ib_srp matches the response with rsp->tag == ch->tsk_mgmt_tag on the raw bytes.
  const auto t = parse_task_management(bytes(kAbortTask));
  ASSERT_TRUE(t);
  Response r;
  r.tag = t->tag;
  r.response_valid = true;
  std::vector<std::byte> out(64);
  ASSERT_EQ(build_response(r, out), 40u);
  for (std::size_t i = 0; i < 8; ++i)
    EXPECT_EQ(std::to_integer<std::uint8_t>(out[8 + i]), kAbortTask[8 + i]) << i;
}

TEST(SrpIu, ParsesInitiatorLogout) {
  // clang-format off
  const Iu iu = {
      0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 0 IU TYPE, 1..7 reserved
      0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x01,  // 8..15 TAG
  };
  // clang-format on
  ASSERT_EQ(iu.size(), kInitiatorLogoutSize);
  const auto tag = parse_initiator_logout(bytes(iu));
  ASSERT_TRUE(tag);
  EXPECT_EQ(*tag, 0xdeadbeef00000001u);
  expect_every_prefix_truncated(iu, [](auto b) { return parse_initiator_logout(b); });
  Iu wrong = iu;
  wrong[0] = 0x80;
  ASSERT_FALSE(parse_initiator_logout(bytes(wrong)));
  EXPECT_EQ(parse_initiator_logout(bytes(wrong)).error(), ParseError::kWrongType);
}

TEST(SrpIu, IuTypeOfEveryType) {
  for (std::uint8_t t : {0x00, 0x01, 0x02, 0x03, 0x41, 0x42, 0x80, 0x81, 0x82, 0xc0, 0xc1, 0xc2}) {
    const Iu iu = {t};
    const auto r = iu_type(bytes(iu));
    ASSERT_TRUE(r) << int{t};
    EXPECT_EQ(static_cast<std::uint8_t>(*r), t);
  }
  EXPECT_EQ(iu_type({}).error(), ParseError::kTruncated);
  for (std::uint8_t t : {0x04, 0x40, 0x7f, 0x83, 0xc3, 0xff}) {
    const Iu iu = {t};
    ASSERT_FALSE(iu_type(bytes(iu))) << int{t};
    EXPECT_EQ(iu_type(bytes(iu)).error(), ParseError::kWrongType);
  }
}

// --- SRP_RSP ------------------------------------------------------------------------------

Iu as_iu(const std::vector<std::byte>& v, std::size_t n) {
  return Iu(reinterpret_cast<const std::uint8_t*>(v.data()),
            reinterpret_cast<const std::uint8_t*>(v.data()) + n);
}

TEST(SrpIu, BuildsGoodStatusResponseByteByByte) {
  Response r;
  r.tag = 0x2a;
  r.req_lim_delta = 1;
  r.status = 0;
  EXPECT_EQ(response_size(r), 36u);
  std::vector<std::byte> out(64, std::byte{0xaa});
  ASSERT_EQ(build_response(r, out), 36u);
  // clang-format off
  const Iu expected = {
      0xc1, 0x00, 0x00, 0x00,                          // 0 IU TYPE SRP_RSP, 1 SOLNT, 2..3 res.
      0x00, 0x00, 0x00, 0x01,                          // 4..7 REQUEST LIMIT DELTA
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,  // 8..15 TAG
      0x00, 0x00,                                      // 16..17 reserved
      0x00,                                            // 18 FLAGS
      0x00,                                            // 19 STATUS GOOD
      0x00, 0x00, 0x00, 0x00,                          // 20..23 DATA-OUT RESIDUAL COUNT
      0x00, 0x00, 0x00, 0x00,                          // 24..27 DATA-IN RESIDUAL COUNT
      0x00, 0x00, 0x00, 0x00,                          // 28..31 SENSE DATA LIST LENGTH
      0x00, 0x00, 0x00, 0x00,                          // 32..35 RESPONSE DATA LIST LENGTH
      0xaa, 0xaa, 0xaa, 0xaa,                          // untouched
  };
  // clang-format on
  EXPECT_EQ(as_iu(out, 40), expected);
}

// Fixed-format sense: MEDIUM ERROR / UNRECOVERED READ ERROR (11h/00h).
const std::vector<std::uint8_t> kSense = {0x70, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00,
                                          0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00};

TEST(SrpIu, BuildsCheckConditionWithSense) {
  Response r;
  r.tag = 7;
  r.req_lim_delta = 1;
  r.status = 0x02;
  r.sense = kSense;
  EXPECT_EQ(response_size(r), 36u + 18);
  std::vector<std::byte> out(256, std::byte{0xaa});
  ASSERT_EQ(build_response(r, out), 54u);
  const Iu got = as_iu(out, 56);
  EXPECT_EQ(got[18], 0x02) << "SNSVALID only";
  EXPECT_EQ(got[19], 0x02) << "CHECK CONDITION";
  EXPECT_EQ(Iu(got.begin() + 28, got.begin() + 32), (Iu{0, 0, 0, 18}));
  EXPECT_EQ(Iu(got.begin() + 32, got.begin() + 36), (Iu{0, 0, 0, 0}));
  EXPECT_EQ(Iu(got.begin() + 36, got.begin() + 54), kSense);
  EXPECT_EQ(got[54], 0xaa);
  EXPECT_EQ(got[55], 0xaa);
}

TEST(SrpIu, SenseIsCutToFit) {
  Response r;
  r.status = 0x02;
  r.sense = kSense;
  std::vector<std::byte> out(36 + 10 + 4, std::byte{0xaa});
  ASSERT_EQ(build_response(r, std::span(out).first(46)), 46u);
  const Iu got = as_iu(out, out.size());
  EXPECT_EQ(got[18], 0x02);
  EXPECT_EQ(Iu(got.begin() + 28, got.begin() + 32), (Iu{0, 0, 0, 10}));
  EXPECT_EQ(Iu(got.begin() + 36, got.begin() + 46), Iu(kSense.begin(), kSense.begin() + 10));
  EXPECT_EQ(Iu(got.begin() + 46, got.end()), (Iu{0xaa, 0xaa, 0xaa, 0xaa}));

  // No room at all for sense: no SNSVALID, length 0.
  std::vector<std::byte> header_only(36);
  ASSERT_EQ(build_response(r, header_only), 36u);
  EXPECT_EQ(std::to_integer<int>(header_only[18]), 0x00);
  EXPECT_EQ(std::to_integer<int>(header_only[31]), 0x00);
}

TEST(SrpIu, ResidualFlags) {
  Response r;
  r.data_in_residual = 512;    // DIUNDER
  r.data_out_residual = -100;  // DOOVER
  std::vector<std::byte> out(36);
  ASSERT_EQ(build_response(r, out), 36u);
  const Iu got = as_iu(out, 36);
  EXPECT_EQ(got[18], 0x20 | 0x04);
  EXPECT_EQ(Iu(got.begin() + 20, got.begin() + 24), (Iu{0, 0, 0, 100}));
  EXPECT_EQ(Iu(got.begin() + 24, got.begin() + 28), (Iu{0, 0, 2, 0}));

  r.data_in_residual = -1;  // DIOVER
  r.data_out_residual = 1;  // DOUNDER
  ASSERT_EQ(build_response(r, out), 36u);
  EXPECT_EQ(std::to_integer<int>(out[18]), 0x10 | 0x08);
  const auto back = parse_response(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->data_in_residual, -1);
  EXPECT_EQ(back->data_out_residual, 1);

  // Magnitudes beyond the 32-bit count saturate; INT64_MIN must not overflow.
  r.data_in_residual = std::numeric_limits<std::int64_t>::min();
  r.data_out_residual = std::int64_t{1} << 40;
  ASSERT_EQ(build_response(r, out), 36u);
  const Iu sat = as_iu(out, 36);
  EXPECT_EQ(sat[18], 0x10 | 0x08);
  EXPECT_EQ(Iu(sat.begin() + 20, sat.begin() + 28),
            (Iu{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

TEST(SrpIu, BuildsTaskManagementResponse) {
  Response r;
  r.tag = 0x0100008000000000u;
  r.req_lim_delta = 1;
  r.response_valid = true;
  r.response_code = 5;  // TASK MANAGEMENT FUNCTION FAILED
  EXPECT_EQ(response_size(r), 40u);
  std::vector<std::byte> out(64, std::byte{0xaa});
  ASSERT_EQ(build_response(r, out), 40u);
  const Iu got = as_iu(out, 42);
  EXPECT_EQ(got[18], 0x01) << "RSPVALID";
  EXPECT_EQ(Iu(got.begin() + 28, got.begin() + 32), (Iu{0, 0, 0, 0}));
  EXPECT_EQ(Iu(got.begin() + 32, got.begin() + 36), (Iu{0, 0, 0, 4}));
  // RESPONSE DATA: 3 reserved bytes, RSP CODE (ib_srp reads data[3]).
  EXPECT_EQ(Iu(got.begin() + 36, got.begin() + 40), (Iu{0, 0, 0, 5}));
  EXPECT_EQ(got[40], 0xaa);

  // With sense as well: after the response data.
  r.sense = kSense;
  ASSERT_EQ(build_response(r, out), 58u);
  EXPECT_EQ(std::to_integer<int>(out[18]), 0x03);
  EXPECT_EQ(as_iu(out, 58)[40], kSense[0]);
  const auto back = parse_response(std::span(out).first(58));
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_TRUE(back->response_valid);
  EXPECT_EQ(back->response_code, 5);
  EXPECT_EQ(std::vector<std::uint8_t>(back->sense.begin(), back->sense.end()), kSense);
}

TEST(SrpIu, BuildResponseNeedsRoomForHeaderAndResponseData) {
  Response r;
  std::vector<std::byte> out(35, std::byte{0xaa});
  EXPECT_EQ(build_response(r, out), 0u);
  r.response_valid = true;
  std::vector<std::byte> out39(39, std::byte{0xaa});
  EXPECT_EQ(build_response(r, out39), 0u);
  EXPECT_TRUE(
      std::all_of(out39.begin(), out39.end(), [](std::byte b) { return b == std::byte{0xaa}; }));
}

TEST(SrpIu, ResponseRoundTripsAndParseChecks) {
  Response r;
  r.tag = 0x0102030405060708u;
  r.req_lim_delta = -3;
  r.status = 0x02;
  r.sense = kSense;
  r.data_in_residual = 4096;
  std::vector<std::byte> out(response_size(r));
  ASSERT_EQ(build_response(r, out), out.size());
  const auto back = parse_response(out);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(back->tag, r.tag);
  EXPECT_EQ(back->req_lim_delta, -3);
  EXPECT_EQ(back->status, 0x02);
  EXPECT_FALSE(back->response_valid);
  EXPECT_EQ(back->data_in_residual, 4096);
  EXPECT_EQ(back->data_out_residual, 0);
  EXPECT_EQ(std::vector<std::uint8_t>(back->sense.begin(), back->sense.end()), kSense);
  expect_every_prefix_truncated(as_iu(out, out.size()), [](auto b) { return parse_response(b); });

  out[18] |= std::byte{0x20 | 0x10};  // DIUNDER and DIOVER at once
  ASSERT_FALSE(parse_response(out));
  EXPECT_EQ(parse_response(out).error(), ParseError::kBadField);
}

TEST(SrpIu, BuildsTargetLogoutByteByByte) {
  std::vector<std::byte> out(kTargetLogoutSize + 2, std::byte{0xaa});
  ASSERT_EQ(build_target_logout(0x1122334455667788u, 0x00000001, out), kTargetLogoutSize);
  // clang-format off
  const Iu expected = {
      0x80, 0x00, 0x00, 0x00,                          // 0 IU TYPE, 1 SOLNT, 2..3 reserved
      0x00, 0x00, 0x00, 0x01,                          // 4..7 REASON
      0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,  // 8..15 TAG
      0xaa, 0xaa,                                      // untouched
  };
  // clang-format on
  EXPECT_EQ(as_iu(out, out.size()), expected);
  std::vector<std::byte> small(kTargetLogoutSize - 1);
  EXPECT_EQ(build_target_logout(1, 1, small), 0u);
}

TEST(SrpIu, EveryParseErrorHasItsOwnName) {
  std::set<std::string> names;
  for (auto e : {ParseError::kTruncated, ParseError::kWrongType, ParseError::kBadDescriptorFormat,
                 ParseError::kBadDescriptorCount, ParseError::kTooManyDescriptors,
                 ParseError::kLengthOverflow, ParseError::kBadCdbLength, ParseError::kBadField}) {
    EXPECT_FALSE(to_string(e).empty());
    names.emplace(to_string(e));
  }
  EXPECT_EQ(names.size(), 8u);
}

}  // namespace
}  // namespace tgt_pmem::srp
