// noesis_bench: each figure of the library measured against a raw cnats program doing the same
// work in the same run (same server, same machine, alternating), printed as a table of ratios.
//
//   noesis_bench                 every figure, 3 runs each, against a private nats-server
//   noesis_bench --quick         small counts, one run (the CI smoke test)
//   noesis_bench --only publish  one figure (repeat --only for several)
//   noesis_bench --url nats://127.0.0.1:4222 --big
//
// Exits 1 when a run failed: an error, a lost message or a stall. A ratio that misses its target
// is marked MISSED in the table but does not fail the run.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <noesis/ship/logger.hpp>
#include <noesis/ship/testing/server.hpp>

#include "bench.hpp"

namespace {

using noesis::bench::Figure;
using noesis::bench::Goal;
using noesis::bench::Row;
using noesis::bench::Settings;

struct NamedFigure {
  const char* name;
  const char* title;  // the figure's row title, for rows that could not be measured
  Figure run;
};

const std::vector<NamedFigure>& figures() {
  namespace b = noesis::bench;
  static const std::vector<NamedFigure> all = {
      {"publish", "core publish", b::figure_core_publish},
      {"receive", "core receive", b::figure_core_receive},
      {"request", "request-reply, one at a time", b::figure_request_sequential},
      {"request-concurrent", "request-reply, 100 in flight", b::figure_request_concurrent},
      {"jetstream", "JetStream publish with ack", b::figure_jetstream_publish},
      {"kv", "KV put and get", b::figure_kv},
      {"object", "object store put and get", b::figure_object_store},
      {"object-big", "object store, 1 GiB file (--big)", b::figure_object_big},
      {"memory", "memory", b::figure_memory},
      {"service", "service request-reply", b::figure_service},
  };
  return all;
}

std::string ratio_text(const Row& row) {
  if (row.pending) return "pending";
  if (!row.ratio_text.empty()) return row.ratio_text;
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f", row.ratio);
  return text;
}

std::string verdict(const Row& row) {
  if (row.pending) return "pending";
  if (row.failed) return "FAILED";
  if (row.goal == Goal::none) return "-";
  return row.met() ? "met" : "MISSED";
}

void print_table(const std::vector<Row>& rows) {
  const std::vector<std::string> header = {"figure", "library", "raw cnats", "ratio", "target", "result"};
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : rows) {
    cells.push_back({row.figure, row.library, row.baseline, ratio_text(row), row.target_text.empty() ? "-" : row.target_text,
                     verdict(row)});
  }
  std::vector<std::size_t> widths(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) {
    widths[c] = header[c].size();
    for (const auto& line : cells) widths[c] = std::max(widths[c], line[c].size());
  }
  auto print_line = [&](const std::vector<std::string>& line) {
    std::string text = "|";
    for (std::size_t c = 0; c < line.size(); ++c) text += " " + line[c] + std::string(widths[c] - line[c].size(), ' ') + " |";
    std::puts(text.c_str());
  };
  print_line(header);
  std::string rule = "|";
  for (auto width : widths) rule += std::string(width + 2, '-') + "|";
  std::puts(rule.c_str());
  for (const auto& line : cells) print_line(line);
  for (const auto& row : rows) {
    if (!row.note.empty()) std::printf("  %s: %s\n", row.figure.c_str(), row.note.c_str());
  }
}

std::string machine_text() {
  utsname names{};
  uname(&names);
  std::string cpu;
  {
    std::FILE* info = std::fopen("/proc/cpuinfo", "r");
    char line[512];
    while (info != nullptr && std::fgets(line, sizeof(line), info) != nullptr) {
      const std::string text(line);
      if (text.rfind("model name", 0) == 0) {
        cpu = text.substr(text.find(':') + 2);
        if (!cpu.empty() && cpu.back() == '\n') cpu.pop_back();
        break;
      }
    }
    if (info != nullptr) std::fclose(info);
  }
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  char text[512];
  std::snprintf(text, sizeof(text), "%s %s, %ld cores, %s, load %.2f %.2f %.2f", names.sysname, names.release,
                sysconf(_SC_NPROCESSORS_ONLN), cpu.c_str(), load[0], load[1], load[2]);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"noesis_bench: the library against raw cnats, in the same run"};
  Settings settings;
  std::vector<std::string> only;
  std::string big_child_path;
  app.add_flag("--quick", settings.quick, "small counts and one run (for CI)");
  app.add_option("--runs", settings.runs, "runs per side; the table shows medians (default 3)")
      ->check(CLI::Range(1, 50));
  std::vector<std::string> names;
  for (const auto& figure : figures()) names.emplace_back(figure.name);
  app.add_option("--only", only, "run only these figures (repeatable)")->check(CLI::IsMember(names));
  app.add_option("--url", settings.url, "use this server instead of starting a private nats-server on 127.0.0.1");
  app.add_flag("--big", settings.big, "also store and read a 1 GiB object (writes 1 GiB to the server's store)");
  app.add_option("--object-big-child", big_child_path, "internal: the child process of the 1 GiB figure")
      ->group("");
  CLI11_PARSE(app, argc, argv);

  noesis::ship::logger()->set_level(spdlog::level::warn);
  if (!big_child_path.empty()) return noesis::bench::run_object_big_child(settings.url, big_child_path);
  if (settings.quick && app.count("--runs") == 0) settings.runs = 1;
  std::error_code ec;
  settings.self_path = std::filesystem::read_symlink("/proc/self/exe", ec).string();

  std::optional<noesis::ship::testing::Server> server;
  if (settings.url.empty()) {
    server.emplace();
    settings.url = server->url();
  }

  std::printf("noesis_bench: %s%s, %d run(s) per side, server %s\n", settings.quick ? "quick, " : "",
              settings.big ? "with --big" : "without --big", settings.runs, settings.url.c_str());
  std::printf("machine: %s\n", machine_text().c_str());
  std::fflush(stdout);

  std::vector<Row> rows;
  bool failed = false;
  for (const auto& figure : figures()) {
    if (!only.empty() && std::find(only.begin(), only.end(), figure.name) == only.end()) continue;
    if (std::string(figure.name) == "object-big" && !settings.big) continue;
    const auto start = noesis::bench::clock_type::now();
    std::fprintf(stderr, "running %s...\n", figure.name);
    try {
      figure.run(settings, rows);
    } catch (const std::exception& e) {
      failed = true;
      std::fprintf(stderr, "noesis_bench: figure '%s' failed: %s\n", figure.name, e.what());
      Row row;
      row.figure = figure.title;
      row.library = "FAILED";
      row.baseline = "-";
      row.ratio_text = "-";
      row.failed = true;
      row.note = std::string("failed: ") + e.what();
      rows.push_back(row);
    }
    std::fprintf(stderr, "  %s took %.1f s\n", figure.name, noesis::bench::seconds_since(start));
  }
  std::puts("");
  print_table(rows);
  if (failed) std::puts("\nnoesis_bench: at least one figure FAILED (see above)");
  return failed ? 1 : 0;
}
