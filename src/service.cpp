// Lifecycle of a service: checking the configuration, subscribing, waiting for a stop request
// and shutting down. The request path is in service_requests.cpp.
#include <noesis/ship/detail/service_core.hpp>

#include <csignal>
#include <exception>
#include <set>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include <noesis/ship/detail/nuid.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/logger.hpp>
#include <noesis/ship/names.hpp>

namespace noesis::ship::detail {
namespace {

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

// Keeps the characters a micro name allows and replaces every other one with '_'.
std::string to_micro_name(std::string_view text) {
  std::string name(text);
  for (char& c : name) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                         c == '_';
    if (!allowed) c = '_';
  }
  return name;
}

// Logs what escaped a coroutine the service spawned; each of them catches its expected errors.
auto log_failure(std::string what) {
  return [what = std::move(what)](std::exception_ptr failure) {
    if (!failure) return;
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      logger()->error("{} failed: {}", what, e.what());
    }
  };
}

}  // namespace

service_core::service_core(std::string subject_prefix)
    : subject_prefix_(std::move(subject_prefix)), id_(next_nuid()) {
  validate_subject(subject_prefix_, SubjectUse::publish);
}

void service_core::set_handler(std::string command, handler_fn handler) {
  if (command.empty() || !is_valid_subject(subject_prefix_ + "." + command, SubjectUse::publish)) {
    throw error(errc::invalid_subject, "handler command '" + command +
                                           "' is invalid: use dot-separated tokens without spaces or wildcards");
  }
  std::lock_guard lock(mutex_);
  if (running_) {
    throw error(errc::invalid_argument, "handler command '" + command + "': register handlers before run()");
  }
  handlers_[std::move(command)] = std::move(handler);
}

bool service_core::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

bool service_core::stop_requested() const {
  std::lock_guard lock(mutex_);
  return stop_requested_;
}

void service_core::stop() {
  std::lock_guard lock(mutex_);
  stop_requested_ = true;
  if (strand_) {
    asio::post(*strand_, [self = shared_from_this()] {
      if (self->stop_timer_) self->stop_timer_->cancel();
    });
  }
}

std::string service_core::service_name() const {
  return config_.name.empty() ? to_micro_name(subject_prefix_) : config_.name;
}

void service_core::validate_config() const {
  validate_micro_name(service_name(), "service name");
  validate_micro_version(config_.version);
  if (!config_.queue_group.empty() && !is_valid_subject(config_.queue_group, SubjectUse::publish)) {
    throw error(errc::invalid_name, "queue group '" + config_.queue_group +
                                        "' is invalid: use dot-separated tokens without spaces or wildcards");
  }
  if (config_.max_in_flight == 0) {
    throw error(errc::invalid_argument, "max_in_flight '0' is invalid: allow at least 1 request in flight");
  }
  if (config_.shutdown_timeout.count() < 0) {
    throw error(errc::invalid_argument, "shutdown_timeout " + std::to_string(config_.shutdown_timeout.count()) +
                                            " ms is invalid; allowed: 0 ms or more");
  }
  if (!config_.event_prefix.empty() && !is_valid_subject(config_.event_prefix, SubjectUse::publish)) {
    throw error(errc::invalid_subject, "event prefix '" + config_.event_prefix +
                                           "' is invalid: use dot-separated tokens without spaces or wildcards");
  }
  if (config_.event_stream) validate(*config_.event_stream);
}

void service_core::begin_run(const asio::any_io_executor& strand) {
  std::lock_guard lock(mutex_);
  if (running_) {
    throw error(errc::invalid_argument, "run service '" + service_name() + "': it is already running");
  }
  running_ = true;
  strand_ = strand;
}

void service_core::end_run() {
  std::lock_guard lock(mutex_);
  running_ = false;
  stop_requested_ = false;
  strand_.reset();
}

