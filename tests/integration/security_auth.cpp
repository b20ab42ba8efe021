// Authentication and authorization against private nats-servers: token, user and password, NKey
// seed files, .creds files on an operator-mode server, a wrong secret, a publish permission
// violation, and no secret in any log line, event or error message.
#include <catch2/catch.hpp>

#include <asio/experimental/as_tuple.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/detail/nkeys.hpp>
#include <noesis/ship/testing/server.hpp>

#include "capture_log.hpp"
#include "nats_jwt.hpp"
#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::experimental::as_tuple;

namespace {

constexpr const char* token_secret = "tok-9f3c2a7e51";
constexpr const char* password_secret = "pw-7d1e55b2c0";
constexpr const char* limited_password = "pw-limited-48ab";

std::shared_ptr<test::CaptureSink>& log_capture() {
  static auto sink = test::capture_library_log();
  return sink;
}

testing::Server& token_server() {
  static testing::Server server([] {
    testing::ServerOptions options;
    options.jetstream = false;
    options.extra_config = std::string("authorization { token: \"") + token_secret + "\" }\n";
    return options;
  }());
  return server;
}

const detail::UserNKey& allowed_nkey() {
  static const auto key = detail::generate_user_nkey();
  return key;
}

// One server with three kinds of user: alice (password), an NKey user and `limited`, who may
// not publish below `forbidden.`.
testing::Server& users_server() {
  static testing::Server server([] {
    testing::ServerOptions options;
    options.jetstream = false;
    options.extra_config = std::string("authorization { users = [\n") +
                           "  { user: alice, password: \"" + password_secret + "\" }\n" +
                           "  { nkey: \"" + allowed_nkey().public_key + "\" }\n" +
                           "  { user: limited, password: \"" + limited_password +
                           "\", permissions: { publish: { deny: [\"forbidden.>\"] } } }\n" +
                           "] }\n";
    return options;
  }());
  return server;
}

// Decentralized authentication: an operator, one account that the operator signed, and users
// signed by that account or by a stranger account the server does not know.
struct OperatorMode {
  test::NKeyPair operator_key = test::generate_nkey(test::NKeyType::operator_key);
  test::NKeyPair account = test::generate_nkey(test::NKeyType::account);
  test::NKeyPair stranger_account = test::generate_nkey(test::NKeyType::account);
  test::NKeyPair user = test::generate_nkey(test::NKeyType::user);
  test::TempDir dir;
};

const OperatorMode& operator_mode() {
  static const OperatorMode mode;
  return mode;
}

// A server trusting operator_mode()'s operator, with the account preloaded into the memory
// resolver, so it needs no account server.
testing::Server& operator_server() {
  static testing::Server server([] {
    const auto& mode = operator_mode();
    const std::string operator_file = mode.dir.write("operator.jwt", test::operator_jwt(mode.operator_key, "test-operator"));
    testing::ServerOptions options;
    options.jetstream = false;
    options.extra_config = "operator: \"" + operator_file + "\"\n" +
                           "resolver: MEMORY\n"
                           "resolver_preload: {\n  " + mode.account.public_key + ": \"" +
                           test::account_jwt(mode.account, mode.operator_key, "test-account") + "\"\n}\n";
    return options;
  }());
  return server;
}

NatsConfig config_for(const testing::Server& server) {
  NatsConfig config(server.url());
  config.connect_timeout = 2s;
  config.reconnect.wait = 100ms;
  return config;
}

// Connects and checks a request-reply round trip on the connection.
awaitable<void> check_round_trip(Connection conn, std::string subject) {
  auto sub = conn.subscribe(subject);
  co_await conn.flush();
  conn.publish(subject, "ping");
  Message msg = co_await sub.next();
  CHECK(msg.data() == "ping");
}

struct ConnectOutcome {
  std::error_code code;
  std::string message;
  std::chrono::steady_clock::duration took{};
};

ConnectOutcome try_connect(NatsConfig config) {
  asio::io_context io;
  Connection conn(io.get_executor(), std::move(config));
  ConnectOutcome outcome;
  test::run(io, [&]() -> awaitable<void> {
    const auto started = std::chrono::steady_clock::now();
    try {
      co_await conn.connect();
    } catch (const error& e) {
      outcome.code = e.code();
      outcome.message = e.what();
    }
    outcome.took = std::chrono::steady_clock::now() - started;
    conn.close();
  }, std::chrono::seconds(20));
  return outcome;
}

}  // namespace

