#include <noesis/ship/detail/connection_core.hpp>

#include <cstdlib>
#include <deque>
#include <cstring>

#include <asio/post.hpp>
#include <asio/thread_pool.hpp>

#include <noesis/ship/detail/credential_files.hpp>
#include <noesis/ship/detail/subscription_state.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/logger.hpp>

namespace noesis::ship::detail {
namespace {

// Blocking cnats calls (connect, flush) run here, never on the user's executor. Two threads:
// these calls are rare and short, and a program rarely connects more than a few connections.
asio::thread_pool& blocking_pool() {
  // cnats and OpenSSL register their exit-time cleanup with atexit() when first used. Opening
  // cnats (which initializes OpenSSL) before the pool exists makes that cleanup run after the
  // pool's destructor has joined its threads. In the other order the OpenSSL state of the pool
  // threads (random generator, error queue) is never freed, and LeakSanitizer reports it at exit.
  [[maybe_unused]] static const natsStatus opened = nats_Open(-1);
  static asio::thread_pool pool(2);
  return pool;
}

const char* link_name(link_kind kind) { return kind == link_kind::publish ? "publish" : "request"; }

// Every callback target ever created (see callback_target).
struct callback_registry {
  std::mutex mutex;
  std::deque<std::unique_ptr<callback_target>> targets;
};

// Returns the registry, which is never destroyed because other threads use it while the process
// exits. cnats threads of a connection that was never closed still run callbacks that lock a
// target's mutex (a disconnect when the server stops, for example). Pool threads may still
// destroy a connection_core. A static destructor freed the targets under both.
callback_registry& callback_targets() {
  static callback_registry& registry = *new callback_registry;
  return registry;
}

// Creates a callback target that lives until the program exits.
callback_target* new_callback_target(link& l) {
  callback_registry& registry = callback_targets();
  std::lock_guard lock(registry.mutex);
  registry.targets.push_back(std::make_unique<callback_target>());
  registry.targets.back()->target = &l;
  return registry.targets.back().get();
}

void detach_callbacks(link& l) {
  if (l.callbacks == nullptr) return;
  std::lock_guard lock(l.callbacks->mutex);
  l.callbacks->target = nullptr;
}

// cnats 3.4 checks the payload (headers included) against its current max_payload before it
// buffers a publish. Its rejection gets the library's error, because the library's own check
// uses a cached limit that a reconnect to a server with a lower max_payload can leave stale.
std::error_code publish_error_code(natsStatus status) {
  if (status == NATS_OK) return {};
  if (status == NATS_MAX_PAYLOAD) return make_error_code(errc::payload_too_large);
  return make_nats_error_code(status);
}

std::string last_error_text(natsStatus status) {
  const char* text = nats_GetLastError(nullptr);
  std::string result = (text != nullptr && *text != '\0') ? text : natsStatus_GetText(status);
  return result;
}

}  // namespace

std::string redact_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  const auto start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const auto at = url.find('@', start);
  if (at == std::string::npos) return url;
  return url.substr(0, start) + "***@" + url.substr(at + 1);
}

// ---------------------------------------------------------------------------------------------
// request_mux

request_mux::request_mux(connection_core&, asio::strand<asio::any_io_executor> strand) : strand_(std::move(strand)) {}

request_mux::~request_mux() = default;

std::error_code request_mux::start(natsConnection* connection) {
  char* raw_inbox = nullptr;
  if (natsInbox_Create(&raw_inbox) != NATS_OK) return errc::not_connected;
  inbox_handle inbox(raw_inbox);
  prefix_ = std::string(inbox.get()) + ".";

  natsSubscription* raw = nullptr;
  const std::string wildcard = prefix_ + "*";
  const natsStatus status = natsConnection_Subscribe(&raw, connection, wildcard.c_str(), &on_reply, this);
  if (status != NATS_OK) return make_nats_error_code(status);
  inbox_.reset(raw);
  natsSubscription_SetPendingLimits(raw, -1, -1);
  return {};
}

void request_mux::on_reply(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* self = static_cast<request_mux*>(closure);
  message_handle reply(msg);
  std::lock_guard lock(self->inbound_mutex_);
  self->inbound_.push_back(std::move(reply));
  if (!self->drain_scheduled_) {
    self->drain_scheduled_ = true;
    asio::post(self->strand_, [keep = self->shared_from_this()] { keep->drain_replies(); });
  }
}

