// SPDX-License-Identifier: GPL-2.0-only
#include "cli.h"

#include <boost/program_options.hpp>
#include <bit>
#include <sstream>
#include <vector>

#include "dump.h"
#include "layout.h"
#include "mirror.h"
#include "size.h"
#include "status.h"

namespace tgt_pmem::admin {
namespace po = boost::program_options;

namespace {

constexpr const char* kExitStatus =
    "Exit status:\n"
    "  0  success (check: every check passed)\n"
    "  1  check: bs_pmem would refuse the store, or libpmem2 reports bad blocks in it\n"
    "  2  invalid command line: unknown option, bad value, missing argument\n"
    "  3  PATH is missing, unreadable, not a file or devdax device, cannot be mapped, or an\n"
    "     I/O error happened\n"
    "  4  create refused: PATH holds data (see --force), or a devdax device has another\n"
    "     size than --size; mirror-format refused: PATH holds mirror metadata (see\n"
    "     --force) or is too small for the LUN\n";

po::options_description common_options() {
  po::options_description d("Options");
  d.add_options()
      ("json", "print the result as one JSON object on stdout")
      ("help,h", "print this help")
      ("version", "print the version and exit");
  return d;
}

po::options_description create_options() {
  po::options_description d("Options");
  d.add_options()
      ("size,s", po::value<std::string>()->value_name("SIZE"),
       "size of the store: required for a new file, resizes an existing one, must equal the "
       "size of a devdax device (or be omitted). At least 1m, a multiple of the page size and "
       "of the block size. Binary suffixes k, m, g, t.")
      ("block-size,b", po::value<std::string>()->value_name("BYTES"),
       "logical block size the LUN will use, 512 or 4096 (default 512); the size must be a "
       "multiple of it. The raw layout does not record it: give the same value to bsopts "
       "block_size=.")
      ("layout", po::value<std::string>()->value_name("NAME"),
       "on-media layout (default raw: no metadata, every byte is LUN data)")
      ("force,f", "overwrite a store that holds data (any non-zero byte); without it create "
                  "refuses and changes nothing")
      ("zero,z", "write zeros over the whole store, durably, with a progress bar on a terminal "
                 "(progress lines otherwise); allocates every block of a file")
      ("json", "print the result as one JSON object on stdout")
      ("help,h", "print this help")
      ("version", "print the version and exit");
  return d;
}

po::options_description tgtd_options() {
  po::options_description d("Options");
  d.add_options()
      ("control-port,C", po::value<int>()->value_name("PORT"),
       "the tgtd to ask, by its control port (tgtd -C, tgtadm -C; default 0)")
      ("json", "print the result as one JSON object on stdout (status only)")
      ("help,h", "print this help")
      ("version", "print the version and exit");
  return d;
}

po::options_description boot_deps_options() {
  po::options_description d("Options");
  d.add_options()
      ("fstab", po::value<std::string>()->value_name("FILE"),
       "the file systems to wait for are those of FILE's mount points (default /etc/fstab)")
      ("help,h", "print this help")
      ("version", "print the version and exit");
  return d;
}

po::options_description check_options() {
  po::options_description d("Options");
  d.add_options()
      ("block-size,b", po::value<std::string>()->value_name("BYTES"),
       "check for this logical block size, 512 or 4096 (default: the one the layout records, "
       "else 512, tgt's default)")
      ("json", "print the result as one JSON object on stdout")
      ("help,h", "print this help")
      ("version", "print the version and exit");
  return d;
}

po::options_description mirror_format_options() {
  po::options_description d("Options");
  d.add_options()
      ("role", po::value<std::string>()->value_name("ROLE"),
       "primary or secondary (required): the role of the LUN this store belongs to")
      ("lun-size", po::value<std::string>()->value_name("SIZE"),
       "the size of that LUN in bytes (required; suffixes k, m, g, t): bs_pmem refuses the "
       "store for a LUN of another size")
      ("region-size", po::value<std::string>()->value_name("SIZE"),
       "bytes per bit of the write-intent bitmap, a power of two from 4k to 1g (default 1m)")
      ("force,f", "format over a valid mirror metadata store (its generations and marks are "
                  "lost); without it mirror-format refuses and changes nothing")
      ("json", "print the result as one JSON object on stdout")
      ("help,h", "print this help")
      ("version", "print the version and exit");
  return d;
}

po::options_description mirror_role_options() {
  po::options_description d("Options");
  d.add_options()
      ("discard-my-data", "mirror-demote: demote a copy that went on without its secondary; "
                          "its writes since then are overwritten by the other copy (a full "
                          "resync)")
      ("json", "print the result as one JSON object on stdout")
      ("help,h", "print this help")
      ("version", "print the version and exit");
  return d;
}

std::string command_help(const std::string& command, const po::options_description& d) {
  std::ostringstream out;
  if (command == "mirror-format") {
    out << "Usage: tgtpmem-admin mirror-format PATH --role primary|secondary --lun-size SIZE\n"
           "                                   [--region-size SIZE] [--force] [--json]\n\n"
           "Creates (a file, mode 0600, if PATH is missing) and formats the mirror metadata\n"
           "store of a mirrored LUN, named by bsopts mirror_meta=PATH: its role, generation\n"
           "identifiers and write-intent bitmap (bs_pmem(8), MIRRORING). A secondary starts\n"
           "blank, so that its primary copies everything to it first.\n";
  } else if (command == "mirror-promote" || command == "mirror-demote") {
    out << "Usage: tgtpmem-admin " << command << " PATH [--json]\n\n"
        << (command == "mirror-promote"
                ? "Makes the mirror secondary whose metadata store is PATH a primary, for a\n"
                  "failover: a fresh generation, so that the old primary can never copy over it.\n"
                  "Give its LUN mirror= (its new secondary) before serving it again.\n"
                : "Makes the mirror primary whose metadata store is PATH a secondary of the copy\n"
                  "promoted in its place: kept generations (a bitmap resync) if nothing here may\n"
                  "be missing there, else cleared (a full resync). Serve it with push=on. A copy\n"
                  "that went on without its secondary holds writes the other lacks: refused\n"
                  "(a split brain is never merged) unless --discard-my-data.\n")
        << "Only with the LUN not served (refused while a tgtd serves it).\n";
  } else if (command == "mirror-status") {
    out << "Usage: tgtpmem-admin mirror-status PATH [--json]\n\n"
           "Shows a mirror metadata store: role, generation identifiers, regions marked in\n"
           "the write-intent bitmap (they may differ from the other copy).\n";
  } else if (command == "create") {
    out << "Usage: tgtpmem-admin create PATH [--size SIZE] [--block-size 512|4096] [--zero]\n"
           "                            [--force] [--layout raw] [--json]\n\n"
           "Creates a pool file for a pmem LUN (sparse, mode 0600), or prepares an existing file\n"
           "or devdax device. Refuses, changing nothing, when PATH already holds data, unless\n"
           "--force. The result passes 'tgtpmem-admin check' for the same block size.\n";
  } else if (command == "info") {
    out << "Usage: tgtpmem-admin info PATH [--json]\n\n"
           "Shows what bs_pmem would see: medium (devdax or file), size, mapping alignment,\n"
           "layout, block size (if the layout records it), the block sizes the size allows,\n"
           "the store granularity libpmem2 reports and the durability method it implies\n"
           "(fence-only, cache-flush, msync), and the bad blocks libpmem2 knows of. Read-only.\n";
  } else if (command == "check-config") {
    out << "Usage: tgtpmem-admin check-config [FILE...] [--json]\n\n"
           "Checks, without touching data, the pmem LUNs of a tgt-admin configuration (default\n"
           "/etc/tgt/targets.conf and what it includes) the way tgt-admin and bs_pmem would\n"
           "take them: every <backing-store> with bs-type pmem (or in a target whose bs-type is\n"
           "pmem) gets its bsopts checked as tgt-admin's shell passes them and as bs_pmem parses\n"
           "them, the block size bs_pmem would use, and everything 'check' verifies of the\n"
           "store; also what tgt-admin does silently (skips a LUN whose path does not exist)\n"
           "or refuses (a key given twice, an unclosed block, both forms of backing-store in a\n"
           "target), and one store under two LUNs. Run it before 'systemctl restart tgt' or\n"
           "'tgt-admin --update ALL'.\n";
  } else if (command == "forget") {
    out << "Usage: tgtpmem-admin forget PATH\n\n"
           "Drops what bs_pmem recorded of a raw store (the block size it was served with, and\n"
           "which file or devdax namespace it was; /var/lib/tgt-pmem/stores/). bs_pmem refuses\n"
           "a raw LUN that contradicts its record: the same store with another block size, or a\n"
           "devdax namespace recorded under another path (renamed devices). Forget a store only\n"
           "when the change is intended; 'create' forgets the store it makes.\n";
  } else if (command == "status") {
    out << "Usage: tgtpmem-admin status [-C PORT] [--json]\n\n"
           "Shows every pmem LUN the running tgtd serves, from the status files bs_pmem keeps\n"
           "under /run/tgt-pmem/tgtd.PORT/ (refreshed every second): target, LUN, path, bsopts,\n"
           "medium, size, block size, layout, durability, write cache, serial and UUID, known\n"
           "bad ranges, counters (commands, failed ones, media errors, flush failures, bad\n"
           "ranges cleared), a latched flush error, and push-mode sessions. Exit status 1\n"
           "when a LUN needs attention (a latched flush error, bad ranges, offline).\n";
  } else if (command == "dump") {
    out << "Usage: tgtpmem-admin dump [-C PORT] > FILE\n\n"
           "Writes the running configuration in tgt-admin's format, as tgt-admin --dump does,\n"
           "but complete for pmem LUNs: tgt-admin --dump writes only 'backing-store PATH',\n"
           "which brings a pmem LUN back as rdwr with 512-byte blocks under the next free LUN\n"
           "number. Here each LUN of a target with pmem LUNs is a <backing-store> block with\n"
           "its lun, bs-type, block-size and bsopts. Refuses (exit 1, nothing written) when a\n"
           "pmem LUN cannot be written completely. Passwords are not dumped (tgt-admin's\n"
           "PLEASE_CORRECT_THE_PASSWORD placeholders stay).\n";
  } else if (command == "boot-deps") {
    out << "Usage: tgtpmem-admin boot-deps [FILE...] [--fstab FILE]\n\n"
           "Prints a systemd drop-in for tgt.service: what the pmem LUNs of a tgt-admin\n"
           "configuration (default /etc/tgt/targets.conf and what it includes) need before\n"
           "tgt-admin creates them at boot. A devdax path gives Wants= and After= on its device\n"
           "unit (dev-dax0.0.device), a file those on the mount units of the file systems of\n"
           "fstab it lies under. Wants=, not Requires=: what never comes delays tgt by its job\n"
           "timeout, then the other targets start anyway. The systemd generator\n"
           "tgt-pmem-generator runs it at boot; reads only the configuration and fstab.\n";
    out << '\n' << d << '\n'
        << "Exit status:\n"
           "  0  the drop-in was printed (problems of the configuration are check-config's)\n"
           "  2  invalid command line\n"
           "  3  a named configuration file or the fstab cannot be read\n";
    return out.str();
  } else {
    out << "Usage: tgtpmem-admin check PATH [--block-size 512|4096] [--json]\n\n"
           "Verifies, read-only, every rule bs_pmem applies when a LUN opens: PATH exists, is a\n"
           "regular file or a devdax device, is readable and writable, libpmem2 accepts and maps\n"
           "it, its size is at least 1 MiB and a multiple of the mapping alignment and of the\n"
           "block size; then lists bad blocks and runs the layout's own checks.\n";
  }
  out << '\n' << d << '\n' << kExitStatus;
  return out.str();
}

}  // namespace

std::string general_help() {
  std::ostringstream out;
  out << "Usage: tgtpmem-admin COMMAND PATH [OPTIONS]\n"
         "\n"
         "Prepares and inspects the backing stores of bs_pmem, tgt's persistent-memory backing\n"
         "store (tgtadm --bstype pmem): devdax devices, files on fsdax, plain files.\n"
         "\n"
         "Commands:\n"
         "  create PATH --size SIZE   create a pool file, or prepare a devdax device\n"
         "  info PATH                 medium, size, layout, durability method, bad blocks\n"
         "  check PATH                verify, read-only, that bs_pmem will accept PATH\n"
         "  check-config [FILE...]    check the pmem LUNs of tgt-admin's configuration\n"
         "                            (default /etc/tgt/targets.conf), without touching data\n"
         "  forget PATH               drop bs_pmem's record of a raw store's block size\n"
         "  mirror-format PATH --role ROLE --lun-size SIZE\n"
         "                            format a mirrored LUN's metadata store (mirror_meta=)\n"
         "  mirror-status PATH        role, generations and marked regions of such a store\n"
         "  mirror-promote PATH       failover: a secondary's store becomes a primary's\n"
         "  mirror-demote PATH        a primary's store becomes a secondary's (resync follows)\n"
         "  status [-C PORT]          the pmem LUNs of the running tgtd, with counters\n"
         "  dump [-C PORT]            the running configuration, complete for pmem LUNs\n"
         "  boot-deps [FILE...]       print the systemd drop-in that makes tgt.service wait\n"
         "                            for the devices and file systems of its pmem LUNs\n"
         "\n"
         "'tgtpmem-admin COMMAND --help' lists a command's options; all take --json.\n"
         "\n"
      << kExitStatus
      << "\n"
         "Environment:\n"
         "  PMEM2_FORCE_GRANULARITY  BYTE, CACHE_LINE or PAGE: libpmem2 reports this store\n"
         "                           granularity; bs_pmem ignores it (per LUN, bsopts\n"
         "                           durability=emulated treats a plain file as pmem), and\n"
         "                           'durability' is what bs_pmem does\n"
         "\n"
         "Examples:\n"
         "  tgtpmem-admin create /var/lib/tgt-pmem/lun1.img --size 4g --block-size 4096\n"
         "  tgtpmem-admin create /dev/dax0.0 --zero\n"
         "  tgtpmem-admin info /dev/dax0.0 --json\n"
         "  tgtpmem-admin check /var/lib/tgt-pmem/lun1.img --block-size 4096\n"
         "  tgtpmem-admin check-config && systemctl restart tgt\n"
         "  tgtpmem-admin status --json\n"
         "  tgtpmem-admin dump > /etc/tgt/conf.d/running.conf\n";
  return out.str();
}

Parsed parse_command_line(std::span<const std::string> args) {
  if (args.empty())
    return UsageError{"no command given (create, info, check, check-config, boot-deps, forget, "
                      "status, dump, mirror-format, mirror-status, mirror-promote, mirror-demote)",
                      "see 'tgtpmem-admin --help'"};
  const std::string& command = args.front();
  if (command == "-h" || command == "--help" || command == "help") return HelpRequested{general_help()};
  if (command != "create" && command != "info" && command != "check" &&
      command != "check-config" && command != "boot-deps" && command != "forget" &&
      command != "status" && command != "dump" && command != "mirror-format" &&
      command != "mirror-status" && command != "mirror-promote" && command != "mirror-demote") {
    if (command.starts_with("-"))
      return UsageError{"expected a command (create, info, check, check-config, boot-deps, forget, "
                        "status, dump, mirror-format, mirror-status, mirror-promote, mirror-demote) before '" + command + "'",
                        "see 'tgtpmem-admin --help'"};
    return UsageError{"unknown command '" + command +
                          "' (commands: create, info, check, check-config, boot-deps, forget, "
                          "status, dump, mirror-format, mirror-status, mirror-promote, mirror-demote)",
                      "see 'tgtpmem-admin --help'"};
  }
  const std::string hint = "see 'tgtpmem-admin " + command + " --help'";

  const bool asks_tgtd = command == "status" || command == "dump";
  po::options_description visible = command == "create"      ? create_options()
                                     : command == "check"     ? check_options()
                                     : command == "boot-deps" ? boot_deps_options()
                                     : command == "mirror-format" ? mirror_format_options()
                                     : command == "mirror-demote" || command == "mirror-promote"
                                         ? mirror_role_options()
                                     : asks_tgtd              ? tgtd_options()
                                                              : common_options();
  po::options_description all;
  all.add(visible);
  all.add_options()("path", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("path", -1);

  std::vector<std::string> rest(args.begin() + 1, args.end());
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(rest).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return UsageError{command + ": " + e.what(), hint};
  }
  if (vm.count("help")) return HelpRequested{command_help(command, visible)};

  std::vector<std::string> paths;
  if (vm.count("path")) paths = vm["path"].as<std::vector<std::string>>();
  if (asks_tgtd) {
    if (!paths.empty())
      return UsageError{command + ": unexpected argument '" + paths[0] + "'", hint};
    int port = 0;
    if (vm.count("control-port")) {
      port = vm["control-port"].as<int>();
      if (port < 0 || port > 32767)
        return UsageError{command + ": --control-port " + std::to_string(port) +
                              ": must be 0 to 32767, as tgtd's",
                          hint};
    }
    if (command == "dump") {
      if (vm.count("json")) return UsageError{"dump: --json: the dump is tgt-admin's format", hint};
      return DumpArgs{port};
    }
    return StatusArgs{port, vm.count("json") != 0};
  }
  if (command == "check-config") {
    for (const auto& p : paths)
      if (p.empty()) return UsageError{command + ": a FILE is empty", hint};
    return CheckConfigArgs{paths, vm.count("json") != 0};
  }
  if (command == "boot-deps") {
    BootDepsArgs b{paths};
    for (const auto& p : paths)
      if (p.empty()) return UsageError{command + ": a FILE is empty", hint};
    if (vm.count("fstab")) b.fstab = vm["fstab"].as<std::string>();
    if (b.fstab.empty()) return UsageError{command + ": --fstab is empty", hint};
    return b;
  }
  if (paths.empty()) return UsageError{command + ": no PATH given", hint};
  if (paths.size() > 1)
    return UsageError{command + ": one PATH only, got '" + paths[0] + "' and '" + paths[1] + "'",
                      hint};
  if (paths[0].empty()) return UsageError{command + ": PATH is empty", hint};
  const bool json = vm.count("json") != 0;

  std::optional<std::uint32_t> block_size;
  if (vm.count("block-size")) {
    const auto& text = vm["block-size"].as<std::string>();
    auto v = parse_size(text);
    if (!v || (*v != 512 && *v != 4096))
      return UsageError{command + ": --block-size '" + text + "': must be 512 or 4096", hint};
    block_size = static_cast<std::uint32_t>(*v);
  }

  if (command == "info") return InfoArgs{paths[0], json};
  if (command == "mirror-status") return MirrorStatusArgs{paths[0], json};
  if (command == "mirror-promote" || command == "mirror-demote") {
    if (command == "mirror-promote" && vm.count("discard-my-data"))
      return UsageError{"mirror-promote: --discard-my-data is for mirror-demote", hint};
    return MirrorRoleArgs{paths[0], command == "mirror-promote", vm.count("discard-my-data") != 0,
                          json};
  }
  if (command == "mirror-format") {
    MirrorFormatArgs m;
    m.path = paths[0];
    m.json = json;
    m.force = vm.count("force") != 0;
    if (!vm.count("role")) return UsageError{"mirror-format: --role is required", hint};
    m.role = vm["role"].as<std::string>();
    if (m.role != "primary" && m.role != "secondary")
      return UsageError{"mirror-format: --role '" + m.role + "': expected primary or secondary",
                        hint};
    if (!vm.count("lun-size")) return UsageError{"mirror-format: --lun-size is required", hint};
    auto n = parse_size(vm["lun-size"].as<std::string>());
    if (!n || *n == 0)
      return UsageError{"mirror-format: --lun-size '" + vm["lun-size"].as<std::string>() +
                            "': " + (n ? std::string("must not be 0") : n.error()),
                        hint};
    m.lun_size = *n;
    if (vm.count("region-size")) {
      const auto& text = vm["region-size"].as<std::string>();
      auto r = parse_size(text);
      if (!r || *r < 4096 || *r > (1ull << 30) || (*r & (*r - 1)) != 0)
        return UsageError{"mirror-format: --region-size '" + text +
                              "': a power of two from 4k to 1g",
                          hint};
      m.region_shift = static_cast<std::uint32_t>(std::countr_zero(*r));
    }
    return m;
  }
  if (command == "forget") {
    if (json) return UsageError{"forget: --json is not supported", hint};
    return ForgetArgs{paths[0]};
  }
  if (command == "check") return CheckArgs{paths[0], block_size, json};

  CreateArgs c;
  c.path = paths[0];
  c.json = json;
  c.force = vm.count("force") != 0;
  c.zero = vm.count("zero") != 0;
  if (block_size) c.block_size = *block_size;
  if (vm.count("size")) {
    auto s = parse_size(vm["size"].as<std::string>());
    if (!s) return UsageError{"create: --size: " + s.error(), hint};
    c.size = *s;
  }
  if (vm.count("layout")) {
    c.layout = vm["layout"].as<std::string>();
    if (!layout_named(c.layout))
      return UsageError{"create: unknown layout '" + c.layout + "' (known: " + layout_names() + ")",
                        hint};
  }
  return c;
}

}  // namespace tgt_pmem::admin
