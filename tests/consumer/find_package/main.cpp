// A program outside the noesis_ship source tree that uses the library the way an application
// does. It only builds and configures a Connection, so it runs without a NATS server.
#include <iostream>

#include <asio/io_context.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/error.hpp>

int main() {
  asio::io_context io;
  noesis::ship::NatsConfig config("nats://127.0.0.1:4222");
  config.with_name("consumer-check").with_request_timeout(std::chrono::seconds(2));
  noesis::ship::Connection conn(io.get_executor(), config);

  std::cout << "connection to " << conn.config().servers.front() << " named '" << conn.config().name
            << "', connected: " << std::boolalpha << conn.is_connected() << "\n";

  // Publishing before connect() fails with errc::not_connected; reaching this handler proves
  // that the library's error category links and works.
  try {
    conn.publish("consumer.check", "hello");
    std::cerr << "publish before connect() unexpectedly succeeded\n";
    return 1;
  } catch (const noesis::ship::error& e) {
    std::cout << "publish before connect() failed as expected: " << e.what() << "\n";
  }
  return 0;
}