void request_mux::drain_replies() {
  std::vector<message_handle> batch;
  {
    std::lock_guard lock(inbound_mutex_);
    batch.swap(inbound_);
    drain_scheduled_ = false;
  }
  for (auto& handle : batch) {
    Message reply(std::move(handle));
    const auto subject = reply.subject();
    if (subject.size() <= prefix_.size()) continue;
    std::uint64_t token = 0;
    for (char c : subject.substr(prefix_.size())) {
      if (c < '0' || c > '9') {
        token = 0;
        break;
      }
      token = token * 10 + static_cast<std::uint64_t>(c - '0');
    }
    // A reply to a request that already timed out finds no entry and is destroyed here.
    const std::error_code ec = reply.is_no_responders() ? make_error_code(errc::no_responders) : std::error_code{};
    finish(token, ec, std::move(reply));
  }
}

// Runs on the strand: completes the request `token` once, whichever of reply, timer,
// cancellation or failure comes first.
void request_mux::finish(std::uint64_t token, std::error_code ec, Message reply) {
  std::shared_ptr<pending> entry;
  {
    std::lock_guard lock(table_mutex_);
    const auto found = table_.find(token);
    if (found == table_.end()) return;
    entry = std::move(found->second);
    table_.erase(found);
  }
  entry->timer.cancel();
  entry->done.complete(ec, std::move(reply));
}

void request_mux::async_request(natsConnection* connection, const OutgoingMessage& msg,
                                std::chrono::milliseconds timeout, reply_completion done,
                                asio::cancellation_slot slot) {
  const std::uint64_t token = next_token_.fetch_add(1, std::memory_order_relaxed);
  const std::string reply_subject = prefix_ + std::to_string(token);

  // Register before writing: the reply can arrive, and join a batch of replies already queued
  // on the strand, before anything queued after this call runs.
  auto entry = std::make_shared<pending>(strand_);
  entry->done = std::move(done);
  {
    std::lock_guard lock(table_mutex_);
    table_.emplace(token, entry);
  }

  // The timer is armed on the strand, where finish() cancels it; a request already finished by
  // then is no longer in the table and needs no timer.
  auto self = shared_from_this();
  asio::dispatch(strand_, [self, token, timeout, weak_entry = std::weak_ptr<pending>(entry)] {
    auto armed = weak_entry.lock();
    if (!armed) return;
    {
      std::lock_guard lock(self->table_mutex_);
      if (self->table_.find(token) == self->table_.end()) return;
    }
    armed->timer.expires_after(timeout);
    armed->timer.async_wait([weak = std::weak_ptr<request_mux>(self), token](std::error_code ec) {
      if (ec == asio::error::operation_aborted) return;
      if (auto mux = weak.lock()) mux->finish(token, errc::timeout, Message{});
    });
  });
  entry.reset();

  if (slot.is_connected()) {
    slot.assign([weak = std::weak_ptr<request_mux>(self), token](asio::cancellation_type) {
      if (auto mux = weak.lock()) {
        asio::post(mux->strand_, [mux, token] { mux->finish(token, asio::error::operation_aborted, Message{}); });
      }
    });
  }

  natsMsg* raw = nullptr;
  natsStatus status = natsMsg_Create(&raw, msg.subject.c_str(), reply_subject.c_str(), msg.data.data(),
                                     static_cast<int>(msg.data.size()));
  message_handle outgoing(raw);
  for (const auto& [name, value] : msg.headers) {
    if (status != NATS_OK) break;
    status = natsMsgHeader_Add(outgoing.get(), name.c_str(), value.c_str());
  }
  if (status == NATS_OK) status = natsConnection_PublishMsg(connection, outgoing.get());
  if (status != NATS_OK) {
    const auto ec = publish_error_code(status);
    asio::post(strand_, [self, token, ec] { self->finish(token, ec, Message{}); });
  }
}

void request_mux::fail_all(std::error_code reason) {
  asio::post(strand_, [self = shared_from_this(), reason] {
    std::vector<std::uint64_t> tokens;
    {
      std::lock_guard lock(self->table_mutex_);
      tokens.reserve(self->table_.size());
      for (const auto& [token, entry] : self->table_) tokens.push_back(token);
    }
    for (auto token : tokens) self->finish(token, reason, Message{});
  });
}

// ---------------------------------------------------------------------------------------------
// connection_core

connection_core::connection_core(asio::any_io_executor executor, NatsConfig config)
    : executor_(std::move(executor)), strand_(asio::make_strand(executor_)), config_(std::move(config)) {
  publish_link_.kind = link_kind::publish;
  publish_link_.core = this;
  request_link_.kind = link_kind::request;
  request_link_.core = this;
}