void service_core::build_endpoints() {
  endpoints_.clear();
  endpoint_of_command_.clear();
  default_endpoint_.reset();

  // Commands may contain dots, which micro names do not allow, so `pr.merge` becomes the
  // endpoint `pr_merge`; a name taken twice gets a `-2`, `-3`, ... suffix.
  std::set<std::string> used;
  auto unique_name = [&used](const std::string& base) {
    std::string name = base;
    for (int n = 2; used.count(name) != 0; ++n) name = base + "-" + std::to_string(n);
    used.insert(name);
    return name;
  };
  auto add = [this](std::string name, std::string subject) {
    endpoint e;
    e.info.name = std::move(name);
    e.info.subject = std::move(subject);
    e.info.queue_group = config_.queue_group;
    endpoints_.push_back(std::move(e));
    return endpoints_.size() - 1;
  };

  for (const auto& [command, handler] : handlers_) {
    endpoint_of_command_[command] = add(unique_name(to_micro_name(command)), subject_prefix_ + "." + command);
  }
  if (default_handler_) default_endpoint_ = add(unique_name("default"), subject_prefix_ + ".>");
}

void service_core::subscribe_all(Connection& conn) {
  requests_ = conn.subscribe(subject_prefix_ + ".>", SubscribeOptions{config_.queue_group, config_.max_pending});

  // Control subjects have no queue group: every instance replies to discovery and monitoring requests.
  control_.clear();
  control_verbs_.clear();
  for (MicroVerb verb : {MicroVerb::ping, MicroVerb::info, MicroVerb::stats}) {
    for (const auto& subject : micro_control_subjects(verb, service_name(), id_)) {
      control_.push_back(conn.subscribe(subject));
      control_verbs_.push_back(verb);
    }
  }
}

asio::awaitable<void> service_core::run(std::shared_ptr<service_core> self) {
  self->validate_config();

  const bool own_connection = !self->connection_;
  std::optional<Connection> conn = self->connection_;
  if (own_connection) conn.emplace(co_await asio::this_coro::executor, NatsConfig(self->config_.nats_url));

  const asio::any_io_executor strand = asio::make_strand(conn->get_executor());
  self->begin_run(strand);

  std::exception_ptr failure;
  try {
    co_await asio::co_spawn(strand, self->serve(*conn, own_connection), asio::use_awaitable);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    // serve() releases them itself when it returns normally.
    co_await asio::co_spawn(strand, self->release_run_objects(std::chrono::seconds(5)), asio::use_awaitable);
  }
  self->end_run();
  if (failure) std::rethrow_exception(failure);
}

asio::awaitable<void> service_core::serve(Connection conn, bool own_connection) {
  if (!conn.is_connected()) co_await conn.connect();
  if (config_.event_stream) {
    JetStream js(conn);
    co_await js.ensure_stream(*config_.event_stream);
  }

  executor_ = co_await asio::this_coro::executor;
  idle_timer_.emplace(executor_);
  slot_timer_.emplace(executor_);
  stop_timer_.emplace(executor_);
  in_flight_ = 0;
  build_endpoints();
  subscribe_all(conn);
  co_await conn.flush();
  started_ = std::chrono::system_clock::now();

  std::optional<asio::signal_set> signals;
  if (config_.handle_signals) {
    signals.emplace(executor_, SIGINT, SIGTERM);
    signals->async_wait([self = shared_from_this()](const std::error_code& ec, int signal_number) {
      if (ec) return;
      logger()->info("service '{}' ({}) received signal {}, stopping", self->service_name(), self->id_, signal_number);
      self->stop();
    });
  }

  requests_done_ = false;
  asio::co_spawn(executor_, serve_requests(shared_from_this(), conn),
                 asio::bind_cancellation_slot(cancel_requests_.slot(), [self = shared_from_this()](std::exception_ptr e) {
                   log_failure("request loop of service '" + self->service_name() + "'")(e);
                   self->requests_done_ = true;
                   self->notify();
                 }));
  control_loops_ = control_.size();
  for (std::size_t i = 0; i < control_.size(); ++i) {
    asio::co_spawn(executor_, serve_control(shared_from_this(), conn, i),
                   [self = shared_from_this(), log = log_failure("control subscription '" + control_[i].subject() + "'")](
                       std::exception_ptr e) {
                     log(e);
                     --self->control_loops_;
                     self->notify();
                   });
  }

  logger()->info("service '{}' {} ({}) started on '{}.>', queue group '{}', {} endpoints", service_name(),
                 config_.version, id_, subject_prefix_, config_.queue_group, endpoints_.size());
  if (on_started_) {
    try {
      on_started_();
    } catch (const std::exception& e) {
      logger()->error("service '{}' ({}): start callback failed: {}", service_name(), id_, e.what());
    }
  }

  co_await wait_for_stop();
  if (signals) signals->cancel();
  co_await shut_down(conn, own_connection);
  co_await release_run_objects(std::chrono::seconds(5));
}

