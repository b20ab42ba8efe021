// A TCP proxy on 127.0.0.1 between the library and a test's nats-server. It injects faults that
// a real server does not produce on request: bytes that the server sends but that never arrive,
// and connections that break while such bytes are in flight.
//
//   test::FaultProxy proxy(server.port());
//   Connection conn(io.get_executor(), NatsConfig(proxy.url()));
//   proxy.drop_server_to_client();  // the server's deliveries now vanish on the way
//   proxy.cut();                    // close those connections; cnats reconnects through the proxy
//
// The proxy runs its own io_context on its own thread. Every call returns once the proxy has
// applied it.
#pragma once

#include <array>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <asio/connect.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/write.hpp>

namespace noesis::ship::test {

class FaultProxy {
 public:
  // Listens on 127.0.0.1 on a port the kernel picks and forwards every connection to
  // 127.0.0.1:`server_port`.
  explicit FaultProxy(int server_port)
      : server_endpoint_(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server_port)),
        acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }

  ~FaultProxy() {
    run_on_proxy([this] {
      asio::error_code ignored;
      acceptor_.close(ignored);
      for (auto& weak : pipes_) {
        if (auto pipe = weak.lock()) pipe->close();
      }
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }

  // From now on, bytes the server sends on the connections open now are read and thrown away,
  // so the server counts them as sent. Bytes from the client still reach the server.
  // Connections made later are not affected.
  void drop_server_to_client() {
    run_on_proxy([this] {
      for (auto& weak : pipes_) {
        if (auto pipe = weak.lock()) pipe->dropping = true;
      }
    });
  }

  // Closes both sides of every connection open now. A client reconnecting through the proxy
  // gets a new connection that forwards in both directions.
  void cut() {
    run_on_proxy([this] {
      for (auto& weak : pipes_) {
        if (auto pipe = weak.lock()) pipe->close();
      }
      pipes_.clear();
    });
  }

 private:
  // One client connection and the server connection made for it.
  struct Pipe : std::enable_shared_from_this<Pipe> {
    explicit Pipe(asio::io_context& io) : client(io), server(io) {}

    void start() {
      forward(client, server, upstream, false);
      forward(server, client, downstream, true);
    }

    void forward(asio::ip::tcp::socket& from, asio::ip::tcp::socket& to, std::array<char, 65536>& buffer,
                 bool from_server) {
      from.async_read_some(asio::buffer(buffer), [self = shared_from_this(), &from, &to, &buffer, from_server](
                                                     asio::error_code ec, std::size_t size) {
        if (ec) return self->close();
        if (from_server && self->dropping) return self->forward(from, to, buffer, from_server);
        asio::async_write(to, asio::buffer(buffer.data(), size),
                          [self, &from, &to, &buffer, from_server](asio::error_code write_ec, std::size_t) {
                            if (write_ec) return self->close();
                            self->forward(from, to, buffer, from_server);
                          });
      });
    }

    void close() {
      asio::error_code ignored;
      client.close(ignored);
      server.close(ignored);
    }

    asio::ip::tcp::socket client;
    asio::ip::tcp::socket server;
    std::array<char, 65536> upstream{};
    std::array<char, 65536> downstream{};
    bool dropping = false;
  };

  void accept() {
    auto pipe = std::make_shared<Pipe>(io_);
    acceptor_.async_accept(pipe->client, [this, pipe](asio::error_code ec) {
      if (ec) return;  // the acceptor was closed
      pipe->server.async_connect(server_endpoint_, [pipe](asio::error_code connect_ec) {
        if (connect_ec) return pipe->close();
        pipe->start();
      });
      pipes_.push_back(pipe);
      accept();
    });
  }

  // Runs `action` on the proxy's thread and waits until it has run.
  template <typename Action>
  void run_on_proxy(Action action) {
    std::promise<void> done;
    auto finished = done.get_future();
    asio::post(io_, [&] {
      action();
      done.set_value();
    });
    finished.wait();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  asio::ip::tcp::endpoint server_endpoint_;
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::weak_ptr<Pipe>> pipes_;  // touched only on the proxy's thread
  std::thread thread_;
};

}  // namespace noesis::ship::test