connection_core::~connection_core() { close_links(); }

bool connection_core::connected() const noexcept { return connected_.load(std::memory_order_acquire); }

std::error_code connection_core::connect_link(link& l) {
  natsOptions* raw_options = nullptr;
  if (natsOptions_Create(&raw_options) != NATS_OK) return errc::not_connected;
  options_handle options(raw_options);
  natsOptions* o = options.get();

  std::vector<const char*> servers;
  for (const auto& url : config_.servers) servers.push_back(url.c_str());
  natsStatus s = natsOptions_SetServers(o, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK && !config_.name.empty()) {
    const std::string name = config_.name + (l.kind == link_kind::request ? "/request" : "");
    s = natsOptions_SetName(o, name.c_str());
  }
  if (s == NATS_OK && !config_.user.empty()) s = natsOptions_SetUserInfo(o, config_.user.c_str(), config_.password.c_str());
  if (s == NATS_OK && !config_.token.empty()) s = natsOptions_SetToken(o, config_.token.c_str());
  if (s == NATS_OK && !config_.credentials_file.empty())
    s = natsOptions_SetUserCredentialsFromFiles(o, config_.credentials_file.c_str(), nullptr);
  if (s == NATS_OK && !config_.nkey_seed_file.empty()) {
    // cnats reads the seed from the file again to sign each connect nonce, but it also needs the
    // user's public key, which it cannot derive itself. connect() checked the file already; it
    // can still have changed since.
    std::string problem;
    const std::string public_key = user_public_key_from_seed_file(config_.nkey_seed_file, problem);
    if (public_key.empty()) {
      logger()->error("{}", problem);
      return errc::invalid_argument;
    }
    s = natsOptions_SetNKeyFromSeed(o, public_key.c_str(), config_.nkey_seed_file.c_str());
  }

  const auto& tls = config_.tls;
  const bool secure = tls.enabled || !tls.ca_file.empty() || !tls.cert_file.empty();
  if (s == NATS_OK && secure) s = natsOptions_SetSecure(o, true);
  if (s == NATS_OK && !tls.ca_file.empty()) s = natsOptions_LoadCATrustedCertificates(o, tls.ca_file.c_str());
  if (s == NATS_OK && !tls.cert_file.empty())
    s = natsOptions_LoadCertificatesChain(o, tls.cert_file.c_str(), tls.key_file.c_str());
  if (s == NATS_OK && secure && !tls.verify_server) s = natsOptions_SkipServerVerification(o, true);
  if (s == NATS_OK && !tls.expected_hostname.empty()) s = natsOptions_SetExpectedHostname(o, tls.expected_hostname.c_str());

  const auto& rc = config_.reconnect;
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(o, rc.enabled);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, rc.max_attempts);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, rc.wait.count());
  if (s == NATS_OK) s = natsOptions_SetReconnectJitter(o, rc.jitter.count(), rc.jitter.count());
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(o, static_cast<int>(rc.buffer_bytes));
  if (s == NATS_OK) s = natsOptions_SetTimeout(o, config_.connect_timeout.count());
  if (s == NATS_OK) s = natsOptions_SetPingInterval(o, config_.ping_interval.count());
  if (s == NATS_OK) s = natsOptions_SetNoEcho(o, config_.no_echo);
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(o, config_.retry_on_failed_connect, nullptr, nullptr);
  if (s == NATS_OK) s = natsOptions_UseGlobalMessageDelivery(o, true);
  if (s == NATS_OK && l.kind == link_kind::request) s = natsOptions_SetSendAsap(o, true);
  detach_callbacks(l);
  l.callbacks = new_callback_target(l);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(o, &on_disconnected, l.callbacks);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(o, &on_reconnected, l.callbacks);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(o, &on_closed, l.callbacks);
  if (s == NATS_OK) s = natsOptions_SetLameDuckModeCB(o, &on_lame_duck, l.callbacks);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(o, &on_error, l.callbacks);
  if (s != NATS_OK) return make_nats_error_code(s);

  natsConnection* raw_connection = nullptr;
  s = natsConnection_Connect(&raw_connection, o);
  if (s != NATS_OK) return make_nats_error_code(s);
  l.connection.reset(raw_connection);
  {
    std::lock_guard lock(l.closed_mutex);
    l.closed = false;
  }

  if (l.kind == link_kind::publish) {
    known_max_payload_.store(natsConnection_GetMaxPayload(raw_connection), std::memory_order_relaxed);
  }
  l.mux = std::make_shared<request_mux>(*this, strand_);
  return l.mux->start(raw_connection);
}

