// Connection settings: the Rust noesis-ship's NatsConfig, extended with what production
// deployments of NATS need (several servers, credentials, TLS, reconnect policy).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace noesis::ship {

// Returns the NATS_URL environment variable when set and non-empty, else nats://localhost:4222.
std::string default_nats_url();

struct TlsConfig {
  bool enabled = false;           // also implied by a tls:// URL or any file below
  std::string ca_file;            // PEM CA bundle that signs the server certificate
  std::string cert_file;          // client certificate for mutual TLS (PEM)
  std::string key_file;           // client private key for mutual TLS (PEM)
  bool verify_server = true;      // false skips server certificate verification (tests only)
  std::string expected_hostname;  // overrides the host name checked against the certificate
};

struct ReconnectPolicy {
  bool enabled = true;
  int max_attempts = -1;  // per server; -1 retries forever
  std::chrono::milliseconds wait{2000};
  std::chrono::milliseconds jitter{100};
  // Bytes of publishes kept while disconnected and sent after reconnect; a publish beyond it
  // fails with an error instead of being dropped.
  std::size_t buffer_bytes = 8 * 1024 * 1024;
};

struct NatsConfig {
  // Server URLs tried in order (nats://, tls://). Defaults to default_nats_url().
  std::vector<std::string> servers{default_nats_url()};
  std::string name;  // connection name shown by the server's monitoring

  // Credentials: set at most one kind. They are never logged.
  std::string user;
  std::string password;
  std::string token;
  std::string credentials_file;  // a .creds file holding a user JWT and NKey seed
  std::string nkey_seed_file;    // a file holding only an NKey seed (SU...)

  TlsConfig tls;
  ReconnectPolicy reconnect;

  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{10000};  // default for request() and JetStream calls
  std::chrono::milliseconds drain_timeout{30000};
  std::chrono::milliseconds ping_interval{120000};

  // Default pending limit of each subscription, in messages. When a subscriber falls this far
  // behind, newer messages are dropped and the subscriber gets errc::slow_consumer.
  std::size_t max_pending_messages = 65536;
  bool retry_on_failed_connect = false;  // keep trying in the background when connect() fails
  bool no_echo = false;                  // do not deliver this connection's own publishes

  NatsConfig() = default;
  explicit NatsConfig(std::string url) : servers{std::move(url)} {}

  NatsConfig& with_connect_timeout(std::chrono::milliseconds timeout) {
    connect_timeout = timeout;
    return *this;
  }
  NatsConfig& with_request_timeout(std::chrono::milliseconds timeout) {
    request_timeout = timeout;
    return *this;
  }
  NatsConfig& with_name(std::string connection_name) {
    name = std::move(connection_name);
    return *this;
  }
};

}  // namespace noesis::ship
