// Connection behaviour that needs no server: errors before connect, validation, error mapping.
#include <catch2/catch.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>

#include <noesis/ship/connection.hpp>

using namespace noesis::ship;

TEST_CASE("publish before connect fails with not_connected") {
  asio::io_context io;
  Connection conn(io.get_executor(), NatsConfig("nats://127.0.0.1:1"));
  try {
    conn.publish("a.b", "x");
    FAIL("publish did not throw");
  } catch (const error& e) {
    CHECK(e.code() == errc::not_connected);
    CHECK(e.code() == condition::not_connected);
    CHECK(std::string(e.what()).find("a.b") != std::string::npos);
  }
}

TEST_CASE("request before connect completes with not_connected") {
  asio::io_context io;
  Connection conn(io.get_executor(), NatsConfig("nats://127.0.0.1:1"));
  std::error_code result;
  bool called = false;
  conn.request("svc.echo", "hi", std::chrono::milliseconds(100), [&](std::error_code ec, Message) {
    called = true;
    result = ec;
  });
  io.run();
  CHECK(called);
  CHECK(result == errc::not_connected);
}

TEST_CASE("invalid subjects are rejected before sending") {
  asio::io_context io;
  Connection conn(io.get_executor(), NatsConfig("nats://127.0.0.1:1"));
  for (const char* subject : {"", "a..b", ".a", "a.", "a b", "a.*", "a.>"}) {
    INFO("subject '" << subject << "'");
    try {
      conn.publish(subject, "x");
      FAIL("publish did not throw");
    } catch (const error& e) {
      CHECK(e.code() == errc::invalid_subject);
    }
  }
  std::error_code result;
  conn.request("bad subject", "x", std::chrono::milliseconds(100),
               [&](std::error_code ec, Message) { result = ec; });
  io.run();
  CHECK(result == errc::invalid_subject);
}

TEST_CASE("connect to a closed port fails with a nats error") {
  asio::io_context io;
  NatsConfig config("nats://127.0.0.1:1");
  config.connect_timeout = std::chrono::milliseconds(500);
  config.reconnect.enabled = false;
  Connection conn(io.get_executor(), config);
  std::error_code result;
  bool called = false;
  conn.connect([&](std::error_code ec) {
    called = true;
    result = ec;
  });
  io.run();
  CHECK(called);
  CHECK(result);
  CHECK(result.category() == nats_category());
  CHECK_FALSE(conn.is_connected());
}

TEST_CASE("redact_url hides credentials") {
  CHECK(detail::redact_url("nats://alice:s3cret@host:4222") == "nats://***@host:4222");
  CHECK(detail::redact_url("nats://token@host") == "nats://***@host");
  CHECK(detail::redact_url("nats://host:4222") == "nats://host:4222");
}

TEST_CASE("error conditions match the seed's names") {
  CHECK(make_error_code(errc::timeout) == condition::timeout);
  CHECK(make_nats_error_code(NATS_TIMEOUT) == condition::timeout);
  CHECK(make_error_code(errc::key_not_found) == condition::key_not_found);
  CHECK(make_jetstream_error_code(10071) == condition::jetstream);
  CHECK(make_error_code(errc::invalid_key) == condition::invalid_input);
  CHECK(make_error_code(errc::no_responders) != condition::timeout);
}