std::string connection_core::credential_files_problem() const {
  std::string problem = detail::credential_files_problem(config_);
  if (!problem.empty()) logger()->error("connect failed: {}", problem);
  return problem;
}

void connection_core::async_connect(completion<std::error_code> done) {
  if (connected()) {
    done.complete({});
    return;
  }
  asio::post(blocking_pool(), [self = shared_from_this(), done = std::move(done)]() mutable {
    std::error_code ec = self->connect_link(self->publish_link_);
    if (!ec) ec = self->connect_link(self->request_link_);
    std::string servers;
    for (const auto& url : self->config_.servers) {
      if (!servers.empty()) servers += ',';
      servers += redact_url(url);
    }
    if (ec) {
      logger()->error("connect to {} failed: {} ({})", servers, ec.message(), last_error_text(NATS_OK));
      self->close_links();
    } else {
      self->closing_.store(false, std::memory_order_release);
      self->connected_.store(true, std::memory_order_release);
      logger()->info("connected to {}", servers);
    }
    // Drop this thread's reference first, so the last one is the caller's and the core is
    // destroyed on the caller's thread, never here while the process exits.
    self.reset();
    done.complete(ec);
  });
}

void connection_core::close_links() {
  closing_.store(true, std::memory_order_release);
  connected_.store(false, std::memory_order_release);
  known_max_payload_.store(0, std::memory_order_relaxed);
  for (link* l : {&publish_link_, &request_link_}) {
    if (!l->connection) continue;
    if (l->mux) l->mux->fail_all(errc::connection_closed);
    natsConnection_Close(l->connection.get());
    // cnats calls the closed callback from its own thread with `l` as closure; wait for it so
    // the link outlives every callback.
    std::unique_lock lock(l->closed_mutex);
    l->closed_cv.wait_for(lock, std::chrono::seconds(5), [l] { return l->closed; });
  }
  // Closed subscriptions report their end from a cnats thread; wait for those reports so none
  // reaches the executor after close() returned.
  if (!subscriptions_->wait_until_none(std::chrono::seconds(5))) {
    logger()->warn("close: cnats did not complete every subscription within 5 s");
  }
  for (link* l : {&publish_link_, &request_link_}) {
    detach_callbacks(*l);
    l->mux.reset();
    l->connection.reset();
  }
  std::lock_guard lock(jetstream_mutex_);
  jetstream_.reset();
}

void connection_core::close() {
  if (!publish_link_.connection && !request_link_.connection) return;
  // Close synchronously: cnats closes without waiting on the network, and a close on the blocking
  // pool could race with the destructor.
  close_links();
}

void connection_core::async_drain(std::chrono::milliseconds timeout, completion<std::error_code> done) {
  if (!connected()) {
    done.complete(errc::not_connected);
    return;
  }
  closing_.store(true, std::memory_order_release);
  auto shared_done = std::make_shared<completion<std::error_code>>(std::move(done));
  asio::post(blocking_pool(), [self = shared_from_this(), timeout, shared_done]() mutable {
    std::error_code result;
    for (link* l : {&self->publish_link_, &self->request_link_}) {
      const natsStatus s = natsConnection_DrainTimeout(l->connection.get(), timeout.count());
      if (s != NATS_OK && !result) result = make_nats_error_code(s);
    }
    for (link* l : {&self->publish_link_, &self->request_link_}) {
      std::unique_lock lock(l->closed_mutex);
      if (!l->closed_cv.wait_for(lock, timeout + std::chrono::seconds(1), [l] { return l->closed; }) && !result)
        result = errc::timeout;
    }
    self->connected_.store(false, std::memory_order_release);
    self.reset();  // as in async_connect: the caller's reference is the last one
    shared_done->complete(result);
  });
}

std::error_code connection_core::publish(link_kind which, const OutgoingMessage& msg) {
  natsConnection* nc = native(which);
  if (nc == nullptr || !connected()) return errc::not_connected;
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, msg.subject.c_str(), msg.reply.empty() ? nullptr : msg.reply.c_str(),
                                msg.data.data(), static_cast<int>(msg.data.size()));
  message_handle outgoing(raw);
  for (const auto& [name, value] : msg.headers) {
    if (s != NATS_OK) break;
    s = natsMsgHeader_Add(outgoing.get(), name.c_str(), value.c_str());
  }
  if (s == NATS_OK) s = natsConnection_PublishMsg(nc, outgoing.get());
  return publish_error_code(s);
}

