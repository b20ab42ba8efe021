// ServiceArgs: defaults, flags, the NATS_URL environment variable and --help.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include <noesis/ship/service_args.hpp>

using noesis::ship::ServiceArgs;

namespace {

ServiceArgs parse(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "svc");
  return ServiceArgs::parse_or_throw(static_cast<int>(argv.size()), argv.data());
}

// Sets NATS_URL for one scope and restores the variable's absence afterwards.
struct ScopedNatsUrl {
  explicit ScopedNatsUrl(const char* value) { ::setenv("NATS_URL", value, 1); }
  ~ScopedNatsUrl() { ::unsetenv("NATS_URL"); }
};

}  // namespace

TEST_CASE("service args defaults") {
  ::unsetenv("NATS_URL");
  const ServiceArgs args = parse({});
  CHECK(args.data_dir == ".");
  CHECK(args.nats_url == "nats://localhost:4222");
}

TEST_CASE("service args flags") {
  const ServiceArgs args = parse({"--data-dir", "/var/lib/echo", "--nats-url", "nats://127.0.0.1:4333"});
  CHECK(args.data_dir == "/var/lib/echo");
  CHECK(args.nats_url == "nats://127.0.0.1:4333");
}

TEST_CASE("service args flags with equals sign") {
  const ServiceArgs args = parse({"--data-dir=data", "--nats-url=nats://127.0.0.1:4334"});
  CHECK(args.data_dir == "data");
  CHECK(args.nats_url == "nats://127.0.0.1:4334");
}

TEST_CASE("service args NATS_URL environment") {
  ScopedNatsUrl env("nats://127.0.0.1:5222");
  const ServiceArgs from_env = parse({});
  CHECK(from_env.nats_url == "nats://127.0.0.1:5222");

  const ServiceArgs flag_wins = parse({"--nats-url", "nats://127.0.0.1:6222"});
  CHECK(flag_wins.nats_url == "nats://127.0.0.1:6222");
}

TEST_CASE("service args help output") {
  try {
    parse({"--help"});
    FAIL("--help did not throw ServiceArgs::Exit");
  } catch (const ServiceArgs::Exit& exit) {
    const std::string text = exit.what();
    CHECK(exit.exit_code() == 0);
    CHECK_THAT(text, Catch::Contains("--data-dir"));
    CHECK_THAT(text, Catch::Contains("--nats-url"));
    CHECK_THAT(text, Catch::Contains("NATS_URL"));
    CHECK_THAT(text, Catch::Contains("--help"));
  }
}

TEST_CASE("service args unknown flag") {
  try {
    parse({"--port", "4222"});
    FAIL("an unknown flag did not throw ServiceArgs::Exit");
  } catch (const ServiceArgs::Exit& exit) {
    const std::string text = exit.what();
    CHECK(exit.exit_code() != 0);
    CHECK_THAT(text, Catch::Contains("--port"));
  }
}
