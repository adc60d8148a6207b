// SPDX-License-Identifier: GPL-2.0-only
// REPORT SUPPORTED OPERATION CODES (SPC-4 6.35), both forms, checked against each other:
//
//   rsoc_check URL [OPCODE...]
//
// Reads the all-commands list (REPORTING OPTIONS 000b), then asks for every listed command
// on its own: with 001b (an operation code without service actions) or 010b (with one) the
// answer must be GOOD, SUPPORT 011b ("supported, standard"), the CDB size the list gave, and
// CDB USAGE DATA whose first byte is the operation code; the form that does not match the
// command must end in ILLEGAL REQUEST, INVALID FIELD IN CDB. Each OPCODE given (hex, e.g.
// 0x89) must be in the list. Prints one line per check that fails and a summary; exit 0 if
// every check passed, 1 if one failed, 2 on a usage or connection error.
//
// libiscsi's own ReportSupportedOpcodes.OneCommand cannot tell: its check_result() takes the
// INVALID FIELD IN CDB that SPC-4 requires for the mismatched form, on a MAINTENANCE IN
// command, for "not implemented" and skips (tests/integration/conformance-skips.txt).
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

namespace {

constexpr int kAllocLen = 65535;
constexpr int kInvalidFieldInCdb = 0x2400;

int failures = 0;

void fail(const char* what, int opcode, int sa, const std::string& detail) {
  ++failures;
  std::printf("FAIL %s: opcode 0x%02x sa 0x%02x: %s\n", what, opcode, sa, detail.c_str());
}

// One REPORT SUPPORTED OPERATION CODES; a UNIT ATTENTION (the target's power-on report) is
// answered by sending the command again.
scsi_task* rsoc(iscsi_context* ctx, int lun, int options, int opcode, int sa) {
  scsi_task* t = nullptr;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (t) scsi_free_scsi_task(t);
    t = iscsi_report_supported_opcodes_sync(ctx, lun, 0, options, opcode, sa, kAllocLen);
    if (!t || t->status != SCSI_STATUS_CHECK_CONDITION ||
        t->sense.key != SCSI_SENSE_UNIT_ATTENTION)
      break;
  }
  return t;
}

std::string status_text(const scsi_task* t) {
  if (!t) return "no answer";
  char buf[96];
  std::snprintf(buf, sizeof buf, "status 0x%02x sense key 0x%x asc/ascq 0x%04x", t->status,
                t->sense.key, t->sense.ascq);
  return buf;
}

void check_matching_form(iscsi_context* ctx, int lun, const scsi_command_descriptor& d) {
  const int options = d.servactv ? SCSI_REPORT_SUPPORTING_SERVICEACTION
                                 : SCSI_REPORT_SUPPORTING_OPCODE;
  scsi_task* t = rsoc(ctx, lun, options, d.opcode, d.sa);
  if (!t || t->status != SCSI_STATUS_GOOD) {
    fail("one-command form", d.opcode, d.sa, status_text(t));
  } else {
    auto* one = static_cast<scsi_report_supported_op_codes_one_command*>(
        scsi_datain_unmarshall(t));
    if (!one) {
      fail("one-command form", d.opcode, d.sa, "data cannot be parsed");
    } else if ((one->support & 0x07) != 0x03) {
      fail("one-command form", d.opcode, d.sa,
           "SUPPORT " + std::to_string(one->support & 0x07) + ", expected 3");
    } else if (one->cdb_length != d.cdb_len) {
      fail("one-command form", d.opcode, d.sa,
           "CDB SIZE " + std::to_string(one->cdb_length) + ", the list says " +
               std::to_string(d.cdb_len));
    } else if (one->cdb_usage_data[0] != d.opcode) {
      fail("one-command form", d.opcode, d.sa,
           "CDB USAGE DATA[0] " + std::to_string(one->cdb_usage_data[0]));
    }
  }
  if (t) scsi_free_scsi_task(t);
}

void check_mismatched_form(iscsi_context* ctx, int lun, const scsi_command_descriptor& d) {
  const int options = d.servactv ? SCSI_REPORT_SUPPORTING_OPCODE
                                 : SCSI_REPORT_SUPPORTING_SERVICEACTION;
  scsi_task* t = rsoc(ctx, lun, options, d.opcode, d.sa);
  if (!t || t->status != SCSI_STATUS_CHECK_CONDITION ||
      t->sense.key != SCSI_SENSE_ILLEGAL_REQUEST || t->sense.ascq != kInvalidFieldInCdb)
    fail("mismatched reporting option", d.opcode, d.sa,
         status_text(t) + ", expected ILLEGAL REQUEST / INVALID FIELD IN CDB");
  if (t) scsi_free_scsi_task(t);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: rsoc_check iscsi://HOST:PORT/IQN/LUN [OPCODE...]\n");
    return 2;
  }
  iscsi_context* ctx = iscsi_create_context("iqn.2026-12.org.tgt-pmem:rsoc-check");
  iscsi_url* url = ctx ? iscsi_parse_full_url(ctx, argv[1]) : nullptr;
  if (!url) {
    std::fprintf(stderr, "rsoc_check: bad URL %s\n", argv[1]);
    return 2;
  }
  iscsi_set_targetname(ctx, url->target);
  iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL);
  iscsi_set_noautoreconnect(ctx, 1);
  iscsi_set_timeout(ctx, 30);
  const int lun = url->lun;
  const bool connected = iscsi_full_connect_sync(ctx, url->portal, lun) == 0;
  iscsi_destroy_url(url);
  if (!connected) {
    std::fprintf(stderr, "rsoc_check: connect: %s\n", iscsi_get_error(ctx));
    iscsi_destroy_context(ctx);
    return 2;
  }

  scsi_task* all = rsoc(ctx, lun, SCSI_REPORT_SUPPORTING_OPS_ALL, 0, 0);
  auto* list = all && all->status == SCSI_STATUS_GOOD
                   ? static_cast<scsi_report_supported_op_codes*>(scsi_datain_unmarshall(all))
                   : nullptr;
  if (!list) {
    std::printf("FAIL all-commands form: %s\n", status_text(all).c_str());
    if (all) scsi_free_scsi_task(all);
    iscsi_logout_sync(ctx);
    iscsi_destroy_context(ctx);
    return 1;
  }
  std::set<int> listed;
  for (int i = 0; i < list->num_descriptors; ++i) {
    const scsi_command_descriptor& d = list->descriptors[i];
    listed.insert(d.opcode);
    check_matching_form(ctx, lun, d);
    check_mismatched_form(ctx, lun, d);
  }
  for (int i = 2; i < argc; ++i) {
    const int want = static_cast<int>(std::strtol(argv[i], nullptr, 0));
    if (!listed.contains(want)) fail("all-commands form", want, 0, "not listed");
  }
  std::printf("rsoc_check: %d commands listed, %d checks, %d failed\n", list->num_descriptors,
              2 * list->num_descriptors + (argc - 2), failures);
  scsi_free_scsi_task(all);
  iscsi_logout_sync(ctx);
  iscsi_destroy_context(ctx);
  return failures == 0 ? 0 : 1;
}