TEST_CASE("token authentication") {
  log_capture();
  asio::io_context io;
  auto config = config_for(token_server());
  config.token = token_secret;
  Connection conn(io.get_executor(), config);
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    co_await check_round_trip(conn, "auth.token");
  });

  auto wrong = config_for(token_server());
  wrong.token = "tok-wrong-0000";
  const auto outcome = try_connect(wrong);
  CHECK(outcome.code == make_nats_error_code(NATS_CONNECTION_AUTH_FAILED));
  CHECK(outcome.took < 3s);  // fails at once instead of retrying
  INFO(outcome.message);
  CHECK(outcome.message.find("Authentication Violation") != std::string::npos);
  CHECK(outcome.message.find("tok-wrong-0000") == std::string::npos);
}

TEST_CASE("user and password authentication") {
  log_capture();
  asio::io_context io;
  auto config = config_for(users_server());
  config.user = "alice";
  config.password = password_secret;
  Connection conn(io.get_executor(), config);
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    co_await check_round_trip(conn, "auth.user");
  });

  auto wrong = config_for(users_server());
  wrong.user = "alice";
  wrong.password = "pw-wrong-1111";
  const auto outcome = try_connect(wrong);
  CHECK(outcome.code == make_nats_error_code(NATS_CONNECTION_AUTH_FAILED));
  CHECK(outcome.took < 3s);
  INFO(outcome.message);
  CHECK(outcome.message.find("Authentication Violation") != std::string::npos);
  CHECK(outcome.message.find("pw-wrong-1111") == std::string::npos);
}

TEST_CASE("user and password embedded in the URL") {
  log_capture();
  const auto port = std::to_string(users_server().port());
  asio::io_context io;
  Connection conn(io.get_executor(), NatsConfig("nats://alice:" + std::string(password_secret) + "@127.0.0.1:" + port));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    co_await check_round_trip(conn, "auth.url");
  });
  conn.close();

  const auto outcome = try_connect(NatsConfig("nats://alice:pw-url-wrong-2222@127.0.0.1:" + port));
  CHECK(outcome.code == make_nats_error_code(NATS_CONNECTION_AUTH_FAILED));
  INFO(outcome.message);
  CHECK(outcome.message.find("pw-url-wrong-2222") == std::string::npos);
  CHECK(outcome.message.find("***@127.0.0.1") != std::string::npos);
}

TEST_CASE("NKey seed file authentication") {
  log_capture();
  test::TempDir dir;
  asio::io_context io;
  auto config = config_for(users_server());
  config.nkey_seed_file = dir.write("user.nk", allowed_nkey().seed + "\n");
  Connection conn(io.get_executor(), config);
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    co_await check_round_trip(conn, "auth.nkey");
  });
  conn.close();

  // A valid key the server does not know.
  const auto stranger = detail::generate_user_nkey();
  auto unknown = config_for(users_server());
  unknown.nkey_seed_file = dir.write("stranger.nk", stranger.seed);
  const auto refused = try_connect(unknown);
  CHECK(refused.code == make_nats_error_code(NATS_CONNECTION_AUTH_FAILED));
  CHECK(refused.took < 3s);

  // A file without a usable seed fails before any network traffic.
  auto corrupt = config_for(users_server());
  std::string damaged = allowed_nkey().seed;
  damaged[10] = damaged[10] == 'A' ? 'B' : 'A';  // breaks the checksum
  corrupt.nkey_seed_file = dir.write("corrupt.nk", damaged);
  const auto rejected = try_connect(corrupt);
  CHECK(rejected.code == errc::invalid_argument);
  INFO(rejected.message);
  CHECK(rejected.message.find("NKey seed file '" + corrupt.nkey_seed_file + "' contains no valid user seed") !=
        std::string::npos);
  CHECK(rejected.message.find(damaged) == std::string::npos);
  CHECK(log_capture()->contains("corrupt.nk"));
  CHECK(!log_capture()->contains(damaged));
  CHECK(!log_capture()->contains(allowed_nkey().seed));
}

