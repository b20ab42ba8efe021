#include <noesis/ship/error.hpp>

#include <nats/nats.h>

namespace noesis::ship {
namespace {

bool is_invalid_input(errc e) {
  switch (e) {
    case errc::invalid_subject:
    case errc::invalid_name:
    case errc::invalid_key:
    case errc::invalid_argument:
    case errc::payload_too_large:
      return true;
    default:
      return false;
  }
}

class ship_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "noesis.ship"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::not_connected: return "not connected to a NATS server";
      case errc::connection_closed: return "the connection closed";
      case errc::timeout: return "timed out";
      case errc::no_responders: return "no responders are subscribed to the subject";
      case errc::invalid_subject: return "invalid subject";
      case errc::invalid_name: return "invalid name";
      case errc::invalid_key: return "invalid key";
      case errc::invalid_argument: return "invalid argument";
      case errc::payload_too_large: return "payload larger than the server's max_payload";
      case errc::serialization: return "payload is not the expected JSON";
      case errc::key_not_found: return "key not found";
      case errc::key_exists: return "key already exists";
      case errc::wrong_last_sequence: return "wrong last sequence: the revision changed";
      case errc::object_not_found: return "object not found";
      case errc::bucket_not_found: return "bucket not found";
      case errc::stream_not_found: return "stream not found";
      case errc::consumer_not_found: return "consumer not found";
      case errc::digest_mismatch: return "object digest mismatch";
      case errc::size_mismatch: return "object size mismatch";
      case errc::slow_consumer: return "slow consumer: messages were dropped";
      case errc::subscription_closed: return "subscription closed";
      case errc::job_not_found: return "job not found";
      case errc::invalid_transition: return "job status does not allow this transition";
      case errc::jetstream_unavailable: return "JetStream is not enabled for this account";
    }
    return "unknown noesis.ship error " + std::to_string(value);
  }

  std::error_condition default_error_condition(int value) const noexcept override {
    const auto e = static_cast<errc>(value);
    switch (e) {
      case errc::not_connected:
      case errc::connection_closed:
        return condition::not_connected;
      case errc::timeout:
        return condition::timeout;
      case errc::key_not_found:
      case errc::object_not_found:
        return condition::key_not_found;
      default:
        break;
    }
    if (is_invalid_input(e)) return condition::invalid_input;
    return {value, *this};
  }
};

class nats_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "nats"; }

  std::string message(int value) const override {
    return natsStatus_GetText(static_cast<natsStatus>(value));
  }

  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<natsStatus>(value)) {
      case NATS_TIMEOUT:
        return condition::timeout;
      case NATS_CONNECTION_CLOSED:
      case NATS_CONNECTION_DISCONNECTED:
      case NATS_NO_SERVER:
      case NATS_STALE_CONNECTION:
        return condition::not_connected;
      case NATS_INVALID_SUBJECT:
      case NATS_INVALID_ARG:
      case NATS_MAX_PAYLOAD:
        return condition::invalid_input;
      default:
        return {value, *this};
    }
  }
};

class jetstream_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "jetstream"; }

  // The server's description travels in the exception's context; this is the generic text.
  std::string message(int value) const override {
    switch (value) {
      case 10059: return "stream not found";
      case 10014: return "consumer not found";
      case 10058: return "stream name already in use with a different configuration";
      case 10071: return "wrong last sequence";
      case 10037: return "no message found";
      case 10076: return "JetStream not enabled for account";
      case 10039: return "JetStream not enabled";
      case 10077: return "maximum messages exceeded";
      case 10047: return "insufficient resources";
      case 10060: return "expected stream does not match";
      case 10148: return "consumer already exists";
      default: return "JetStream API error " + std::to_string(value);
    }
  }

  std::error_condition default_error_condition(int) const noexcept override {
    return condition::jetstream;
  }
};

class condition_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "noesis.ship.condition"; }

  std::string message(int value) const override {
    switch (static_cast<condition>(value)) {
      case condition::not_connected: return "not connected";
      case condition::timeout: return "timeout";
      case condition::key_not_found: return "key not found";
      case condition::jetstream: return "JetStream error";
      case condition::invalid_input: return "invalid input";
    }
    return "unknown condition " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& ship_category() noexcept {
  static const ship_category_impl instance;
  return instance;
}

const std::error_category& nats_category() noexcept {
  static const nats_category_impl instance;
  return instance;
}

const std::error_category& jetstream_category() noexcept {
  static const jetstream_category_impl instance;
  return instance;
}

const std::error_category& condition_category() noexcept {
  static const condition_category_impl instance;
  return instance;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), ship_category()}; }

std::error_condition make_error_condition(condition c) noexcept {
  return {static_cast<int>(c), condition_category()};
}

std::error_code make_nats_error_code(int nats_status) noexcept {
  if (nats_status == NATS_OK) return {};
  if (nats_status == NATS_TIMEOUT) return errc::timeout;
  if (nats_status == NATS_NO_RESPONDERS) return errc::no_responders;
  if (nats_status == NATS_SLOW_CONSUMER) return errc::slow_consumer;
  return {nats_status, nats_category()};
}

std::error_code make_jetstream_error_code(int err_code) noexcept {
  return {err_code, jetstream_category()};
}

}  // namespace noesis::ship
