// Discord configuration: the bot token file is a secret (0600, never echoed), and every
// flag is checked at start-up.
#include "approvers/discord/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "crypto/crypto.h"
#include "store/temp_dir.h"

namespace assent::discord {
namespace {

constexpr const char* kToken = "MTIzNDU2Nzg5.secret-token_value";

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    WriteToken(std::string(kToken) + "\n", 0600);
    flags_.public_key_hex = std::string(64, 'a');
    flags_.bot_token_file = dir_.File("token");
    flags_.channel_id = "1100000000000000001";
    flags_.allowed_users = {"1200000000000000001"};
    flags_.host = "devbox";
  }
  void WriteToken(const std::string& content, mode_t mode) {
    std::ofstream(dir_.File("token"), std::ios::trunc) << content;
    ::chmod(dir_.File("token").c_str(), mode);
  }
  assent::testing::TempDir dir_;
  DiscordFlags flags_;
};

TEST_F(ConfigTest, ValidFlagsLoad) {
  auto c = LoadDiscordConfig(flags_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->bot_token, kToken);  // whitespace trimmed
  EXPECT_EQ(c->api_base, kDefaultApiBase);
  EXPECT_EQ(c->public_key.size(), 32u);
  EXPECT_EQ(c->mode, Mode::kInteractions);
  EXPECT_EQ(c->host, "devbox");
}

TEST_F(ConfigTest, ApiBaseTrailingSlashIsDropped) {
  flags_.api_base = "http://127.0.0.1:9/api/v10/";
  EXPECT_EQ(LoadDiscordConfig(flags_)->api_base, "http://127.0.0.1:9/api/v10");
  flags_.api_base = "ftp://x";
  EXPECT_FALSE(LoadDiscordConfig(flags_).ok());
}

TEST_F(ConfigTest, TokenFileReadableByOthersIsRefusedWithoutEchoingTheToken) {
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    WriteToken(kToken, mode);
    auto c = LoadDiscordConfig(flags_);
    ASSERT_FALSE(c.ok()) << std::oct << mode;
    EXPECT_NE(c.status().message().find("chmod 600"), std::string::npos);
    EXPECT_EQ(c.status().message().find(kToken), std::string::npos);
  }
  WriteToken(kToken, 0400);
  EXPECT_TRUE(LoadDiscordConfig(flags_).ok());
}

TEST_F(ConfigTest, MissingEmptyOrBinaryTokenFileIsRefused) {
  flags_.bot_token_file = dir_.File("nope");
  EXPECT_FALSE(LoadDiscordConfig(flags_).ok());
  flags_.bot_token_file = dir_.File("token");
  WriteToken(" \n", 0600);
  EXPECT_FALSE(LoadDiscordConfig(flags_).ok());
  WriteToken("abc\ndef", 0600);
  auto c = LoadDiscordConfig(flags_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().find("abc"), std::string::npos);
}

TEST_F(ConfigTest, OversizedTokenFileIsRefused) {
  WriteToken(std::string(kBotTokenFileBytesMax, 'a'), 0600);
  EXPECT_TRUE(LoadDiscordConfig(flags_).ok());
  WriteToken(std::string(kBotTokenFileBytesMax + 1, 'a'), 0600);
  EXPECT_FALSE(LoadDiscordConfig(flags_).ok());
}

TEST_F(ConfigTest, PublicKeyMustBe64Hex) {
  flags_.public_key_hex = std::string(62, 'a');
  EXPECT_FALSE(LoadDiscordConfig(flags_).ok());
  flags_.public_key_hex = std::string(64, 'g');
  EXPECT_FALSE(LoadDiscordConfig(flags_).ok());
  flags_.public_key_hex = "";
  EXPECT_FALSE(LoadDiscordConfig(flags_).ok());  // required for interactions
  flags_.mode = "reactions";
  EXPECT_TRUE(LoadDiscordConfig(flags_).ok());  // optional for reactions
}

TEST_F(ConfigTest, SnowflakesAndModeAreChecked) {
  flags_.channel_id = "general";
  EXPECT_FALSE(LoadDiscordConfig(flags_).ok());
  flags_.channel_id = "1100000000000000001";
  flags_.allowed_users = {"12a"};
  EXPECT_FALSE(LoadDiscordConfig(flags_).ok());
  flags_.allowed_users = {};
  EXPECT_FALSE(LoadDiscordConfig(flags_).ok());
  flags_.allowed_users = {"1"};
  flags_.mode = "webhooks";
  EXPECT_FALSE(LoadDiscordConfig(flags_).ok());
}

TEST(SnowflakeTest, DigitsOnlyUpTo20) {
  EXPECT_TRUE(IsSnowflake("1"));
  EXPECT_TRUE(IsSnowflake(std::string(20, '9')));
  EXPECT_FALSE(IsSnowflake(std::string(21, '9')));
  EXPECT_FALSE(IsSnowflake(""));
  EXPECT_FALSE(IsSnowflake("-1"));
}

}  // namespace
}  // namespace assent::discord
