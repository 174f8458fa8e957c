// Test doubles for the Discord approver: an in-memory decision backend with access.decide's
// rules (quorum, one deny ends it, one vote per approver, finished requests refused), a
// scripted HTTP transport, and helpers to sign interactions like Discord does.
#pragma once

#include <nlohmann/json.hpp>
// Tests sign interactions as Discord does; only crypto/ includes sodium.h in the product.
#include <sodium.h>

#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "approvers/discord/backend.h"
#include "approvers/discord/rest_client.h"
#include "base/random.h"
#include "base/status.h"

namespace assent::discord::testing {

inline core::RequestView MakeRequest(const std::string& id, int64_t approvals_required = 1) {
  core::RequestView v;
  v.request_id = id;
  v.state = "pending";
  v.originator = {"cl_0123456789abcdef0123456789abcdef", "agent", "claude-code"};
  v.secrets = {"GITHUB_TOKEN", "NPM_TOKEN"};
  v.reason = "publish the release";
  v.ttl_s = 300;
  v.mode = "interactive";
  v.command = core::Command{{"npm", "publish"}, "/home/dev/project"};
  v.created_at = 1'780'000'000'000;
  v.expires_at = v.created_at + 1800 * 1000;
  v.approvals_required = approvals_required;
  return v;
}

class FakeBackend final : public ApprovalBackend {
 public:
  std::map<std::string, core::RequestView> requests;
  std::map<std::string, std::set<std::string>> voters;
  std::vector<std::string> vote_log;  // "rid user approve|deny"
  std::vector<std::string> dead_log;
  ErrorCode fail_votes_with = ErrorCode::kOk;
  bool fail_dead_records = false;
  store::Store* store = nullptr;  // where RecordDeliveryDead runs its `also`
  std::mutex mu;

  void Add(const core::RequestView& v) {
    std::lock_guard<std::mutex> l(mu);
    requests[v.request_id] = v;
  }

  Result<core::RequestView> GetRequest(const std::string& id) override {
    std::lock_guard<std::mutex> l(mu);
    auto it = requests.find(id);
    if (it == requests.end()) return NotFound("no such request");
    return it->second;
  }

  Result<core::DecideResult> Vote(const std::string& id, const std::string& user,
                                  bool approve) override {
    std::lock_guard<std::mutex> l(mu);
    vote_log.push_back(id + " " + user + " " + (approve ? "approve" : "deny"));
    if (fail_votes_with != ErrorCode::kOk) return Status::Error(fail_votes_with, "injected");
    auto it = requests.find(id);
    if (it == requests.end()) return NotFound("no such request");
    core::RequestView& r = it->second;
    if (voters[id].count(user))
      return Forbidden("already voted", {{"reason", "already_voted"}});
    if (r.state != "pending")
      return InvalidState("finished", {{"kind", "request"}, {"id", id}, {"state", r.state}});
    voters[id].insert(user);
    if (!approve) {
      r.state = "denied";
    } else if (++r.approvals >= r.approvals_required) {
      r.state = "approved";
    }
    core::DecideResult out;
    out.request = r;
    return out;
  }

  Result<std::vector<core::RequestView>> ListPending(int64_t limit) override {
    std::lock_guard<std::mutex> l(mu);
    std::vector<core::RequestView> out;
    for (const auto& [id, r] : requests)
      if (r.state == "pending" && static_cast<int64_t>(out.size()) < limit) out.push_back(r);
    return out;
  }

  // Runs `also` in a transaction of `store` (when set) like the engine does, unless
  // fail_dead_records asks to fail it (a crash before the engine's commit).
  Status RecordDeliveryDead(const std::string& rid, const std::string& kind, int64_t attempts,
                            const TxStep& also) override {
    std::lock_guard<std::mutex> l(mu);
    if (!requests.count(rid)) return NotFound("no such request");
    if (fail_dead_records) return Status::Error(ErrorCode::kInternal, "injected");
    if (store && also) {
      Status st = store->WithTransaction(also);
      if (!st.ok()) return st;
    }
    dead_log.push_back(rid + " " + kind + " " + std::to_string(attempts));
    return Status::Ok();
  }

  size_t votes() {
    std::lock_guard<std::mutex> l(mu);
    return vote_log.size();
  }
};

// Replies are taken from `script` in order; when it is empty, `fallback` answers.
class FakeTransport final : public HttpTransport {
 public:
  struct Shared {
    std::mutex mu;
    std::vector<HttpCall> calls;
    std::deque<HttpReply> script;
    std::function<HttpReply(const HttpCall&)> fallback;
  };
  explicit FakeTransport(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
  HttpReply Send(const HttpCall& call) override {
    std::lock_guard<std::mutex> l(s_->mu);
    s_->calls.push_back(call);
    if (!s_->script.empty()) {
      HttpReply r = s_->script.front();
      s_->script.pop_front();
      return r;
    }
    if (s_->fallback) return s_->fallback(call);
    return Reply(200, "{}");
  }
  static HttpReply Reply(int status, const std::string& body, HeaderMap headers = {}) {
    HttpReply r;
    r.status = status;
    r.body = body;
    r.headers = std::move(headers);
    return r;
  }

 private:
  std::shared_ptr<Shared> s_;
};

// An Ed25519 key pair from a fixed seed, signing like Discord: timestamp ‖ body.
class DiscordSigner {
 public:
  explicit DiscordSigner(uint8_t seed_byte = 7) {
    if (sodium_init() < 0) abort();
    unsigned char seed[crypto_sign_SEEDBYTES];
    for (auto& b : seed) b = seed_byte;
    crypto_sign_seed_keypair(pk_, sk_, seed);
  }
  std::string public_key() const {
    return std::string(reinterpret_cast<const char*>(pk_), sizeof pk_);
  }
  std::string SignHex(const std::string& timestamp, const std::string& body) const {
    std::string msg = timestamp + body;
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(msg.data()),
                         msg.size(), sk_);
    return HexEncode(sig, sizeof sig);
  }

 private:
  unsigned char pk_[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk_[crypto_sign_SECRETKEYBYTES];
};

}  // namespace assent::discord::testing
