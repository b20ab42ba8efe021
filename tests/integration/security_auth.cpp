// Authentication and authorization against private nats-servers: token, user and password, NKey
// seed files, a wrong secret, a publish permission violation, and no secret in any log line,
// event or error message.
//
// NOTE: .creds files (user JWT plus NKey seed, NatsConfig::credentials_file) are not covered: they
// need an operator-mode server with signed operator, account and user JWTs.
#include <catch2/catch.hpp>

#include <asio/experimental/as_tuple.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/detail/nkeys.hpp>
#include <noesis/ship/testing/server.hpp>

#include "capture_log.hpp"
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
  CHECK(log_capture()->contains("corrupt.nk"));
  CHECK(!log_capture()->contains(damaged));
  CHECK(!log_capture()->contains(allowed_nkey().seed));
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
        allowed_nkey().seed}) {
    INFO("secret: " << secret);
    CHECK(!sink->contains(secret));
  }
}
