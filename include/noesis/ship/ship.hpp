// The whole public API of noesis::ship in one include. Programs that use one block can include
// just its header instead (for example <noesis/ship/kv.hpp>), which compiles faster.
#pragma once

// Foundation: connection, messages, errors, JetStream.
#include <noesis/ship/config.hpp>
#include <noesis/ship/connection.hpp>
#include <noesis/ship/connection_event.hpp>
#include <noesis/ship/consumer_config.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/json.hpp>
#include <noesis/ship/logger.hpp>
#include <noesis/ship/message.hpp>
#include <noesis/ship/names.hpp>
#include <noesis/ship/stream_config.hpp>
#include <noesis/ship/subscription.hpp>
#include <noesis/ship/timestamp.hpp>
#include <noesis/ship/use_awaitable.hpp>

// Wire types shared with the Rust noesis-ship.
#include <noesis/ship/being_status.hpp>
#include <noesis/ship/channel_message.hpp>
#include <noesis/ship/event.hpp>
#include <noesis/ship/event_type.hpp>
#include <noesis/ship/object_meta.hpp>
#include <noesis/ship/ship_event.hpp>

// Building blocks.
#include <noesis/ship/artifact_store.hpp>
#include <noesis/ship/being_registry.hpp>
#include <noesis/ship/being_snapshots.hpp>
#include <noesis/ship/channels.hpp>
#include <noesis/ship/consumer_subscription.hpp>
#include <noesis/ship/durable_job_queue.hpp>
#include <noesis/ship/event_bus.hpp>
#include <noesis/ship/health_metrics.hpp>
#include <noesis/ship/job.hpp>
#include <noesis/ship/job_queue.hpp>
#include <noesis/ship/kv.hpp>
#include <noesis/ship/kv_entry.hpp>
#include <noesis/ship/object_store.hpp>
#include <noesis/ship/pubsub.hpp>
#include <noesis/ship/service.hpp>
#include <noesis/ship/service_args.hpp>
#include <noesis/ship/service_config.hpp>
#include <noesis/ship/ship_config.hpp>
