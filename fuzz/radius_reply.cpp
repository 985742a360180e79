// Fuzz target: a datagram the RADIUS client receives in reply to its Access-Request
// (auth::parseRadiusReply), and the role mapping of what passes. The request is the one of
// RFC 2865 §7.1 (identifier 0, its Request Authenticator, secret "xyzzy5461"). The first byte
// picks the mode: even, the rest as it comes (a forged reply: it must fail the Response
// Authenticator check); odd, the rest with its Response Authenticator made right first, so that
// the checks after it (Message-Authenticator) and the role mapping are reached too.
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/radius.hpp"

namespace {

constexpr std::uint8_t kIdentifier = 0;
constexpr std::string_view kSecret = "xyzzy5461";
constexpr equalis::auth::RadiusVector kRequestAuthenticator = {
    0x0f, 0x40, 0x3f, 0x94, 0x73, 0x97, 0x80, 0x57, 0xbd, 0x83, 0xd5, 0xcb, 0x98, 0xf4, 0x22, 0x7a};

// Writes the Response Authenticator a server with the secret would compute (RFC 2865 §3).
void sign(std::vector<std::uint8_t>& packet) {
  if (packet.size() < equalis::auth::kRadiusHeaderBytes) {
    return;
  }
  const std::size_t length =
      std::min<std::size_t>((std::size_t{packet[2]} << 8) | packet[3], packet.size());
  if (length < equalis::auth::kRadiusHeaderBytes) {
    return;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::array<std::uint8_t, 16> digest{};
  unsigned int size = 0;
  if (ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) == 1 &&
      EVP_DigestUpdate(ctx, packet.data(), 4) == 1 &&
      EVP_DigestUpdate(ctx, kRequestAuthenticator.data(), kRequestAuthenticator.size()) == 1 &&
      EVP_DigestUpdate(ctx, packet.data() + equalis::auth::kRadiusHeaderBytes,
                       length - equalis::auth::kRadiusHeaderBytes) == 1 &&
      EVP_DigestUpdate(ctx, kSecret.data(), kSecret.size()) == 1 &&
      EVP_DigestFinal_ex(ctx, digest.data(), &size) == 1) {
    std::copy(digest.begin(), digest.end(), packet.begin() + 4);
  }
  EVP_MD_CTX_free(ctx);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace equalis::auth;
  if (size == 0) {
    return 0;
  }
  std::vector<std::uint8_t> packet(data + 1, data + size);
  if ((data[0] & 1) != 0) {
    sign(packet);
  }
  const auto reply = parseRadiusReply(packet, kIdentifier, kRequestAuthenticator, kSecret);
  if (reply) {
    std::vector<std::string> values;
    for (const auto& attribute : reply->attributes) {
      if (attribute.type == radius_attribute::kFilterId ||
          attribute.type == radius_attribute::kClass) {
        values.push_back(attribute.value);
      }
    }
    (void)roleFromAccept(values, RoleAttribute::kFilterId, std::nullopt);
  }
  return 0;
}
