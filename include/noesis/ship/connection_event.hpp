// Connection events: what happened to the link to the NATS server, for logging and monitoring.
#pragma once

#include <string>
#include <system_error>

namespace noesis::ship {

enum class ConnectionEventType {
  disconnected,   // the link dropped; cnats reconnects according to the ReconnectPolicy
  reconnected,    // the link is back; subscriptions were restored by cnats
  closed,         // the connection is closed for good (close(), drain() or reconnects exhausted)
  error,          // an asynchronous error: a permissions violation or a slow consumer
  lame_duck,      // the server announced it is shutting down; expect a reconnect elsewhere
};

struct ConnectionEvent {
  ConnectionEventType type;
  std::error_code error;  // set for ConnectionEventType::error
  std::string detail;     // server URL or error text; never contains credentials
  std::string link;       // "publish" or "request": which of the two cnats connections
};

const char* to_string(ConnectionEventType type) noexcept;

}  // namespace noesis::ship
