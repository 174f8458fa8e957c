#include "client/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "client/daemon_files.h"
#include "store/temp_dir.h"

namespace assent::client {
namespace {

std::string MemberOf(const Status& st) {
  return st.data().is_object() ? st.data().value("member", "") : "";
}

TEST(ClientConfig, MinimalConfigTakesDefaults) {
  auto c = ParseClientConfig(R"({"version": 1})");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->mode, "client");
  EXPECT_EQ(c->server, "");
  EXPECT_EQ(c->client_kind, "agent");
  EXPECT_FALSE(c->data_dir.empty());
}

TEST(ClientConfig, RoundTrips) {
  ClientConfig c;
  c.mode = "standalone";
  c.server = "tcp://127.0.0.1:8750";
  c.data_dir = "/var/lib/assent";
  c.agent_token = "assent_agent_0123456789abcdef";
  c.approver_token_file = "/secure/approver.token";
  c.client_kind = "script";
  c.client_name = "nightly";
  auto back = ParseClientConfig(SerializeClientConfig(c));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->mode, c.mode);
  EXPECT_EQ(back->server, c.server);
  EXPECT_EQ(back->data_dir, c.data_dir);
  EXPECT_EQ(back->agent_token, c.agent_token);
  EXPECT_EQ(back->approver_token_file, c.approver_token_file);
  EXPECT_EQ(back->admin_token_file, "");
  EXPECT_EQ(back->client_kind, c.client_kind);
  EXPECT_EQ(back->client_name, c.client_name);
}

TEST(ClientConfig, ErrorsNameTheMember) {
  struct Case {
    const char* text;
    const char* member;
  } cases[] = {
      {R"({"version": 1, "sever": "unix:/x"})", "sever"},
      {R"({"mode": "client"})", "version"},
      {R"({"version": 2})", "version"},
      {R"({"version": "1"})", "version"},
      {R"({"version": 1, "mode": "remote"})", "mode"},
      {R"({"version": 1, "mode": 3})", "mode"},
      {R"({"version": 1, "server": "localhost:8750"})", "server"},
      {R"({"version": 1, "server": "unix:relative.sock"})", "server"},
      {R"({"version": 1, "server": "tcp://127.0.0.1:0"})", "server"},
      {R"({"version": 1, "server": "tcp://127.0.0.1:99999"})", "server"},
      {R"({"version": 1, "data_dir": "relative/dir"})", "data_dir"},
      {R"({"version": 1, "agent_token": "short"})", "agent_token"},
      {R"({"version": 1, "agent_token": "has spaces in it ........"})", "agent_token"},
      {R"({"version": 1, "admin_token_file": "admin.token"})", "admin_token_file"},
      {R"({"version": 1, "approver_token_file": "x"})", "approver_token_file"},
      {R"({"version": 1, "client_kind": "robot"})", "client_kind"},
  };
  for (const auto& c : cases) {
    auto r = ParseClientConfig(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidParams) << c.text;
    EXPECT_EQ(MemberOf(r.status()), c.member) << c.text;
    EXPECT_NE(r.status().message().find(c.member), std::string::npos) << r.status().message();
  }
}

TEST(ClientConfig, RejectsNonObjectsAndBrokenJson) {
  EXPECT_FALSE(ParseClientConfig("").ok());
  EXPECT_FALSE(ParseClientConfig("{").ok());
  EXPECT_FALSE(ParseClientConfig("[1]").ok());
  EXPECT_FALSE(ParseClientConfig("null").ok());
}

TEST(ClientConfig, MissingFileIsNotFound) {
  testing::TempDir dir;
  auto r = LoadClientConfig(dir.File("config.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
}

TEST(ClientConfig, SavedFileIsPrivate) {
  testing::TempDir dir;
  ClientConfig c;
  c.data_dir = "/tmp/x";
  ASSERT_TRUE(SaveClientConfig(dir.File("config.json"), c).ok());
  struct stat st{};
  ASSERT_EQ(::stat(dir.File("config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = LoadClientConfig(dir.File("config.json"));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->data_dir, "/tmp/x");
}

TEST(TokenFile, TrimsWhitespaceAndChecksTheGrammar) {
  testing::TempDir dir;
  std::ofstream(dir.File("ok")) << "  assent_admin_0123456789abcdef\n";
  std::ofstream(dir.File("bad")) << "not a token\n";
  auto ok = ReadTokenFile(dir.File("ok"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, "assent_admin_0123456789abcdef");
  EXPECT_FALSE(ReadTokenFile(dir.File("bad")).ok());
  EXPECT_FALSE(ReadTokenFile(dir.File("missing")).ok());
}

TEST(IdentityStore, KeepsOneIdentityPerEndpoint) {
  testing::TempDir dir;
  IdentityStore store(dir.File("client.json"));
  EXPECT_FALSE(store.Get("unix:/a"));
  ClientIdentity a{"cl_" + std::string(32, 'a'), std::string(43, 'A')};
  ClientIdentity b{"cl_" + std::string(32, 'b'), std::string(43, 'B')};
  ASSERT_TRUE(store.Put("unix:/a", a).ok());
  ASSERT_TRUE(store.Put("tcp://h:1", b).ok());
  ASSERT_TRUE(store.Get("unix:/a"));
  EXPECT_EQ(store.Get("unix:/a")->client_id, a.client_id);
  EXPECT_EQ(store.Get("tcp://h:1")->client_key, b.client_key);
  struct stat st{};
  ASSERT_EQ(::stat(dir.File("client.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(IdentityStore, IgnoresMalformedEntries) {
  testing::TempDir dir;
  std::ofstream(dir.File("client.json"))
      << R"({"version":1,"identities":{"unix:/a":{"client_id":"cl_x","client_key":"k"}}})";
  IdentityStore store(dir.File("client.json"));
  EXPECT_FALSE(store.Get("unix:/a"));
}

TEST(DiscoveryFile, MembersOfTheWrongTypeAreIgnoredNotThrown) {
  testing::TempDir dir;
  const std::string data_dir = dir.File("");
  std::ofstream(DiscoveryFilePath(data_dir))
      << R"({"pid":42,"daemon_version":1,"protocol_version":null,)"
         R"("listeners":[{"transport":"tcp","address":9},7,{"transport":"unix","address":"/s"}]})";
  auto d = ReadDiscovery(data_dir);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->pid, 42);
  EXPECT_EQ(d->daemon_version, "");
  ASSERT_EQ(d->listeners.size(), 2u);
  EXPECT_EQ(d->listeners[0].address, "");
  EXPECT_EQ(d->listeners[1].address, "/s");
}

TEST(IdentityStore, MembersOfTheWrongTypeAreIgnoredNotThrown) {
  testing::TempDir dir;
  std::ofstream(dir.File("client.json"))
      << R"({"version":1,"identities":{"unix:/a":{"client_id":7,"client_key":["k"]}}})";
  IdentityStore store(dir.File("client.json"));
  EXPECT_FALSE(store.Get("unix:/a"));
}

}  // namespace
}  // namespace assent::client