std::error_code connection_core::publish(link_kind which, std::string_view subject, std::string_view data) {
  natsConnection* nc = native(which);
  if (nc == nullptr || !connected()) return errc::not_connected;
  // cnats wants a NUL-terminated subject. Most subjects fit the stack buffer, which spares the
  // hot path an allocation; longer ones are copied to the heap.
  char buffer[256];
  std::string long_subject;
  const char* terminated = buffer;
  if (subject.size() < sizeof(buffer)) {
    std::memcpy(buffer, subject.data(), subject.size());
    buffer[subject.size()] = '\0';
  } else {
    long_subject.assign(subject);
    terminated = long_subject.c_str();
  }
  return publish_error_code(natsConnection_Publish(nc, terminated, data.data(), static_cast<int>(data.size())));
}

void connection_core::async_flush(completion<std::error_code> done) {
  if (!connected()) {
    done.complete(errc::not_connected);
    return;
  }
  asio::post(blocking_pool(), [self = shared_from_this(), done = std::move(done)]() mutable {
    natsConnection* nc = self->native(link_kind::publish);
    const auto timeout = self->config_.request_timeout.count();
    const std::error_code result = nc == nullptr ? make_error_code(errc::not_connected)
                                                 : make_nats_error_code(natsConnection_FlushTimeout(nc, timeout));
    self.reset();  // as in async_connect: the caller's reference is the last one
    done.complete(result);
  });
}

void connection_core::async_request(link_kind which, const OutgoingMessage& msg, std::chrono::milliseconds timeout,
                                    request_mux::reply_completion done, asio::cancellation_slot slot) {
  link& l = which == link_kind::publish ? publish_link_ : request_link_;
  if (!connected() || !l.mux) {
    done.complete(errc::not_connected, Message{});
    return;
  }
  l.mux->async_request(l.connection.get(), msg, timeout, std::move(done), slot);
}

std::shared_ptr<subscription_state> connection_core::subscribe(const std::string& subject,
                                                               const std::string& queue_group,
                                                               std::size_t max_pending, std::error_code& ec) {
  natsConnection* nc = native(link_kind::publish);
  if (nc == nullptr || !connected()) {
    ec = errc::not_connected;
    return nullptr;
  }
  auto state = std::make_shared<subscription_state>(executor_, subject, queue_group,
                                                    max_pending == 0 ? config_.max_pending_messages : max_pending,
                                                    subscriptions_);
  ec = state->start(nc);
  if (ec) return nullptr;
  return state;
}

natsConnection* connection_core::native(link_kind which) const noexcept {
  return (which == link_kind::publish ? publish_link_ : request_link_).connection.get();
}

jsCtx* connection_core::native_jetstream(std::error_code& ec) {
  std::lock_guard lock(jetstream_mutex_);
  if (!jetstream_) {
    natsConnection* nc = native(link_kind::publish);
    if (nc == nullptr) {
      ec = errc::not_connected;
      return nullptr;
    }
    jsCtx* raw = nullptr;
    const natsStatus s = natsConnection_JetStream(&raw, nc, nullptr);
    if (s != NATS_OK) {
      ec = make_nats_error_code(s);
      return nullptr;
    }
    jetstream_.reset(raw);
  }
  return jetstream_.get();
}

std::int64_t connection_core::max_payload() const noexcept {
  natsConnection* nc = native(link_kind::publish);
  return nc == nullptr ? 0 : natsConnection_GetMaxPayload(nc);
}

std::string connection_core::new_inbox() const {
  char* raw = nullptr;
  if (natsInbox_Create(&raw) != NATS_OK) return {};
  inbox_handle inbox(raw);
  return inbox.get();
}

void connection_core::set_event_handler(event_handler handler) {
  std::lock_guard lock(event_mutex_);
  event_handler_ = std::move(handler);
}

void connection_core::emit(ConnectionEvent event) {
  std::lock_guard lock(event_mutex_);
  if (!event_handler_) return;
  asio::post(executor_, [handler = event_handler_, event = std::move(event)] { handler(event); });
}

// ---------------------------------------------------------------------------------------------
// cnats callbacks: they run on cnats threads, log and hand the event to the executor.

