// TLS against private nats-servers with certificates made at test time by the `openssl` CLI:
// server verification by default, rejection of a server signed by another CA, and mutual TLS.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <stdexcept>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/testing/server.hpp>

#include "capture_log.hpp"
#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;

namespace {

// Runs `openssl <arguments>` in `dir`, output to openssl.log there; throws when it fails.
void openssl(const test::TempDir& dir, const std::string& arguments) {
  const std::string command =
      "cd '" + dir.file("") + "' && openssl " + arguments + " >>openssl.log 2>&1";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl failed: " + command);
}

// A CA, a server certificate for 127.0.0.1 and a client certificate signed by it, and a second
// CA that signed nothing the server presents. EC P-256 keys keep generation fast.
struct Certificates {
  test::TempDir dir;

  Certificates() {
    const std::string new_key = "req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    openssl(dir, new_key + "-x509 -days 1 -subj /CN=noesis-test-ca -keyout ca.key -out ca.pem");
    openssl(dir, new_key + "-x509 -days 1 -subj /CN=noesis-other-ca -keyout other-ca.key -out other-ca.pem");

    dir.write("server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    openssl(dir, new_key + "-subj /CN=127.0.0.1 -keyout server.key -out server.csr");
    openssl(dir, "x509 -req -days 1 -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                 "-extfile server.ext -out server.pem");

    dir.write("client.ext", "extendedKeyUsage=clientAuth\n");
    openssl(dir, new_key + "-subj /CN=noesis-test-client -keyout client.key -out client.csr");
    openssl(dir, "x509 -req -days 1 -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                 "-extfile client.ext -out client.pem");
  }

  std::string path(const std::string& name) const { return dir.file(name); }
};

const Certificates& certificates() {
  static const Certificates certs;
  return certs;
}

// `verify_clients` requires a client certificate signed by the CA (mutual TLS).
std::string tls_block(bool verify_clients) {
  const auto& c = certificates();
  return "tls {\n  cert_file: \"" + c.path("server.pem") + "\"\n  key_file: \"" + c.path("server.key") +
         "\"\n  ca_file: \"" + c.path("ca.pem") + "\"\n  verify: " + (verify_clients ? "true" : "false") +
         "\n  timeout: 2\n}\n";
}

testing::Server& tls_server() {
  static testing::Server server([] {
    testing::ServerOptions options;
    options.jetstream = false;
    options.extra_config = tls_block(false);
    return options;
  }());
  return server;
}

testing::Server& mutual_tls_server() {
  static testing::Server server([] {
    testing::ServerOptions options;
    options.jetstream = false;
    options.extra_config = tls_block(true);
    return options;
  }());
  return server;
}

NatsConfig config_for(const testing::Server& server) {
  NatsConfig config("tls://127.0.0.1:" + std::to_string(server.port()));
  config.connect_timeout = 2s;
  config.reconnect.enabled = false;
  return config;
}

// Connects, checks a publish-subscribe round trip, and returns the connect error if any.
std::error_code connect_and_use(NatsConfig config) {
  asio::io_context io;
  Connection conn(io.get_executor(), std::move(config));
  std::error_code result;
  test::run(io, [&]() -> awaitable<void> {
    try {
      co_await conn.connect();
    } catch (const error& e) {
      result = e.code();
      co_return;
    }
    auto sub = conn.subscribe("tls.check");
    co_await conn.flush();
    conn.publish("tls.check", "over tls");
    Message msg = co_await sub.next();
    CHECK(msg.data() == "over tls");
  }, std::chrono::seconds(20));
  conn.close();
  return result;
}

}  // namespace

TEST_CASE("TLS connection verified against the test CA") {
  auto config = config_for(tls_server());
  config.tls.ca_file = certificates().path("ca.pem");
  CHECK(config.tls.verify_server);  // verification is the default
  CHECK(!connect_and_use(config));
}

TEST_CASE("TLS rejects a server signed by another CA") {
  auto config = config_for(tls_server());
  config.tls.ca_file = certificates().path("other-ca.pem");
  const auto ec = connect_and_use(config);
  CHECK(ec);
  CHECK(ec == make_nats_error_code(NATS_SSL_ERROR));
}

TEST_CASE("TLS verifies the server by default") {
  // Only the system trust store: the test CA is not in it, so the handshake must fail.
  auto config = config_for(tls_server());
  config.tls.enabled = true;
  const auto ec = connect_and_use(config);
  CHECK(ec == make_nats_error_code(NATS_SSL_ERROR));

  // Turning verification off (tests only) accepts the same server.
  config.tls.verify_server = false;
  CHECK(!connect_and_use(config));
}

TEST_CASE("mutual TLS with a client certificate") {
  auto config = config_for(mutual_tls_server());
  config.tls.ca_file = certificates().path("ca.pem");
  config.tls.cert_file = certificates().path("client.pem");
  config.tls.key_file = certificates().path("client.key");
  CHECK(!connect_and_use(config));

  // Without a client certificate the server ends the handshake.
  auto anonymous = config_for(mutual_tls_server());
  anonymous.tls.ca_file = certificates().path("ca.pem");
  CHECK(connect_and_use(anonymous));
}

TEST_CASE("plain connection to a TLS server fails") {
  NatsConfig config("nats://127.0.0.1:" + std::to_string(tls_server().port()));
  config.connect_timeout = 2s;
  config.reconnect.enabled = false;
  CHECK(connect_and_use(config));
}
