// RAII owners for cnats objects. Each handle calls the matching cnats destroy function.
#pragma once

#include <memory>

#include <nats/nats.h>

namespace noesis::ship::detail {

struct options_deleter {
  void operator()(natsOptions* p) const noexcept { natsOptions_Destroy(p); }
};
struct connection_deleter {
  void operator()(natsConnection* p) const noexcept { natsConnection_Destroy(p); }
};
struct subscription_deleter {
  void operator()(natsSubscription* p) const noexcept { natsSubscription_Destroy(p); }
};
struct message_deleter {
  void operator()(natsMsg* p) const noexcept { natsMsg_Destroy(p); }
};
struct jetstream_deleter {
  void operator()(jsCtx* p) const noexcept { jsCtx_Destroy(p); }
};
struct inbox_deleter {
  void operator()(char* p) const noexcept { natsInbox_Destroy(p); }
};

using options_handle = std::unique_ptr<natsOptions, options_deleter>;
using connection_handle = std::unique_ptr<natsConnection, connection_deleter>;
using subscription_handle = std::unique_ptr<natsSubscription, subscription_deleter>;
using message_handle = std::unique_ptr<natsMsg, message_deleter>;
using jetstream_handle = std::unique_ptr<jsCtx, jetstream_deleter>;
using inbox_handle = std::unique_ptr<char, inbox_deleter>;

}  // namespace noesis::ship::detail
