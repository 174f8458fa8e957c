#include "crypto/crypto.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <string>
#include <utility>

namespace assent {
namespace {

class CryptoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init()); }
};

TEST_F(CryptoTest, AeadRoundTripAndTamperDetection) {
  std::string key(32, 'k');
  std::string sealed = crypto::AeadEncrypt(key, "value", "sc_1|NAME");
  EXPECT_EQ(crypto::AeadDecrypt(key, sealed, "sc_1|NAME"), "value");
  EXPECT_FALSE(crypto::AeadDecrypt(key, sealed, "sc_1|OTHER"));         // wrong AD
  EXPECT_FALSE(crypto::AeadDecrypt(std::string(32, 'x'), sealed, "sc_1|NAME"));  // wrong key
  std::string tampered = sealed;
  tampered[tampered.size() - 1] ^= 1;
  EXPECT_FALSE(crypto::AeadDecrypt(key, tampered, "sc_1|NAME"));
  EXPECT_FALSE(crypto::AeadDecrypt(key, "short", "sc_1|NAME"));
  EXPECT_NE(crypto::AeadEncrypt(key, "value", "a"), crypto::AeadEncrypt(key, "value", "a"))
      << "fresh nonce per call";
}

TEST_F(CryptoTest, SealedBoxOpensOnlyWithTheRecipientKey) {
  auto kp = crypto::NewBoxKeyPair();
  auto other = crypto::NewBoxKeyPair();
  auto sealed = crypto::SealTo(kp.public_key, "hunter2");
  ASSERT_TRUE(sealed);
  EXPECT_EQ(crypto::SealOpen(kp.public_key, kp.secret_key, *sealed), "hunter2");
  EXPECT_FALSE(crypto::SealOpen(other.public_key, other.secret_key, *sealed));
  EXPECT_FALSE(crypto::SealTo("short", "x"));
}

TEST_F(CryptoTest, Base64RejectsMalformedInput) {
  EXPECT_EQ(crypto::Base64Decode("aGk="), "hi");
  EXPECT_FALSE(crypto::Base64Decode("aGk"));
  EXPECT_FALSE(crypto::Base64Decode("a Gk="));
  EXPECT_EQ(crypto::Base64UrlDecode("aGk"), "hi");
  EXPECT_FALSE(crypto::HexDecode("abc"));
  EXPECT_FALSE(crypto::HexDecode("zz"));
}

RC_GTEST_PROP(CryptoProperty, Base64RoundTrips, (const std::string& data)) {
  RC_ASSERT(crypto::Init());
  RC_ASSERT(crypto::Base64Decode(crypto::Base64Encode(data)) == data);
  RC_ASSERT(crypto::Base64UrlDecode(crypto::Base64UrlEncode(data)) == data);
}

TEST_F(CryptoTest, Base64RejectsBytesOutsideTheAlphabet) {
  // libsodium 1.0.18 decodes every byte >= 0x80 as 63: "\x80\x80\x80\x80" would give
  // ff ff ff (fuzz: base64-accepts-high-bytes).
  EXPECT_FALSE(crypto::Base64Decode("\x80\x80\x80\x80"));
  EXPECT_FALSE(crypto::Base64UrlDecode("\x80\x80\x80\x80"));
  EXPECT_FALSE(crypto::Base64Decode("\xc3\xbf\xc3\xbf"));  // "ÿÿ" in UTF-8
  EXPECT_FALSE(crypto::Base64Decode("AAE\xff"));
  EXPECT_FALSE(crypto::Base64UrlDecode("AAE\xff"));
  EXPECT_FALSE(crypto::Base64Decode(std::string("AA\0=", 4)));
  EXPECT_FALSE(crypto::Base64Decode("AA-_"));   // url alphabet in the standard variant
  EXPECT_FALSE(crypto::Base64UrlDecode("AA+/"));  // and the other way round
  EXPECT_FALSE(crypto::Base64UrlDecode("AA=="));  // the url variant has no padding
}

// RFC 4648 canonical spelling, written independently of the decoder: the variant's
// alphabet only, whole quanta (padded) or no length of 1 mod 4 (url, unpadded), padding
// only at the end of the last quantum, and zero leftover bits.
bool CanonicalBase64(const std::string& text, bool url) {
  const std::string alphabet =
      std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") +
      (url ? "-_" : "+/");
  size_t n = text.size();
  if (!url) {
    if (n % 4 != 0) return false;
    size_t pad = 0;
    while (pad < 2 && pad < n && text[n - 1 - pad] == '=') ++pad;
    n -= pad;
  } else if (n % 4 == 1) {
    return false;
  }
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t v = alphabet.find(text[i]);
    if (v == std::string::npos) return false;
    acc = (acc << 6 | static_cast<uint32_t>(v)) & 0xffff;
    bits += 6;
    if (bits >= 8) bits -= 8;
  }
  return (acc & ((1u << bits) - 1)) == 0;
}

// Texts near base64: encodings of arbitrary bytes, some with one byte replaced by an
// arbitrary one (high bytes included), and strings over the alphabets of both variants.
rc::Gen<std::string> NearBase64(bool url) {
  auto encoded = rc::gen::map(rc::gen::arbitrary<std::string>(), [url](const std::string& d) {
    return url ? crypto::Base64UrlEncode(d) : crypto::Base64Encode(d);
  });
  auto mutated = rc::gen::mapcat(encoded, [](const std::string& e) {
    if (e.empty()) return rc::gen::just(e);
    return rc::gen::map(
        rc::gen::pair(rc::gen::inRange<size_t>(0, e.size()), rc::gen::arbitrary<char>()),
        [e](const std::pair<size_t, char>& p) {
          std::string m = e;
          m[p.first] = p.second;
          return m;
        });
  });
  auto alphabetic = rc::gen::container<std::string>(
      rc::gen::elementOf(std::string("AQgw09+/-_=\x80\xff")));
  return rc::gen::oneOf(encoded, mutated, alphabetic);
}

RC_GTEST_PROP(CryptoProperty, Base64DecodesExactlyCanonicalText, ()) {
  RC_ASSERT(crypto::Init());
  for (bool url : {false, true}) {
    const std::string text = *NearBase64(url);
    auto got = url ? crypto::Base64UrlDecode(text) : crypto::Base64Decode(text);
    RC_ASSERT(got.has_value() == CanonicalBase64(text, url));
    if (got) RC_ASSERT((url ? crypto::Base64UrlEncode(*got) : crypto::Base64Encode(*got)) == text);
  }
}

RC_GTEST_PROP(CryptoProperty, AeadRoundTrips, (const std::string& data, const std::string& ad)) {
  RC_ASSERT(crypto::Init());
  std::string key(32, '\x07');
  RC_ASSERT(crypto::AeadDecrypt(key, crypto::AeadEncrypt(key, data, ad), ad) == data);
}

}  // namespace
}  // namespace assent
