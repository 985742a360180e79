// Result<T>: expected failures as values (timeouts, parse errors, bad requests).
// Written here because C++20 has no std::expected and Debian 12 packages no tl::expected;
// the API mirrors std::expected so the move to C++23 is mechanical.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace equalis {

enum class ErrorCode {
  kInvalidArgument,  // caller passed something malformed
  kOutOfRange,       // a value outside its allowed range
  kNotFound,
  kIo,          // file or database error
  kTimeout,     // a device did not answer in time
  kProtocol,    // a frame or message that does not parse
  kUnavailable  // a component that is not running
};

const char* errorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInvalidArgument;
  std::string message;
};

inline Error makeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  T valueOr(T fallback) const { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error)
      : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace equalis
