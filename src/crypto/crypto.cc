#include "crypto/crypto.h"

#include <sodium.h>

#include <vector>

namespace assent::crypto {

namespace {
const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// True when every byte of text is in the variant's alphabet ('=' only for the padded
// one). libsodium 1.0.18's sodium_base642bin decodes every byte >= 0x80 as 63, so the
// alphabet is checked here first (fuzz: base64-accepts-high-bytes).
bool InBase64Alphabet(std::string_view text, int variant) {
  const bool url = variant == sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    (url ? (c == '-' || c == '_') : (c == '+' || c == '/' || c == '='));
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> Base64DecodeVariant(std::string_view text, int variant) {
  if (!InBase64Alphabet(text, variant)) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t out_len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(U(out), out.size(), text.data(), text.size(), nullptr, &out_len,
                        &end, variant) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(out_len);
  return out;
}

std::string Base64EncodeVariant(std::string_view data, int variant) {
  std::string out(sodium_base64_encoded_len(data.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), U(data), data.size(), variant);
  out.resize(out.size() - 1);  // drop the terminating NUL
  return out;
}
}  // namespace

bool Init() { return sodium_init() >= 0; }

void SystemRandom::Fill(uint8_t* out, size_t n) { randombytes_buf(out, n); }

std::string Blake2b256(std::string_view data) {
  std::string out(kHashBytes, '\0');
  crypto_generichash(U(out), out.size(), U(data), data.size(), nullptr, 0);
  return out;
}

std::string Blake2b256Hex(std::string_view data) { return HexEncode(Blake2b256(data)); }

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string AeadEncrypt(std::string_view key, std::string_view plaintext,
                        std::string_view ad) {
  if (key.size() != kAeadKeyBytes) return {};
  constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  std::string out(kNonce + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES,
                  '\0');
  randombytes_buf(out.data(), kNonce);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(U(out) + kNonce, &clen, U(plaintext),
                                             plaintext.size(), U(ad), ad.size(), nullptr,
                                             U(out), U(key));
  out.resize(kNonce + clen);
  return out;
}

std::optional<std::string> AeadDecrypt(std::string_view key, std::string_view sealed,
                                       std::string_view ad) {
  constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (key.size() != kAeadKeyBytes || sealed.size() < kNonce + kTag) return std::nullopt;
  std::string out(sealed.size() - kNonce - kTag, '\0');
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          U(out), &mlen, nullptr, U(sealed) + kNonce, sealed.size() - kNonce, U(ad),
          ad.size(), U(sealed), U(key)) != 0) {
    Wipe(out);
    return std::nullopt;
  }
  out.resize(mlen);
  return out;
}

std::optional<std::string> SealTo(std::string_view public_key, std::string_view plaintext) {
  if (public_key.size() != kBoxPublicKeyBytes) return std::nullopt;
  std::string out(plaintext.size() + crypto_box_SEALBYTES, '\0');
  if (crypto_box_seal(U(out), U(plaintext), plaintext.size(), U(public_key)) != 0)
    return std::nullopt;
  return out;
}

std::optional<std::string> SealOpen(std::string_view public_key,
                                    std::string_view secret_key, std::string_view sealed) {
  if (public_key.size() != kBoxPublicKeyBytes || secret_key.size() != kBoxSecretKeyBytes ||
      sealed.size() < crypto_box_SEALBYTES)
    return std::nullopt;
  std::string out(sealed.size() - crypto_box_SEALBYTES, '\0');
  if (crypto_box_seal_open(U(out), U(sealed), sealed.size(), U(public_key),
                           U(secret_key)) != 0)
    return std::nullopt;
  return out;
}

BoxKeyPair NewBoxKeyPair() {
  BoxKeyPair kp{std::string(kBoxPublicKeyBytes, '\0'), std::string(kBoxSecretKeyBytes, '\0')};
  crypto_box_keypair(U(kp.public_key), U(kp.secret_key));
  return kp;
}

bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != kSignPublicKeyBytes || signature.size() != kSignatureBytes)
    return false;
  return crypto_sign_verify_detached(U(signature), U(message), message.size(),
                                     U(public_key)) == 0;
}

std::string Base64Encode(std::string_view d) {
  return Base64EncodeVariant(d, sodium_base64_VARIANT_ORIGINAL);
}
std::optional<std::string> Base64Decode(std::string_view t) {
  return Base64DecodeVariant(t, sodium_base64_VARIANT_ORIGINAL);
}
std::string Base64UrlEncode(std::string_view d) {
  return Base64EncodeVariant(d, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
std::optional<std::string> Base64UrlDecode(std::string_view t) {
  return Base64DecodeVariant(t, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  size_t out_len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(U(out), out.size(), hex.data(), hex.size(), nullptr, &out_len,
                     &end) != 0 ||
      end != hex.data() + hex.size())
    return std::nullopt;
  out.resize(out_len);
  return out;
}

}  // namespace assent::crypto
