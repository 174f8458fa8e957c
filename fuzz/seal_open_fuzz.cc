// Fuzz harness: seal/open and the encodings around them (crypto/): the AEAD that keeps
// secrets at rest (ASSENT-SEC-005), the sealed box a reveal is delivered in
// (ASSENT-REVEAL), and the base64 / base64url / hex decoders every key, token hash and
// value passes through.
//
// The input (fuzz::Reader) gives an AEAD key, associated data, a plaintext, positions
// and bit masks for tampering, and leftover bytes fed straight to every decoder.
// Properties:
//   1. AEAD round trip: AeadDecrypt(k, AeadEncrypt(k, m, ad), ad) == m.
//   2. AEAD rejects every tampering: any one byte changed (nonce, ciphertext or tag),
//      the box truncated or extended, other associated data, another key, a key of the
//      wrong size.
//   3. Sealed box round trip to a key pair, and SealOpen refuses a box with any byte
//      changed, a truncated box, and the right box opened with another key pair.
//   4. Arbitrary bytes never open: neither AeadDecrypt nor SealOpen accepts the input's
//      leftover bytes (a forgery has probability 2^-128).
//   5. Encodings: Decode(Encode(x)) == x for base64, base64url and hex; and a decoder
//      that accepts a text decodes it canonically — re-encoding gives the text back
//      (hex: up to case), and the verdict and bytes agree with a small reference
//      decoder written here from RFC 4648. So no decoder accepts and mis-decodes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/crypto.h"
#include "fuzz_support.h"

