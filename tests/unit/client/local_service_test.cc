// LocalService: standalone mode over a real data directory. Two services on one
// directory stand for two processes on one database file (each opens its own engine
// and SQLite connection), as `assent run` and `assent approve` do.
#include "client/local_service.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "auth/tokens.h"
#include "crypto/crypto.h"
#include "store/temp_dir.h"

namespace assent::client {
namespace {

const std::string kAdmin = "assent_admin_0123456789abcdefghij";
const std::string kApprover = "assent_approver_0123456789abcdefghij";

class LocalServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    nlohmann::json tokens = {
        {"version", 1},
        {"tokens",
         {{{"name", "admin"}, {"role", "admin"}, {"hash", auth::TokenStore::HashForFile(kAdmin)}},
          {{"name", "approver"}, {"role", "approver"},
           {"hash", auth::TokenStore::HashForFile(kApprover)}}}}};
    std::ofstream(dir_.File("tokens.json")) << tokens.dump();
  }

  std::unique_ptr<Service> Open(const std::string& token) {
    auto s = OpenLocalService(dir_.path(), token);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().Describe());
    return s.ok() ? std::move(s).value() : nullptr;
  }

  testing::TempDir dir_;
};

TEST_F(LocalServiceTest, RequestApproveRevealAcrossTwoEngines) {
  auto admin = Open(kAdmin);
  ASSERT_TRUE(admin);
  ASSERT_TRUE(admin->PutSecret({{"name", "DEMO"}, {"value", "hunter2"}}).ok());

  auto agent = Open("");
  auto hello = agent->Hello("agent", "test", std::nullopt);
  ASSERT_TRUE(hello.ok()) << hello.error().Describe();
  ClientIdentity id{(*hello)["client_id"], (*hello)["client_key"]};
  agent->SetIdentity(id);
  AccessRequestParams p;
  p.secrets = {"DEMO"};
  p.reason = "unit test";
  auto created = agent->RequestAccess(p);
  ASSERT_TRUE(created.ok()) << created.error().Describe();
  const std::string request_id = (*created)["request"]["request_id"];
  EXPECT_EQ((*created)["request"]["state"], "pending");

  // The decision comes from another engine on the same file; the waiter must see it.
  std::thread approver_thread([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto approver = Open(kApprover);
    auto d = approver->Decide(request_id, "approve", std::nullopt, std::nullopt);
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().Describe());
  });
  auto waited = agent->WaitRequest(request_id, "pending", 10);
  approver_thread.join();
  ASSERT_TRUE(waited.ok()) << waited.error().Describe();
  EXPECT_EQ((*waited)["request"]["state"], "approved");
  EXPECT_TRUE((*waited)["changed"].get<bool>());

  auto kp = crypto::NewBoxKeyPair();
  auto revealed = agent->Reveal((*waited)["request"]["grant_id"], "DEMO",
                                crypto::Base64Encode(kp.public_key), std::nullopt);
  ASSERT_TRUE(revealed.ok()) << revealed.error().Describe();
  auto sealed = crypto::Base64Decode((*revealed)["sealed_value"].get<std::string>());
  ASSERT_TRUE(sealed);
  EXPECT_EQ(crypto::SealOpen(kp.public_key, kp.secret_key, *sealed), "hunter2");
}

TEST_F(LocalServiceTest, WaitTimesOutUnchanged) {
  auto admin = Open(kAdmin);
  ASSERT_TRUE(admin->PutSecret({{"name", "DEMO"}, {"value", "v"}}).ok());
  auto agent = Open("");
  auto hello = agent->Hello("agent", "test", std::nullopt);
  agent->SetIdentity({(*hello)["client_id"], (*hello)["client_key"]});
  AccessRequestParams p;
  p.secrets = {"DEMO"};
  p.reason = "r";
  auto created = agent->RequestAccess(p);
  ASSERT_TRUE(created.ok());
  auto waited = agent->WaitRequest((*created)["request"]["request_id"], "pending", 1);
  ASSERT_TRUE(waited.ok());
  EXPECT_FALSE((*waited)["changed"].get<bool>());
  EXPECT_EQ((*waited)["request"]["state"], "pending");
}

TEST_F(LocalServiceTest, RolesComeFromTheTokensFile) {
  auto agent = Open("");
  auto put = agent->PutSecret({{"name", "X"}, {"value", "v"}});
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, -32001) << "no token means the agent role";

  auto bad = OpenLocalService(dir_.path(), "assent_admin_not_in_the_file_xx");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ServiceError::Kind::kHttp);
  EXPECT_EQ(bad.error().name, "unauthorized");
}

TEST_F(LocalServiceTest, AKeyThatDoesNotProveTheIdIsRefused) {
  auto agent = Open("");
  auto hello = agent->Hello("agent", "test", std::nullopt);
  ASSERT_TRUE(hello.ok());
  agent->SetIdentity({(*hello)["client_id"], std::string(43, 'A')});
  auto r = agent->Ping();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().name, "unauthorized");
}

TEST_F(LocalServiceTest, EndpointNamesTheDataDirectory) {
  auto s = Open("");
  EXPECT_EQ(s->Endpoint(), "local:" + dir_.path());
}

}  // namespace
}  // namespace assent::client
