// A move-only type-erased callable, because std::function needs copyable targets and asio
// completion handlers are move-only. std::move_only_function is C++23.
#pragma once

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace noesis::ship::detail {

template <typename Signature>
class unique_function;

template <typename R, typename... Args>
class unique_function<R(Args...)> {
 public:
  unique_function() = default;

  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, unique_function>>>
  unique_function(F&& f) : target_(std::make_unique<model<std::decay_t<F>>>(std::forward<F>(f))) {}

  explicit operator bool() const noexcept { return target_ != nullptr; }

  R operator()(Args... args) { return target_->call(std::forward<Args>(args)...); }

 private:
  struct concept_base {
    virtual ~concept_base() = default;
    virtual R call(Args... args) = 0;
  };

  template <typename F>
  struct model final : concept_base {
    explicit model(F&& f) : function(std::move(f)) {}
    explicit model(const F& f) : function(f) {}
    R call(Args... args) override { return std::invoke(function, std::forward<Args>(args)...); }
    F function;
  };

  std::unique_ptr<concept_base> target_;
};

}  // namespace noesis::ship::detail
