#include "crypto/crypto.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

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

RC_GTEST_PROP(CryptoProperty, AeadRoundTrips, (const std::string& data, const std::string& ad)) {
  RC_ASSERT(crypto::Init());
  std::string key(32, '\x07');
  RC_ASSERT(crypto::AeadDecrypt(key, crypto::AeadEncrypt(key, data, ad), ad) == data);
}

}  // namespace
}  // namespace assent