namespace {

using assent::fuzz::Shown;
namespace crypto = assent::crypto;

// RFC 4648 reference: standard alphabet with '=' padding to a multiple of 4, or the
// URL-safe alphabet without padding. Leftover bits must be zero (canonical form).
std::optional<std::string> ReferenceBase64(std::string_view text, bool url) {
  const std::string alphabet =
      std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") +
      (url ? "-_" : "+/");
  size_t n = text.size();
  size_t pad = 0;
  if (!url) {
    if (n % 4 != 0) return std::nullopt;
    while (pad < 2 && n > 0 && text[n - 1] == '=') {
      --n;
      ++pad;
    }
  } else if (n % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t v = alphabet.find(text[i]);
    if (v == std::string::npos || text[i] == '\0') return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-zero leftover bits
  if (!url && (n % 4 == 1)) return std::nullopt;
  return out;
}

std::optional<std::string> ReferenceHex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

void CheckDecoders(std::string_view text) {
  {
    auto got = crypto::Base64Decode(text);
    auto ref = ReferenceBase64(text, /*url=*/false);
    FUZZ_CHECK(got.has_value() == ref.has_value() && (!got || *got == *ref),
               "Base64Decode and the RFC 4648 reference disagree on " + Shown(text) + ": " +
                   (got ? Shown(*got) : "refused") + " vs " + (ref ? Shown(*ref) : "refused"));
    if (got) FUZZ_CHECK(crypto::Base64Encode(*got) == text, "Base64Decode accepted a "
                                                            "non-canonical text: " + Shown(text));
  }
  {
    auto got = crypto::Base64UrlDecode(text);
    auto ref = ReferenceBase64(text, /*url=*/true);
    FUZZ_CHECK(got.has_value() == ref.has_value() && (!got || *got == *ref),
               "Base64UrlDecode and the RFC 4648 reference disagree on " + Shown(text) + ": " +
                   (got ? Shown(*got) : "refused") + " vs " + (ref ? Shown(*ref) : "refused"));
    if (got) FUZZ_CHECK(crypto::Base64UrlEncode(*got) == text, "Base64UrlDecode accepted a "
                                                               "non-canonical text: " + Shown(text));
  }
  {
    auto got = crypto::HexDecode(text);
    auto ref = ReferenceHex(text);
    FUZZ_CHECK(got.has_value() == ref.has_value() && (!got || *got == *ref),
               "HexDecode and the reference disagree on " + Shown(text));
    if (got) FUZZ_CHECK(assent::HexEncode(*got) == Lower(std::string(text)),
                        "HexDecode accepted a text it does not encode back: " + Shown(text));
  }
}

void CheckRoundTrips(const std::string& bytes) {
  FUZZ_CHECK(crypto::Base64Decode(crypto::Base64Encode(bytes)) == bytes, "base64 round trip");
  FUZZ_CHECK(crypto::Base64UrlDecode(crypto::Base64UrlEncode(bytes)) == bytes,
             "base64url round trip");
  FUZZ_CHECK(crypto::HexDecode(assent::HexEncode(bytes)) == bytes, "hex round trip");
}

struct Globals {
  crypto::BoxKeyPair alice, mallory;
  Globals() {
    FUZZ_CHECK(crypto::Init(), "libsodium did not start");
    alice = crypto::NewBoxKeyPair();
    mallory = crypto::NewBoxKeyPair();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Globals g;
  assent::fuzz::Reader in(data, size);
  std::string key(crypto::kAeadKeyBytes, '\0');
  for (char& c : key) c = static_cast<char>(in.Byte());
  const std::string ad = in.String(64);
  const std::string plain = in.String(512);
  const uint32_t where = in.U32();
  const uint8_t mask = static_cast<uint8_t>(in.Byte() | 1);  // never zero: a real change
  const std::string rest = in.Rest();

  // 1 and 2: AEAD.
  const std::string sealed = crypto::AeadEncrypt(key, plain, ad);
  FUZZ_CHECK(sealed.size() == 24 + plain.size() + 16, "AEAD output has the wrong size");
  auto opened = crypto::AeadDecrypt(key, sealed, ad);
  FUZZ_CHECK(opened && *opened == plain, "AEAD does not round-trip");
  std::string tampered = sealed;
  tampered[where % tampered.size()] ^= static_cast<char>(mask);
  FUZZ_CHECK(!crypto::AeadDecrypt(key, tampered, ad),
             "AEAD accepted a box with byte " + std::to_string(where % sealed.size()) + " changed");
  FUZZ_CHECK(!crypto::AeadDecrypt(key, sealed.substr(0, where % sealed.size()), ad),
             "AEAD accepted a truncated box");
  FUZZ_CHECK(!crypto::AeadDecrypt(key, sealed + static_cast<char>(mask), ad),
             "AEAD accepted an extended box");
  FUZZ_CHECK(!crypto::AeadDecrypt(key, sealed, ad + static_cast<char>(mask)),
             "AEAD accepted other associated data");
  std::string other_key = key;
  other_key[where % other_key.size()] ^= static_cast<char>(mask);
  FUZZ_CHECK(!crypto::AeadDecrypt(other_key, sealed, ad), "AEAD opened under another key");
  FUZZ_CHECK(!crypto::AeadDecrypt(key.substr(1), sealed, ad), "AEAD took a 31-byte key");
  FUZZ_CHECK(crypto::AeadEncrypt(key + "x", plain, ad).empty(), "AEAD sealed with a 33-byte key");

  // 3: sealed boxes.
  auto box = crypto::SealTo(g.alice.public_key, plain);
  FUZZ_CHECK(box.has_value(), "SealTo refused a valid public key");
  auto got = crypto::SealOpen(g.alice.public_key, g.alice.secret_key, *box);
  FUZZ_CHECK(got && *got == plain, "a sealed box does not open to its plaintext");
  std::string bad_box = *box;
  bad_box[where % bad_box.size()] ^= static_cast<char>(mask);
  FUZZ_CHECK(!crypto::SealOpen(g.alice.public_key, g.alice.secret_key, bad_box),
             "SealOpen accepted a box with byte " + std::to_string(where % box->size()) +
                 " changed");
  FUZZ_CHECK(!crypto::SealOpen(g.alice.public_key, g.alice.secret_key,
                               box->substr(0, where % box->size())),
             "SealOpen accepted a truncated box");
  FUZZ_CHECK(!crypto::SealOpen(g.mallory.public_key, g.mallory.secret_key, *box),
             "a sealed box opened for another key pair");
  FUZZ_CHECK(!crypto::SealTo(g.alice.public_key.substr(1), plain), "SealTo took a 31-byte key");
  // A public key from the input (possibly a low-order point): no crash, and if sealed,
  // the box is not openable by alice.
  if (auto odd = crypto::SealTo(key, plain))
    FUZZ_CHECK(key == g.alice.public_key ||
                   !crypto::SealOpen(g.alice.public_key, g.alice.secret_key, *odd),
               "a box sealed to another key opened for alice");

  // 4: arbitrary bytes never open.
  FUZZ_CHECK(!crypto::AeadDecrypt(key, rest, ad), "AEAD accepted arbitrary bytes: " + Shown(rest));
  FUZZ_CHECK(!crypto::SealOpen(g.alice.public_key, g.alice.secret_key, rest),
             "SealOpen accepted arbitrary bytes: " + Shown(rest));

  // 5: encodings.
  CheckRoundTrips(plain);
  CheckRoundTrips(rest);
  CheckDecoders(rest);
  CheckDecoders(plain);
  return 0;
}