TEST_CASE("credentials file authentication") {
  log_capture();
  const auto& mode = operator_mode();

  // The NKey encoding of the test support agrees with the library's for user keys.
  const auto library_user = detail::user_nkey_from_raw_seed(mode.user.raw_seed);
  REQUIRE(library_user.seed == mode.user.seed);
  REQUIRE(library_user.public_key == mode.user.public_key);
  CHECK(mode.operator_key.public_key.front() == 'O');
  CHECK(mode.operator_key.seed.substr(0, 2) == "SO");
  CHECK(mode.account.public_key.front() == 'A');
  CHECK(mode.account.seed.substr(0, 2) == "SA");

  asio::io_context io;
  auto config = config_for(operator_server());
  config.credentials_file =
      mode.dir.write("user.creds", test::creds_file_text(test::user_jwt(mode.user, mode.account, "alice"), mode.user));
  Connection conn(io.get_executor(), config);
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    co_await check_round_trip(conn, "auth.creds");
  });
  conn.close();
  CHECK(!log_capture()->contains(mode.user.seed));
}

TEST_CASE("credentials file of another account") {
  log_capture();
  const auto& mode = operator_mode();

  // A user JWT issued by an account the operator never signed.
  auto stranger = config_for(operator_server());
  stranger.credentials_file = mode.dir.write(
      "stranger.creds", test::creds_file_text(test::user_jwt(mode.user, mode.stranger_account, "mallory"), mode.user));
  const auto refused = try_connect(stranger);
  CHECK(refused.code == make_nats_error_code(NATS_CONNECTION_AUTH_FAILED));
  CHECK(refused.took < 3s);  // fails at once instead of retrying
  INFO(refused.message);
  CHECK(refused.message.find("Authentication Violation") != std::string::npos);
  CHECK(refused.message.find(mode.user.seed) == std::string::npos);

  // A user JWT that names the trusted account as issuer but carries the stranger's signature.
  test::NKeyPair forger = mode.stranger_account;
  forger.public_key = mode.account.public_key;
  auto forged = config_for(operator_server());
  forged.credentials_file =
      mode.dir.write("forged.creds", test::creds_file_text(test::user_jwt(mode.user, forger, "mallory"), mode.user));
  const auto rejected = try_connect(forged);
  CHECK(rejected.code == make_nats_error_code(NATS_CONNECTION_AUTH_FAILED));
  CHECK(rejected.took < 3s);
  CHECK(log_capture()->contains("Authorization Violation"));
  CHECK(!log_capture()->contains(mode.user.seed));
}

