// SPDX-License-Identifier: GPL-2.0-only
// tgt_pmem/bytes/big_endian.h: byte order on the wire, round trips, and offsets.
#include <tgt_pmem/bytes/big_endian.h>

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace {

using tgt_pmem::bytes::load_be16;
using tgt_pmem::bytes::load_be32;
using tgt_pmem::bytes::load_be64;
using tgt_pmem::bytes::load_u8;
using tgt_pmem::bytes::store_be16;
using tgt_pmem::bytes::store_be32;
using tgt_pmem::bytes::store_be64;
using tgt_pmem::bytes::store_u8;

template <std::size_t N>
std::array<std::byte, N> make(const std::array<std::uint8_t, N>& v) {
  std::array<std::byte, N> b{};
  for (std::size_t i = 0; i < N; ++i) b[i] = std::byte{v[i]};
  return b;
}

TEST(BigEndian, LoadsMostSignificantByteFirst) {
  const auto b = make<9>({0xaa, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef});
  const std::span<const std::byte> s(b);
  EXPECT_EQ(load_u8(s, 0), 0xaa);
  EXPECT_EQ(load_be16(s, 1), 0x0123);
  EXPECT_EQ(load_be32(s, 1), 0x01234567u);
  EXPECT_EQ(load_be64(s, 1), 0x0123456789abcdefull);
  // At an odd offset: no alignment is assumed.
  EXPECT_EQ(load_be32(s, 5), 0x89abcdefu);
}

TEST(BigEndian, StoresMostSignificantByteFirst) {
  std::array<std::byte, 16> b{};
  store_u8(b, 0, 0x7f);
  store_be16(b, 1, 0xbeef);
  store_be32(b, 3, 0xdeadbeefu);
  EXPECT_EQ(b, (make<16>({0x7f, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0})));
  store_be64(b, 7, 0x0102030405060708ull);
  EXPECT_EQ(b, (make<16>({0x7f, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 0})));
}

TEST(BigEndian, StoresTouchOnlyTheirWidth) {
  std::array<std::byte, 10> b;
  b.fill(std::byte{0x55});
  store_be64(b, 1, 0);
  EXPECT_EQ(b, (make<10>({0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0x55})));
}

TEST(BigEndian, RoundTripsExtremeValues) {
  std::array<std::byte, 8> b{};
  for (const std::uint16_t v : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{0x8000},
                                std::uint16_t{0xffff}}) {
    store_be16(b, 0, v);
    EXPECT_EQ(load_be16(b, 0), v);
  }
  for (const std::uint32_t v : {0u, 1u, 0x80000000u, 0xffffffffu, 0x00ff00ffu}) {
    store_be32(b, 0, v);
    EXPECT_EQ(load_be32(b, 0), v);
  }
  for (const std::uint64_t v :
       {0ull, 1ull, 0x8000000000000000ull, 0xffffffffffffffffull, 0x00ff00ff00ff00ffull}) {
    store_be64(b, 0, v);
    EXPECT_EQ(load_be64(b, 0), v);
  }
}

// Usable in constant expressions (the header promises constexpr).
constexpr std::uint32_t constexpr_round_trip(std::uint32_t v) {
  std::array<std::byte, 4> b{};
  store_be32(b, 0, v);
  return load_be32(b, 0);
}
static_assert(constexpr_round_trip(0xcafef00du) == 0xcafef00du);
static_assert(load_be16(std::array{std::byte{0x12}, std::byte{0x34}}, 0) == 0x1234);

}  // namespace