namespace {

std::string connected_url(natsConnection* nc) {
  char buffer[256] = {};
  if (natsConnection_GetConnectedUrl(nc, buffer, sizeof(buffer)) != NATS_OK) return {};
  return redact_url(buffer);
}

}  // namespace

void connection_core::on_disconnected(natsConnection* nc, void* closure) {
  auto* callbacks = static_cast<callback_target*>(closure);
  std::lock_guard callbacks_lock(callbacks->mutex);
  link* l = callbacks->target;
  if (l == nullptr) return;  // the Connection is gone
  if (l->core->closing_.load(std::memory_order_acquire) || natsConnection_IsClosed(nc)) {
    logger()->debug("{} link disconnected while closing", link_name(l->kind));
    return;
  }
  // cnats often no longer knows the URL once the socket is gone.
  const std::string url = connected_url(nc);
  logger()->warn("{} link disconnected{}; reconnecting", link_name(l->kind), url.empty() ? "" : " from " + url);
  l->core->emit({ConnectionEventType::disconnected, {}, url, link_name(l->kind)});
}

void connection_core::on_reconnected(natsConnection* nc, void* closure) {
  auto* callbacks = static_cast<callback_target*>(closure);
  std::lock_guard callbacks_lock(callbacks->mutex);
  link* l = callbacks->target;
  if (l == nullptr) return;  // the Connection is gone
  if (l->kind == link_kind::publish) {
    // The new server may have another max_payload.
    l->core->known_max_payload_.store(natsConnection_GetMaxPayload(nc), std::memory_order_relaxed);
  }
  logger()->info("{} link reconnected to {}", link_name(l->kind), connected_url(nc));
  l->core->emit({ConnectionEventType::reconnected, {}, connected_url(nc), link_name(l->kind)});
}

void connection_core::on_closed(natsConnection*, void* closure) {
  auto* callbacks = static_cast<callback_target*>(closure);
  std::lock_guard callbacks_lock(callbacks->mutex);
  link* l = callbacks->target;
  if (l == nullptr) return;  // the Connection is gone
  logger()->info("{} link closed", link_name(l->kind));
  l->core->connected_.store(false, std::memory_order_release);
  if (l->mux) l->mux->fail_all(errc::connection_closed);
  l->core->emit({ConnectionEventType::closed, {}, {}, link_name(l->kind)});
  std::lock_guard lock(l->closed_mutex);
  l->closed = true;
  l->closed_cv.notify_all();
}

void connection_core::on_lame_duck(natsConnection* nc, void* closure) {
  auto* callbacks = static_cast<callback_target*>(closure);
  std::lock_guard callbacks_lock(callbacks->mutex);
  link* l = callbacks->target;
  if (l == nullptr) return;  // the Connection is gone
  logger()->warn("server {} entered lame duck mode; the {} link will move to another server", connected_url(nc),
                 link_name(l->kind));
  l->core->emit({ConnectionEventType::lame_duck, {}, connected_url(nc), link_name(l->kind)});
}

void connection_core::on_error(natsConnection* nc, natsSubscription* sub, natsStatus status, void* closure) {
  auto* callbacks = static_cast<callback_target*>(closure);
  std::lock_guard callbacks_lock(callbacks->mutex);
  link* l = callbacks->target;
  if (l == nullptr) return;  // the Connection is gone
  std::string detail;
  const char* text = nullptr;
  if (natsConnection_GetLastError(nc, &text) != NATS_OK && text != nullptr) detail = text;
  if (sub != nullptr) {
    const char* subject = natsSubscription_GetSubject(sub);
    if (subject != nullptr) detail += std::string(detail.empty() ? "" : "; ") + "subject " + subject;
  }
  const auto ec = make_nats_error_code(status);
  logger()->error("asynchronous error on the {} link: {} {}", link_name(l->kind), ec.message(), detail);
  l->core->emit({ConnectionEventType::error, ec, detail, link_name(l->kind)});
}

}  // namespace noesis::ship::detail

namespace noesis::ship {

const char* to_string(ConnectionEventType type) noexcept {
  switch (type) {
    case ConnectionEventType::disconnected: return "disconnected";
    case ConnectionEventType::reconnected: return "reconnected";
    case ConnectionEventType::closed: return "closed";
    case ConnectionEventType::error: return "error";
    case ConnectionEventType::lame_duck: return "lame_duck";
  }
  return "unknown";
}

std::string default_nats_url() {
  const char* url = std::getenv("NATS_URL");
  if (url != nullptr && *url != '\0') return url;
  return "nats://localhost:4222";
}

}  // namespace noesis::ship
