// SPDX-License-Identifier: GPL-2.0-only
#include "tgt_config.h"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>

namespace tgt_pmem::admin {

namespace {

namespace fs = std::filesystem;

// Deeper includes than this are a loop.
constexpr int kMaxIncludeDepth = 16;

struct Value {
  std::string text;
  ConfigPlace place;
};
using Keys = std::map<std::string, std::vector<Value>>;

struct StoreBlock {
  std::string path;
  ConfigPlace place;
  Keys keys;
};

struct Target {
  std::string name;
  ConfigPlace place;
  Keys keys;                       // backing-store lines are among them
  std::deque<StoreBlock> blocks;  // merged by path, in order of first appearance (stable)
};

std::string trim(std::string_view s) {
  const auto ws = " \t\r\n";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(ws) - b + 1));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

// Config::General: '#' starts a comment anywhere; "\#" does not (it stays "\#" in a block's
// name and becomes '#' in a value: unescape_hash).
std::string strip_comment(std::string_view line) {
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '#') {
      out += "\\#";
      ++i;
    } else if (line[i] == '#') {
      break;
    } else {
      out += line[i];
    }
  }
  return out;
}

std::string unescape_hash(std::string v) {
  for (std::size_t at = 0; (at = v.find("\\#", at)) != std::string::npos; ++at) v.erase(at, 1);
  return v;
}

std::string unquote(std::string v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
  return v;
}

class Reader {
 public:
  TgtConfig result;

