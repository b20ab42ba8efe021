// ServiceArgs: the command line every service program accepts (the Rust noesis-ship's
// ServiceArgs), parsed with CLI11.
//
//   int main(int argc, char** argv) {
//     auto args = noesis::ship::ServiceArgs::parse(argc, argv);   // exits on --help or a bad flag
//     service.nats_url(args.nats_url);
//   }
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace noesis::ship {

struct ServiceArgs {
  // Directory for the service's files: `--data-dir`, default `.`.
  std::filesystem::path data_dir = ".";
  // Server URL: `--nats-url`, else the NATS_URL environment variable, else nats://localhost:4222.
  std::string nats_url;

  // Thrown by parse_or_throw() when the program should exit instead of running: after --help
  // (exit_code 0, what() is the help text) or on an invalid command line (exit_code non-zero,
  // what() is the error and a hint to use --help).
  class Exit : public std::runtime_error {
   public:
    Exit(int code, const std::string& text) : std::runtime_error(text), exit_code_(code) {}
    int exit_code() const noexcept { return exit_code_; }

   private:
    int exit_code_;
  };

  // Parses the command line. On --help it prints the help to stdout and exits with 0; on an
  // invalid command line it prints the error to stderr and exits with the parser's exit code.
  static ServiceArgs parse(int argc, const char* const* argv);

  // Parses like parse() but throws Exit instead of printing and exiting, for tests and for
  // programs that add their own handling.
  static ServiceArgs parse_or_throw(int argc, const char* const* argv);
};

}  // namespace noesis::ship
