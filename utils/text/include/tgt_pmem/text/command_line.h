// SPDX-License-Identifier: GPL-2.0-only
// Boost.Program_options with one repeatable positional argument, as the command-line tools
// (tgtpmem-load, tgtpmem-push) take it. Header-only: only the tools pull in Boost.
#pragma once

#include <boost/program_options.hpp>

#include <expected>
#include <span>
#include <string>
#include <vector>

namespace tgt_pmem::text {

// Parses args (without the program name) against visible, plus every positional argument
// collected under the hidden option positional_name. Errors: Boost's message.
inline std::expected<boost::program_options::variables_map, std::string> parse_command_line(
    std::span<const std::string> args,
    const boost::program_options::options_description& visible,
    const char* positional_name) {
  namespace po = boost::program_options;
  po::options_description hidden;
  hidden.add_options()(positional_name, po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add(positional_name, -1);
  std::vector<std::string> argv(args.begin(), args.end());
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return std::unexpected(std::string(e.what()));
  }
  return vm;
}

}  // namespace tgt_pmem::text