asio::awaitable<void> service_core::release_run_objects(std::chrono::milliseconds limit) {
  // Both loops end soon after shut_down(): their subscriptions are unsubscribed or drained, and
  // the request loop was cancelled if requests were still running at its deadline.
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (idle_timer_ && (!requests_done_ || control_loops_ > 0) && std::chrono::steady_clock::now() < deadline) {
    idle_timer_->expires_at(deadline);
    co_await idle_timer_->async_wait(as_tuple_awaitable);
  }
  if (!requests_done_ || control_loops_ > 0) {
    // The loops still use the timers and subscriptions, so they stay. NOTE: destroying the
    // builder after the io_context of this run is then unsafe.
    logger()->warn("service '{}' ({}): request or control loops still running {} ms after the stop", service_name(),
                   id_, limit.count());
    co_return;
  }
  idle_timer_.reset();
  slot_timer_.reset();
  stop_timer_.reset();
  requests_ = Subscription();
  control_.clear();
  executor_ = asio::any_io_executor();
}

asio::awaitable<void> service_core::wait_for_stop() {
  while (!stop_requested()) {
    stop_timer_->expires_at(asio::steady_timer::time_point::max());
    co_await stop_timer_->async_wait(as_tuple_awaitable);
  }
}

bool service_core::idle() const noexcept { return requests_done_ && in_flight_ == 0; }

void service_core::finish_one() {
  --in_flight_;
  notify();
}

void service_core::notify() {
  if (idle_timer_) idle_timer_->cancel();
  if (slot_timer_) slot_timer_->cancel();
}

asio::awaitable<void> service_core::shut_down(Connection conn, bool own_connection) {
  logger()->info("service '{}' ({}) stopping: no new requests, finishing those received", service_name(), id_);
  for (auto& sub : control_) sub.unsubscribe();

  // Draining unsubscribes at the server and still delivers the requests it already routed here,
  // so every request received before the stop gets its reply.
  try {
    requests_.drain();
  } catch (const std::exception& e) {
    logger()->warn("service '{}' ({}): draining '{}' failed, unsubscribing: {}", service_name(), id_,
                   requests_.subject(), e.what());
    requests_.unsubscribe();
  }

  const auto deadline = std::chrono::steady_clock::now() + config_.shutdown_timeout;
  while (!idle() && std::chrono::steady_clock::now() < deadline) {
    idle_timer_->expires_at(deadline);
    co_await idle_timer_->async_wait(as_tuple_awaitable);
  }
  if (!idle()) {
    logger()->warn("service '{}' ({}): {} requests still unfinished after {} ms, cancelling them", service_name(), id_,
                   in_flight_ + requests_.queued(), config_.shutdown_timeout.count());
    requests_.unsubscribe();
    cancel_requests_.emit(asio::cancellation_type::terminal);
  }

  if (on_shutdown_) {
    try {
      on_shutdown_();
    } catch (const std::exception& e) {
      logger()->error("service '{}' ({}): shutdown callback failed: {}", service_name(), id_, e.what());
    }
  }

  if (own_connection) {
    try {
      co_await conn.drain();
    } catch (const std::exception& e) {
      logger()->warn("service '{}' ({}): draining the connection failed: {}", service_name(), id_, e.what());
    }
  }
  logger()->info("service '{}' ({}) stopped", service_name(), id_);
}

}  // namespace noesis::ship::detail
