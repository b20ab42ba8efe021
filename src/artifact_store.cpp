#include <noesis/ship/artifact_store.hpp>

#include <noesis/ship/error.hpp>
#include <noesis/ship/timestamp.hpp>

namespace noesis::ship {

namespace {

constexpr std::string_view type_prefix = "type=";
constexpr std::string_view task_separator = ", expedition=";

}  // namespace

std::string artifact_description(std::string_view type, const std::optional<std::string>& task) {
  std::string description = std::string(type_prefix) + std::string(type);
  if (task) description += std::string(task_separator) + *task;
  return description;
}

std::optional<ArtifactInfo> parse_artifact_description(std::string_view description) {
  if (!description.starts_with(type_prefix)) return std::nullopt;
  description.remove_prefix(type_prefix.size());
  ArtifactInfo info;
  // NOTE: a type containing ", expedition=" cannot be told apart from a task; the first
  // occurrence is taken as the separator.
  const auto separator = description.find(task_separator);
  if (separator == std::string_view::npos) {
    info.type = std::string(description);
    return info;
  }
  info.type = std::string(description.substr(0, separator));
  info.task = std::string(description.substr(separator + task_separator.size()));
  return info;
}

ArtifactStore::ArtifactStore(Connection conn, ArtifactsConfig config)
    : store_(std::move(conn), [&config] {
        ObjectStoreConfig store_config;
        store_config.bucket = std::move(config.bucket);
        store_config.storage = config.storage;
        return store_config;
      }()) {}

asio::awaitable<ObjectMeta> ArtifactStore::do_store(ObjectStore store, std::string name, std::string bytes,
                                                   std::string type, std::optional<std::string> task) {
  if (type.empty() || type.find(task_separator) != std::string::npos) {
    throw error(errc::invalid_argument, "store artifact '" + name + "': type '" + type +
                                            "' is invalid; use a non-empty type without \"" +
                                            std::string(task_separator) + "\"");
  }
  std::string description = artifact_description(type, task);
  ObjectMeta meta = co_await store.put(std::move(name), std::move(bytes), std::move(description));
  co_return meta;
}

asio::awaitable<std::vector<ArtifactInfo>> ArtifactStore::do_list(ObjectStore store, ArtifactFilter filter) {
  std::vector<ObjectInfo> objects = co_await store.list();
  std::vector<ArtifactInfo> artifacts;
  for (const auto& object : objects) {
    auto artifact = parse_artifact_description(object.description);
    if (!artifact) continue;
    if (!filter.type.empty() && artifact->type != filter.type) continue;
    if (!filter.task.empty() && artifact->task != filter.task) continue;
    artifact->name = object.name;
    artifact->size = object.size;
    artifact->digest = object.digest;
    artifact->created = format_rfc3339(object.mtime);
    artifacts.push_back(std::move(*artifact));
  }
  co_return artifacts;
}

}  // namespace noesis::ship
