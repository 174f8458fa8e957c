// libsodium wrappers: the only place that includes <sodium.h>.
//
// Byte strings are std::string (binary-safe). Keys have fixed sizes checked at the
// call; a wrong size is an input error (returned), never an assert.
//
// Implements ASSENT-SEC (encryption at rest: XChaCha20-Poly1305 with associated data),
// ASSENT-REVEAL (crypto_box_seal to a one-time X25519 key), ASSENT-AUTH (token hashes,
// constant-time comparison) and ASSENT-DISC (Ed25519 signature verification).
//
// Thread safety: every function is safe to call concurrently after Init().
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/random.h"
#include "base/wipe.h"

namespace assent::crypto {

inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kBoxPublicKeyBytes = 32;
inline constexpr size_t kBoxSecretKeyBytes = 32;
inline constexpr size_t kSignPublicKeyBytes = 32;
inline constexpr size_t kSignatureBytes = 64;
inline constexpr size_t kHashBytes = 32;

// Must be called once before anything else; returns false if libsodium cannot start.
bool Init();

// The OS CSPRNG (randombytes_buf).
class SystemRandom final : public RandomSource {
 public:
  void Fill(uint8_t* out, size_t n) override;
};

// Unkeyed BLAKE2b with a 32-byte digest.
std::string Blake2b256(std::string_view data);
std::string Blake2b256Hex(std::string_view data);

// Constant-time equality; different lengths compare unequal (length is not secret).
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// XChaCha20-Poly1305 (IETF). Output is nonce || ciphertext+tag; a fresh random nonce per
// call. Decrypt returns nullopt on a wrong key, wrong associated data or any tampering.
std::string AeadEncrypt(std::string_view key, std::string_view plaintext,
                        std::string_view associated_data);
std::optional<std::string> AeadDecrypt(std::string_view key, std::string_view sealed,
                                       std::string_view associated_data);

// Anonymous sealed box to an X25519 public key.
std::optional<std::string> SealTo(std::string_view public_key, std::string_view plaintext);
std::optional<std::string> SealOpen(std::string_view public_key,
                                    std::string_view secret_key, std::string_view sealed);
struct BoxKeyPair {
  std::string public_key;
  std::string secret_key;
};
BoxKeyPair NewBoxKeyPair();

// Ed25519 detached signature check.
bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature);

// Encodings. Decoders return nullopt on malformed input: any byte outside the variant's
// alphabet (whitespace, bytes >= 0x80), bad padding or non-zero leftover bits; a text
// they accept is canonical (encoding the result gives the text back).
std::string Base64Encode(std::string_view data);             // standard, padded
std::optional<std::string> Base64Decode(std::string_view text);
std::string Base64UrlEncode(std::string_view data);          // url-safe, no padding
std::optional<std::string> Base64UrlDecode(std::string_view text);
std::optional<std::string> HexDecode(std::string_view hex);

// Overwrites the string's bytes, its whole capacity, and clears it (base/wipe.h).
inline void Wipe(std::string& s) { WipeString(s); }

}  // namespace assent::crypto
