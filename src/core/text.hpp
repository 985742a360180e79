// Small text helpers shared by the parsers (configuration, scenarios): case folding, list
// joining and typo suggestions for unknown names.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace equalis::text {

std::string lower(std::string_view s);
// "a, b, c"
std::string joined(const std::vector<std::string>& items);
// Optimal-string-alignment distance (insertions, deletions, substitutions, adjacent
// transpositions), ignoring case: "blokcs" → "blocks" is 1.
std::size_t editDistance(std::string_view a, std::string_view b);
// The candidate closest to `word` if it is a plausible typo (distance ≤ 2; ≤ 1 for words of up
// to 3 characters), else nullopt.
std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string>& candidates);
// Value of a hexadecimal digit (0–15), or -1 for any other character.
int hexDigit(char c);
// ", did you mean 'x'?" for closest(), else "".
std::string didYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace equalis::text