TEST_CASE("unusable credentials file names path") {
  log_capture();
  const auto& mode = operator_mode();
  const std::string user_jwt = test::user_jwt(mode.user, mode.account, "alice");
  std::string damaged_seed = mode.user.seed;
  damaged_seed[10] = damaged_seed[10] == 'A' ? 'B' : 'A';  // breaks the checksum

  struct BadFile {
    std::string what;
    std::string path;
    std::string problem;  // a part of the expected message after the path
  };
  const std::vector<BadFile> cases{
      {"missing file", mode.dir.file("absent.creds"), "cannot be read"},
      {"directory", mode.dir.file(""), "cannot be read"},
      {"no JWT", mode.dir.write("seed-only.creds", "-----BEGIN USER NKEY SEED-----\n" + mode.user.seed +
                                                       "\n------END USER NKEY SEED------\n"),
       "contains no user JWT"},
      {"no seed", mode.dir.write("jwt-only.creds", "-----BEGIN NATS USER JWT-----\n" + user_jwt +
                                                       "\n------END NATS USER JWT------\n"),
       "contains no valid user seed"},
      {"damaged seed", mode.dir.write("damaged.creds", test::creds_file_text(user_jwt, test::NKeyPair{
                                                                                             test::NKeyType::user,
                                                                                             mode.user.raw_seed,
                                                                                             damaged_seed,
                                                                                             mode.user.public_key})),
       "contains no valid user seed"},
      {"empty file", mode.dir.write("empty.creds", ""), "contains no user JWT"}};

  for (const auto& bad : cases) {
    INFO(bad.what);
    auto config = config_for(operator_server());
    config.credentials_file = bad.path;
    const auto outcome = try_connect(config);
    CHECK(outcome.code == errc::invalid_argument);
    INFO("message: " << outcome.message);
    CHECK(outcome.message.find("credentials file '" + bad.path + "' " + bad.problem) != std::string::npos);
    CHECK(outcome.message.find(mode.user.seed) == std::string::npos);
    CHECK(outcome.message.find(damaged_seed) == std::string::npos);
    CHECK(log_capture()->contains(bad.path));
  }
  CHECK(!log_capture()->contains(mode.user.seed));
  CHECK(!log_capture()->contains(damaged_seed));
}

TEST_CASE("publish permission violation is reported and the connection stays usable") {
  log_capture();
  asio::io_context io;
  auto config = config_for(users_server());
  config.user = "limited";
  config.password = limited_password;
  Connection conn(io.get_executor(), config);
  std::vector<ConnectionEvent> events;
  conn.on_event([&](const ConnectionEvent& e) { events.push_back(e); });
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    conn.publish("forbidden.topic", "x");
    co_await conn.flush();
    for (int i = 0; i < 100 && events.empty(); ++i) co_await test::sleep_for(20ms);

    // A request to a forbidden subject fails instead of hanging.
    auto [request_error, reply] =
        co_await conn.request(OutgoingMessage("forbidden.service", "x"), 500ms, as_tuple(asio::use_awaitable));
    CHECK(request_error);

    co_await check_round_trip(conn, "allowed.topic");
  });
  REQUIRE(!events.empty());
  CHECK(events.front().type == ConnectionEventType::error);
  CHECK(events.front().error == make_nats_error_code(NATS_NOT_PERMITTED));
  CHECK(events.front().detail.find("forbidden.topic") != std::string::npos);
  CHECK(log_capture()->contains("Permissions Violation"));
  CHECK(conn.is_connected());
}

// Checks the lines of every test above (Catch2 runs test cases in declaration order by default)
// and of its own failed connects, so it also works when run alone.
TEST_CASE("no secret appears in log lines") {
  auto sink = log_capture();
  auto wrong = config_for(token_server());
  wrong.token = "tok-wrong-0000";
  const auto refused = try_connect(wrong);
  CHECK(refused.code);
  const auto port = std::to_string(users_server().port());
  const auto refused_url = try_connect(NatsConfig("nats://alice:pw-url-wrong-2222@127.0.0.1:" + port));
  CHECK(refused_url.code);

  const auto lines = sink->lines();
  CHECK(!lines.empty());
  for (const std::string& secret :
       {std::string(token_secret), std::string("tok-wrong-0000"), std::string(password_secret),
        std::string("pw-wrong-1111"), std::string("pw-url-wrong-2222"), std::string(limited_password),
        allowed_nkey().seed, operator_mode().user.seed, operator_mode().account.seed,
        operator_mode().operator_key.seed}) {
    INFO("secret: " << secret);
    CHECK(!sink->contains(secret));
  }
}
