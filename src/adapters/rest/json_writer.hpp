// A streaming JSON writer: appends to a string as it goes, without building an object tree
// (the views of many blocks and long history series are written straight into their bytes).
// Written here because the JSON library in use (nlohmann) has no writer of this kind.
//
//   JsonWriter w(out);
//   w.beginObject().key("time").value("…").key("blocks").beginArray() … .endArray().endObject();
//
// Commas are placed by the writer; strings are escaped as RFC 8259 requires, invalid UTF-8 is
// replaced by U+FFFD; numbers are written in their shortest round-trip form, a non-finite one as
// null. Misuse (a value where a key is due) is a programming error, caught by assertions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace equalis::rest {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
  JsonWriter& value(bool b);
  JsonWriter& value(double number);
  JsonWriter& value(std::int64_t number);
  JsonWriter& value(std::uint64_t number);
  JsonWriter& value(int number) { return value(static_cast<std::int64_t>(number)); }
  JsonWriter& null();
  // Already serialised JSON (a document rendered elsewhere), written as one value.
  JsonWriter& raw(std::string_view json);

  // key(name).value(v)
  template <typename T>
  JsonWriter& member(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

  // `text` as a JSON string literal, quotes included.
  static void appendString(std::string& out, std::string_view text);

 private:
  void separate();

  std::string& out_;
  // One entry per open object/array: whether it already holds an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

}  // namespace equalis::rest
