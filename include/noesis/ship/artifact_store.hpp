// ArtifactStore: build outputs and other files in the object store bucket `artifacts`, the Rust
// noesis-ship's ArtifactStore with listing and deletion added.
//
//   ArtifactStore artifacts(conn);
//   co_await artifacts.connect();
//   co_await artifacts.store_artifact("report.md", bytes, "report", "exp-42");
//   auto reports = co_await artifacts.list(ArtifactFilter{"report", ""});
//
// The type and task travel in the object's description, as the Rust library writes it:
// `type=<type>, expedition=<task>`, or `type=<type>` without a task.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <noesis/ship/object_store.hpp>

namespace noesis::ship {

struct ArtifactsConfig {
  std::string bucket = "artifacts";
  StorageType storage = StorageType::file;
};

// A stored artifact, as list() returns it.
struct ArtifactInfo {
  std::string name;
  std::string type;
  std::optional<std::string> task;  // the expedition, when one was given
  std::uint64_t size = 0;           // bytes
  std::string digest;               // "SHA-256=..."
  std::string created;              // RFC 3339: the time the server stored it
};

// Selects artifacts by type and task; an empty field matches any.
struct ArtifactFilter {
  std::string type;
  std::string task;
};

// Builds the description `type=<type>, expedition=<task>`, or `type=<type>` without a task.
std::string artifact_description(std::string_view type, const std::optional<std::string>& task);

// Reads a description written by artifact_description(); nullopt when it has another form.
// The result's name, size, digest and created are left empty.
std::optional<ArtifactInfo> parse_artifact_description(std::string_view description);

class ArtifactStore {
 public:
  explicit ArtifactStore(Connection conn, ArtifactsConfig config = ArtifactsConfig());

  ObjectStore& store() noexcept { return store_; }

  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    return store_.connect(std::forward<Token>(token));
  }

  // Stores `bytes` under `name`, replacing an artifact of that name. Throws
  // errc::invalid_argument for an empty type or a type containing ", expedition=", which list()
  // could not read back. Signature: void(std::error_code, ObjectMeta).
  template <typename Token = use_awaitable_t>
  auto store_artifact(std::string name, std::string bytes, std::string type, std::optional<std::string> task = {},
                      Token&& token = {}) {
    return detail::run_awaitable<ObjectMeta>(
        store_.jetstream().connection().get_executor(), std::forward<Token>(token),
        do_store(store_, std::move(name), std::move(bytes), std::move(type), std::move(task)));
  }

  // Reads an artifact; a missing one gives errc::object_not_found.
  template <typename Token = use_awaitable_t>
  auto get(std::string name, Token&& token = {}) {
    return store_.get(std::move(name), std::forward<Token>(token));
  }

  // Lists the artifacts matching `filter`, in the order they were last stored. Objects whose
  // description has another form are left out. Signature: void(std::error_code, std::vector<ArtifactInfo>).
  template <typename Token = use_awaitable_t>
  auto list(ArtifactFilter filter = ArtifactFilter(), Token&& token = {}) {
    return detail::run_awaitable<std::vector<ArtifactInfo>>(store_.jetstream().connection().get_executor(),
                                                            std::forward<Token>(token), do_list(store_, std::move(filter)));
  }

  // Deletes an artifact; a missing one gives errc::object_not_found.
  template <typename Token = use_awaitable_t>
  auto delete_artifact(std::string name, Token&& token = {}) {
    return store_.delete_object(std::move(name), std::forward<Token>(token));
  }

 private:
  static asio::awaitable<ObjectMeta> do_store(ObjectStore store, std::string name, std::string bytes, std::string type,
                                              std::optional<std::string> task);
  static asio::awaitable<std::vector<ArtifactInfo>> do_list(ObjectStore store, ArtifactFilter filter);

  ObjectStore store_;
};

}  // namespace noesis::ship
