// SPDX-License-Identifier: GPL-2.0-only
// Big-endian (network order) integer fields in byte buffers, as the wire protocols lay them
// out (SRP information units, push-mode messages). Each field is read and written one byte
// at a time with shifts: no struct is laid over the bytes and no memcpy into an integer, so
// nothing depends on alignment, packing or the host's byte order, and all of it is constexpr.
//
// Bounds: these do not check. The caller has checked off + width <= b.size() (the parsers
// check a message's length before reading its fields); b[off] is then in range. Pure
// functions over the caller's buffer: thread-safe as long as no one writes the bytes read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tgt_pmem::bytes {

// --- Loads: the field of the given width at b[off]. --------------------------------------

[[nodiscard]] constexpr std::uint8_t load_u8(std::span<const std::byte> b,
                                             std::size_t off) noexcept {
  return std::to_integer<std::uint8_t>(b[off]);
}

[[nodiscard]] constexpr std::uint16_t load_be16(std::span<const std::byte> b,
                                                std::size_t off) noexcept {
  return static_cast<std::uint16_t>(load_u8(b, off) << 8 | load_u8(b, off + 1));
}

[[nodiscard]] constexpr std::uint32_t load_be32(std::span<const std::byte> b,
                                                std::size_t off) noexcept {
  return std::uint32_t{load_be16(b, off)} << 16 | load_be16(b, off + 2);
}

[[nodiscard]] constexpr std::uint64_t load_be64(std::span<const std::byte> b,
                                                std::size_t off) noexcept {
  return std::uint64_t{load_be32(b, off)} << 32 | load_be32(b, off + 4);
}

// --- Stores: v, most significant byte first, at b[off]. ----------------------------------

constexpr void store_u8(std::span<std::byte> b, std::size_t off, std::uint8_t v) noexcept {
  b[off] = std::byte{v};
}

constexpr void store_be16(std::span<std::byte> b, std::size_t off, std::uint16_t v) noexcept {
  store_u8(b, off, static_cast<std::uint8_t>(v >> 8));
  store_u8(b, off + 1, static_cast<std::uint8_t>(v));
}

constexpr void store_be32(std::span<std::byte> b, std::size_t off, std::uint32_t v) noexcept {
  store_be16(b, off, static_cast<std::uint16_t>(v >> 16));
  store_be16(b, off + 2, static_cast<std::uint16_t>(v));
}

constexpr void store_be64(std::span<std::byte> b, std::size_t off, std::uint64_t v) noexcept {
  store_be32(b, off, static_cast<std::uint32_t>(v >> 32));
  store_be32(b, off + 4, static_cast<std::uint32_t>(v));
}

}  // namespace tgt_pmem::bytes