  void read(const std::string& path, int depth, const ConfigPlace* from) {
    if (depth > kMaxIncludeDepth) {
      problem(*from, "include nested deeper than " + std::to_string(kMaxIncludeDepth) +
                         " levels (an include loop?)");
      return;
    }
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> names;
      for (const auto& e : fs::directory_iterator(path, ec))
        if (e.is_regular_file(ec)) names.push_back(e.path().string());
      std::sort(names.begin(), names.end());
      for (const auto& n : names) read(n, depth + 1, from);
      return;
    }
    std::ifstream in(path);
    if (!in) {
      if (!from) result.named_file_unreadable = true;
      problem(from ? *from : ConfigPlace{path, 0},
              path + ": cannot be read (" + std::error_code(errno, std::generic_category()).message() +
                  ")" + (from ? ": tgt-admin stops at an include it cannot read" : ""));
      return;
    }
    result.files.push_back(path);
    const std::size_t open_before = stack_.size();
    std::string raw, logical;
    int line_no = 0, first_line = 0;
    while (std::getline(in, raw)) {
      ++line_no;
      if (logical.empty()) first_line = line_no;
      logical += trim(strip_comment(raw));
      // A line ending in '\' continues on the next one.
      if (!logical.empty() && logical.back() == '\\') {
        logical.pop_back();
        continue;
      }
      statement(trim(logical), ConfigPlace{path, first_line}, depth);
      logical.clear();
    }
    while (stack_.size() > open_before) {
      problem(stack_.back().place, "<" + stack_.back().name + "> is not closed in " + path +
                                       ": tgt-admin refuses the configuration");
      stack_.pop_back();
    }
  }

  void finish() {
    for (const auto& t : targets_) emit(t);
  }

 private:
  struct Open {
    std::string name;
    ConfigPlace place;
    Target* target = nullptr;     // for <target>
    StoreBlock* store = nullptr;  // for <backing-store> directly inside a target
  };
  std::vector<Open> stack_;
  std::deque<Target> targets_;  // merged by name; a deque: Open keeps pointers into it

  void problem(const ConfigPlace& where, std::string message) {
    result.problems.push_back({where, std::move(message)});
  }

  Target* current_target() {
    if (stack_.size() == 1 && stack_.back().target) return stack_.back().target;
    return nullptr;
  }
  StoreBlock* current_store() {
    if (stack_.size() == 2 && stack_.front().target && stack_.back().store)
      return stack_.back().store;
    return nullptr;
  }

  Target* target_named(const std::string& name, const ConfigPlace& place) {
    for (auto& t : targets_)
      if (t.name == name) return &t;
    targets_.push_back(Target{name, place, {}, {}});
    return &targets_.back();
  }

  void statement(const std::string& s, const ConfigPlace& place, int depth) {
    if (s.empty()) return;
    if (s.starts_with("</")) {
      const auto end = s.find('>');
      const std::string name = trim(s.substr(2, end == std::string::npos ? s.npos : end - 2));
      if (stack_.empty() || !iequals(stack_.back().name, name)) {
        problem(place, "</" + name + "> closes no open <" + name +
                           ">: tgt-admin refuses the configuration");
        return;
      }
      stack_.pop_back();
      return;
    }
    if (s.front() == '<') {
      const auto end = s.rfind('>');
      if (end == std::string::npos) {
        problem(place, "'" + s + "' lacks its '>' (a '#' starts a comment, even in a path; "
                       "write \\#): tgt-admin refuses the configuration");
        return;
      }
      const std::string inner = trim(s.substr(1, end - 1));
      const auto sp = inner.find_first_of(" \t");
      const std::string name = inner.substr(0, sp);
      const std::string arg = sp == std::string::npos ? "" : unquote(trim(inner.substr(sp)));
      Open o{name, place};
      if (stack_.empty() && name == "target") {
        if (arg.empty()) problem(place, "<target> without a name");
        o.target = target_named(arg, place);
      } else if (Target* t = current_target(); t && name == "backing-store") {
        auto it = std::find_if(t->blocks.begin(), t->blocks.end(),
                               [&](const StoreBlock& b) { return b.path == arg; });
        if (it == t->blocks.end()) {
          t->blocks.push_back(StoreBlock{arg, place, {}});
          it = std::prev(t->blocks.end());
        }
        o.store = &*it;
      }
      stack_.push_back(std::move(o));
      return;
    }
    const auto sep = s.find_first_of(" \t=");
    const std::string key = s.substr(0, sep);
    std::string value;
    if (sep != std::string::npos) {
      std::string rest = trim(s.substr(sep));
      if (!rest.empty() && rest.front() == '=') rest = trim(rest.substr(1));
      value = unquote(unescape_hash(rest));
    }
    if (iequals(key, "include")) {
      include(value, place, depth);
      return;
    }
    if (stack_.empty() && key == "ignore-errors") {
      result.ignore_errors = value == "yes";
    } else if (StoreBlock* b = current_store()) {
      b->keys[key].push_back({value, place});
    } else if (Target* t = current_target()) {
      t->keys[key].push_back({value, place});
    }
  }

  void include(const std::string& pattern, const ConfigPlace& place, int depth) {
    std::string p = pattern;
    if (!p.empty() && p.front() != '/')  // relative to the including file's directory
      p = (fs::path(place.file).parent_path() / p).string();
    if (p.find_first_of("*?[") == std::string::npos) {
      std::error_code ec;
      if (!fs::exists(p, ec)) {
        problem(place, "include " + pattern + ": " + p +
                           " does not exist: tgt-admin stops at an include it cannot read");
        return;
      }
      read(p, depth + 1, &place);
      return;
    }
    glob_t g{};
    if (::glob(p.c_str(), 0, nullptr, &g) == 0) {  // no match: nothing, as Config::General
      std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
      ::globfree(&g);
      for (const auto& m : matches) read(m, depth + 1, &place);
    } else {
      ::globfree(&g);
    }
  }

  // One value of a key tgt-admin takes once; a repeated key is a problem.
  const Value* single(const Keys& keys, const std::string& key, const std::string& where) {
    const auto it = keys.find(key);
    if (it == keys.end() || it->second.empty()) return nullptr;
    if (it->second.size() > 1) {
      const auto& second = it->second[1].place;
      problem(second, key + " given twice in " + where + " (first at " +
                          it->second[0].place.file + ":" +
                          std::to_string(it->second[0].place.line) +
                          "): tgt-admin stops at multiple " + key + " definitions");
    }
    return &it->second.front();
  }

  void emit(const Target& t) {
    const std::string where = "target " + t.name;
    const Value* t_type = single(t.keys, "bs-type", where);
    const Value* t_opts = single(t.keys, "bsopts", where);
    const auto lines = t.keys.find("backing-store");
    const bool has_lines = lines != t.keys.end() && !lines->second.empty();
    if (has_lines && !t.blocks.empty())
      problem(lines->second.front().place,
              where + " has both 'backing-store PATH' lines and <backing-store> blocks: "
                      "tgt-admin stops ('Your config file is not supported'); use one form");
    if (has_lines) {
      for (const auto& v : lines->second) {
        ConfiguredLun l;
        l.place = v.place;
        l.target = t.name;
        l.path = v.text;
        if (t_type) l.bs_type = t_type->text;
        if (t_opts) l.bsopts = t_opts->text;
        result.luns.push_back(std::move(l));
      }
    }
    for (const auto& b : t.blocks) {
      const std::string bwhere = "<backing-store " + b.path + ">";
      ConfiguredLun l;
      l.place = b.place;
      l.target = t.name;
      l.path = b.path;
      const Value* type = single(b.keys, "bs-type", bwhere);
      const Value* opts = single(b.keys, "bsopts", bwhere);
      const Value* bs = single(b.keys, "block-size", bwhere);
      const Value* lun = single(b.keys, "lun", bwhere);
      if (type) l.bs_type = type->text;
      else if (t_type) l.bs_type = t_type->text;
      if (opts) l.bsopts = opts->text;
      else if (t_opts) l.bsopts = t_opts->text;
      if (bs) l.block_size = bs->text;
      if (lun) l.lun = lun->text;
      result.luns.push_back(std::move(l));
    }
  }
};

}  // namespace

TgtConfig read_tgt_config(std::span<const std::string> files) {
  Reader r;
  for (const auto& f : files) r.read(f, 0, nullptr);
  r.finish();
  return std::move(r.result);
}

}  // namespace tgt_pmem::admin
