#include <noesis/ship/service_args.hpp>

#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include <noesis/ship/config.hpp>

namespace noesis::ship {

ServiceArgs ServiceArgs::parse_or_throw(int argc, const char* const* argv) {
  ServiceArgs args;
  args.nats_url = default_nats_url();

  CLI::App app("A noesis-ship service");
  app.add_option("--data-dir", args.data_dir, "Directory for the service's data files (default: .)");
  app.add_option("--nats-url", args.nats_url,
                 "NATS server URL (default: the NATS_URL environment variable, else nats://localhost:4222)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    throw Exit(0, app.help());
  } catch (const CLI::ParseError& e) {
    throw Exit(e.get_exit_code(), std::string(e.what()) + "\nRun with --help for more information.");
  }
  return args;
}

ServiceArgs ServiceArgs::parse(int argc, const char* const* argv) {
  try {
    return parse_or_throw(argc, argv);
  } catch (const Exit& exit) {
    (exit.exit_code() == 0 ? std::cout : std::cerr) << exit.what() << '\n';
    std::exit(exit.exit_code());
  }
}

}  // namespace noesis::ship
