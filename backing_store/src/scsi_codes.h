// SPDX-License-Identifier: GPL-2.0-only
// SCSI operation codes, sense keys and additional sense codes this engine uses (SPC-4, SBC-3).
// ASCs are (ASC << 8) | ASCQ, as tgt's sense_data_build() expects.
#pragma once

#include <cstdint>

namespace tgt_pmem::bs::scsi {

namespace op {
inline constexpr std::uint8_t kRead6 = 0x08, kWrite6 = 0x0a;
inline constexpr std::uint8_t kRead10 = 0x28, kWrite10 = 0x2a, kWriteVerify10 = 0x2e,
                              kVerify10 = 0x2f, kPreFetch10 = 0x34, kSyncCache10 = 0x35,
                              kWriteSame10 = 0x41, kUnmap = 0x42;
inline constexpr std::uint8_t kRead12 = 0xa8, kWrite12 = 0xaa, kWriteVerify12 = 0xae,
                              kVerify12 = 0xaf;
inline constexpr std::uint8_t kRead16 = 0x88, kCompareAndWrite = 0x89, kWrite16 = 0x8a,
                              kOrWrite16 = 0x8b, kWriteVerify16 = 0x8e, kVerify16 = 0x8f,
                              kPreFetch16 = 0x90, kSyncCache16 = 0x91, kWriteSame16 = 0x93,
                              kWriteAtomic16 = 0x9c, kServiceActionIn16 = 0x9e;
inline constexpr std::uint8_t kSaGetLbaStatus = 0x12;
}  // namespace op

namespace key {
inline constexpr std::uint8_t kNotReady = 0x02, kMediumError = 0x03, kHardwareError = 0x04,
                              kIllegalRequest = 0x05, kDataProtect = 0x07, kMiscompare = 0x0e;
}  // namespace key

namespace asc {
inline constexpr std::uint16_t kNotReadyBecomingReady = 0x0401;
inline constexpr std::uint16_t kNotReadyManualIntervention = 0x0403;
inline constexpr std::uint16_t kWriteError = 0x0c00;
inline constexpr std::uint16_t kUnrecoveredReadError = 0x1100;
inline constexpr std::uint16_t kParameterListLengthError = 0x1a00;
inline constexpr std::uint16_t kMiscompareDuringVerify = 0x1d00;
inline constexpr std::uint16_t kInvalidOpcode = 0x2000;
inline constexpr std::uint16_t kLbaOutOfRange = 0x2100;
inline constexpr std::uint16_t kInvalidFieldInCdb = 0x2400;
inline constexpr std::uint16_t kInvalidFieldInParameterList = 0x2600;
inline constexpr std::uint16_t kWriteProtected = 0x2700;
inline constexpr std::uint16_t kInternalTargetFailure = 0x4400;
}  // namespace asc

inline constexpr std::uint8_t kStatusGood = 0x00;
inline constexpr std::uint8_t kStatusCheckCondition = 0x02;
inline constexpr std::uint8_t kStatusConditionMet = 0x04;

}  // namespace tgt_pmem::bs::scsi
