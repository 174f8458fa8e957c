// The approval message and the custom_id grammar (ASSENT-DISC-001, -006, -008).
#include "approvers/discord/message.h"

#include <gtest/gtest.h>

#include "discord/fakes.h"

namespace assent::discord {
namespace {

using nlohmann::json;
using testing::MakeRequest;

constexpr const char* kRid = "rq_00112233445566778899aabbccddeeff";

TEST(CustomIdTest, RoundTrips) {
  CustomId id{true, kRid, "0a1b2c"};
  std::string text = FormatCustomId(id);
  EXPECT_EQ(text, std::string("assent:approve:") + kRid + ":0a1b2c");
  EXPECT_EQ(ParseCustomId(text), id);
  CustomId deny{false, kRid, "ff"};
  EXPECT_EQ(ParseCustomId(FormatCustomId(deny)), deny);
  EXPECT_LE(FormatCustomId({true, kRid, std::string(24, 'a')}).size(),
            static_cast<size_t>(kCustomIdBytesMax));
}

TEST(CustomIdTest, RejectsAnythingElse) {
  const std::string rid = kRid;
  for (const std::string& bad : std::vector<std::string>{
           std::string(""),
           "assent:approve:" + rid,                     // no nonce
           "assent:approve:" + rid + ":",               // empty nonce
           "assent:maybe:" + rid + ":ab",               // unknown action
           "Assent:approve:" + rid + ":ab",             // prefix is case-sensitive
           "assent:approve:" + rid + ":AB",             // uppercase nonce
           "assent:approve:" + rid + ":ab:cd",          // extra field
           std::string("assent:approve:rq_0011:ab"),  // short request id
           std::string("assent:approve:gr_00112233445566778899aabbccddeeff:ab"),  // a grant
           "assent:approve:" + rid + ":" + std::string(65, 'a'),      // nonce too long
           "xassent:approve:" + rid + ":ab",
       })
    EXPECT_FALSE(ParseCustomId(bad)) << bad;
}

TEST(RenderTest, PendingRequestHasApproveAndDenyButtons) {
  json m = RenderRequestMessage(MakeRequest(kRid), {"devbox", Mode::kInteractions, "abcd"});
  ASSERT_EQ(m["components"].size(), 1u);
  EXPECT_EQ(m["components"][0]["type"], 1);
  auto buttons = m["components"][0]["components"];
  ASSERT_EQ(buttons.size(), 2u);
  EXPECT_EQ(buttons[0]["type"], 2);
  EXPECT_EQ(buttons[0]["style"], 3);
  EXPECT_EQ(buttons[0]["label"], "Approve");
  EXPECT_EQ(buttons[1]["style"], 4);
  EXPECT_EQ(buttons[1]["label"], "Deny");
  EXPECT_EQ(ParseCustomId(buttons[1]["custom_id"].get<std::string>())->approve, false);
  EXPECT_EQ(m["allowed_mentions"]["parse"], json::array());
}

TEST(RenderTest, FinishedRequestsHaveNoButtonsAndShowTheOutcome) {
  for (auto [state, word] : std::vector<std::pair<std::string, std::string>>{
           {"approved", "Approved"}, {"denied", "Denied"}, {"timed_out", "Timed out"},
           {"cancelled", "Cancelled"}}) {
    auto r = MakeRequest(kRid);
    r.state = state;
    json m = RenderRequestMessage(r, {"devbox", Mode::kInteractions, "abcd"});
    EXPECT_EQ(m["components"], json::array()) << state;
    EXPECT_NE(m["content"].get<std::string>().find(word), std::string::npos) << state;
  }
}

TEST(RenderTest, ReactionsModeHasNoButtonsAndSaysHowToVote) {
  json m = RenderRequestMessage(MakeRequest(kRid), {"devbox", Mode::kReactions, "abcd"});
  EXPECT_EQ(m["components"], json::array());
  EXPECT_NE(m["content"].get<std::string>().find("React"), std::string::npos);
}

TEST(RenderTest, UnboundRequestSaysSo) {
  auto r = MakeRequest(kRid);
  r.command.reset();
  json m = RenderRequestMessage(r, {"devbox", Mode::kInteractions, "abcd"});
  EXPECT_NE(m["content"].get<std::string>().find("not bound"), std::string::npos);
}

TEST(RenderTest, HugeUntrustedTextStaysWithinDiscordsLimit) {
  auto r = MakeRequest(kRid);
  r.reason = std::string(2048, '`');
  r.secrets.assign(16, std::string(128, 'S'));
  r.command->argv.assign(256, std::string(100, 'a'));
  r.command->cwd = std::string(4096, '/');
  r.originator.name = std::string(128, '*');
  json m = RenderRequestMessage(r, {"devbox", Mode::kInteractions, "abcd"});
  EXPECT_LE(m["content"].get<std::string>().size(), static_cast<size_t>(kMessageContentBytesMax));
}

TEST(RenderTest, BackticksInTheReasonCannotCloseTheCodeBlock) {
  auto r = MakeRequest(kRid);
  r.reason = "```\n@everyone **fake approval**";
  std::string content = RenderRequestMessage(r, {"h", Mode::kInteractions, "ab"})["content"];
  // Exactly the two fences we wrote around the reason.
  size_t fences = 0;
  for (size_t p = content.find("```"); p != std::string::npos; p = content.find("```", p + 3))
    ++fences;
  EXPECT_EQ(fences, 2u);
}

TEST(TruncateTest, NeverSplitsAUtf8Sequence) {
  std::string s = "\xC3\xA9\xC3\xA9\xC3\xA9";  // ééé, 6 bytes
  for (size_t n = 0; n <= 7; ++n) {
    std::string t = TruncateUtf8(s, n);
    EXPECT_LE(t.size(), n);
    if (t.empty()) continue;
    EXPECT_TRUE(json(t).dump().find("\\u") == std::string::npos ||
                t.find('\xC3') != std::string::npos);
    // A valid UTF-8 string dumps without the replacement handler.
    EXPECT_NO_THROW((void)json(t).dump()) << n;
  }
  EXPECT_EQ(TruncateUtf8("abc", 3), "abc");
}

}  // namespace
}  // namespace assent::discord
