// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-admin: prepares and inspects bs_pmem backing stores (see tgtpmem-admin(8)).
#include <unistd.h>

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"
#include "commands.h"
#include "tgt_pmem/text/version.h"

int main(int argc, char** argv) {
  using namespace tgt_pmem::admin;
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (tgt_pmem::text::version_asked(args)) {
      std::cout << tgt_pmem::text::version_text("tgtpmem-admin");
      return kExitOk;
    }
    const Parsed parsed = parse_command_line(args);
    Io io{std::cout, std::cerr, ::isatty(STDERR_FILENO) == 1};
    if (const auto* h = std::get_if<HelpRequested>(&parsed)) {
      std::cout << h->text;
      return kExitOk;
    }
    if (const auto* u = std::get_if<UsageError>(&parsed)) {
      std::cerr << "tgtpmem-admin: " << u->message << "\n" << u->hint << "\n";
      return kExitUsage;
    }
    if (const auto* c = std::get_if<CreateArgs>(&parsed)) return run_create(*c, io);
    if (const auto* i = std::get_if<InfoArgs>(&parsed)) return run_info(*i, io);
    if (const auto* k = std::get_if<CheckConfigArgs>(&parsed)) return run_check_config(*k, io);
    if (const auto* s = std::get_if<StatusArgs>(&parsed)) return run_status(*s, io);
    if (const auto* f = std::get_if<ForgetArgs>(&parsed)) return run_forget(*f, io);
    if (const auto* d = std::get_if<DumpArgs>(&parsed)) return run_dump(*d, io);
    if (const auto* b = std::get_if<BootDepsArgs>(&parsed)) return run_boot_deps(*b, io);
    if (const auto* m = std::get_if<MirrorFormatArgs>(&parsed)) return run_mirror_format(*m, io);
    if (const auto* m = std::get_if<MirrorStatusArgs>(&parsed)) return run_mirror_status(*m, io);
    if (const auto* m = std::get_if<MirrorRoleArgs>(&parsed)) return run_mirror_role(*m, io);
    return run_check(std::get<CheckArgs>(parsed), io);
  } catch (const std::exception& e) {
    std::cerr << "tgtpmem-admin: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "tgtpmem-admin: internal error\n";
  }
  return kExitCannotUse;
}
