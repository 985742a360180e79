// The overload set for std::visit: std::visit(Overloaded{[](const A&) {…}, [](const B&) {…}}, v).
#pragma once

namespace equalis {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace equalis
