// SPDX-License-Identifier: GPL-2.0-only
// Runs a workload against one iSCSI LUN with libiscsi's asynchronous API: one session, up to
// queue_depth READ(16)/WRITE(16) tasks in flight, a poll() loop around iscsi_service().
//
// Thread-safety: run_load() is self-contained; call it from one thread at a time per process
// only because of the stop flag it polls.
#pragma once

#include <atomic>
#include <expected>
#include <string>

#include "tgt_pmem/load/options.h"
#include "tgt_pmem/load/report.h"

namespace tgt_pmem::load {

// Why a run could not start: bad URL, connection refused, login rejected (wrong target name),
// LUN missing, READ CAPACITY failed, region not valid for this LUN. `message` is one line.
struct SetupError {
  std::string message;
};

// Connects, runs, logs out. A failed command or a verification mismatch during the run is not
// a SetupError: it is recorded in the report (io_error / verify) and the run stops issuing
// (after a failed command) or carries on (after a mismatch, to count them).
// `stop` is polled about every 100 ms; when it becomes true the run stops issuing, drains and
// reports with interrupted = true.
[[nodiscard]] std::expected<RunReport, SetupError> run_load(const LoadOptions& options,
                                                            const std::atomic<bool>& stop);

// "CHECK CONDITION, sense key ILLEGAL_REQUEST (0x5), ASC/ASCQ 0x21/0x00 (...)" and the like,
// for a SCSI status and the sense data libiscsi decoded. Public for tests.
[[nodiscard]] std::string describe_scsi_status(int status, int sense_key, int asc_ascq);

}  // namespace tgt_pmem::load
