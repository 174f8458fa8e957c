// Fuzz harness: POST /discord/interactions in-process — signature and timestamp check,
// interaction parsing, custom_id parsing, allowlist, dedupe — over an in-memory store, a
// fake clock and a fake decision backend. No sockets.
//
// Input: the first byte picks the mode, the rest is the payload.
//   'R' (raw)    payload = SIG_HEX "\n" TIMESTAMP "\n" BODY, sent as the headers and body
//                as given. The fuzzer cannot sign, so only corpus seeds that carry a real
//                signature get past step 1.
//   'S' (signed) payload = OFFSET_BYTE BODY: the harness signs BODY with the application
//                key at clock + (OFFSET_BYTE − 128) seconds, like Discord, so arbitrary
//                signed bodies reach the parser and the click path.
//   anything else: the whole input is a body sent with no signature headers.
//
// Properties checked (abort on violation):
//   P1 nothing throws; every answer is 200, 400 or 401 with a JSON object body;
//   P2 an answer other than 401 implies the signature verifies over timestamp ‖ body and
//      the timestamp is within discord_signature_max_age_s (never accepts an unsigned
//      or stale body), and then the same delivery with one body bit flipped gets 401 and
//      decides nothing;
//   P3 every vote comes from an allowlisted user on a button whose nonce matches;
//   P4 a redelivery of an answered click gets the same answer and adds no vote;
//   P5 ParseCustomId(x) succeeding implies FormatCustomId(ParseCustomId(x)) == x.
#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "approvers/discord/interactions.h"
#include "approvers/discord/message.h"
#include "approvers/discord/state.h"
#include "base/limits.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "store/sqlite_store.h"

namespace {

using nlohmann::json;
using namespace assent;
using namespace assent::discord;

constexpr const char* kRid = "rq_00112233445566778899aabbccddeeff";
constexpr const char* kNonce = "a1b2c3d4e5f6a7b8c9d0e1f2";
constexpr const char* kAllowed = "1200000000000000001";
constexpr TimeMs kNowMs = 1'780'000'000'000;

void Check(bool ok) {
  if (!ok) std::abort();
}

class Backend final : public ApprovalBackend {
 public:
  core::RequestView request;
  std::set<std::string> voters;
  std::vector<std::string> votes;  // "user approve|deny rid"

  Backend() {
    request.request_id = kRid;
    request.state = "pending";
    request.originator = {"cl_0123456789abcdef0123456789abcdef", "agent", "fuzz"};
    request.secrets = {"TOKEN"};
    request.reason = "fuzz";
    request.ttl_s = 60;
    request.mode = "interactive";
    request.approvals_required = 2;
    request.expires_at = kNowMs + 60000;
  }
  Result<core::RequestView> GetRequest(const std::string& id) override {
    if (id != kRid) return NotFound("no");
    return request;
  }
  Result<core::DecideResult> Vote(const std::string& id, const std::string& user,
                                  bool approve) override {
    votes.push_back(user + (approve ? " approve " : " deny ") + id);
    if (id != kRid) return NotFound("no");
    if (voters.count(user)) return Forbidden("again", {{"reason", "already_voted"}});
    if (request.state != "pending")
      return InvalidState("done", {{"kind", "request"}, {"id", id}, {"state", request.state}});
    voters.insert(user);
    if (!approve) {
      request.state = "denied";
    } else if (++request.approvals >= request.approvals_required) {
      request.state = "approved";
    }
    core::DecideResult r;
    r.request = request;
    return r;
  }
  Result<std::vector<core::RequestView>> ListPending(int64_t) override {
    return std::vector<core::RequestView>{};
  }
  Status RecordDeliveryDead(const std::string&, const std::string&, int64_t,
                            const TxStep&) override {
    return Status::Ok();
  }
};

struct Keys {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  Keys() {
    Check(crypto::Init());
    log::SetLevel(log::Level::kError);  // refusals are expected here by the thousand
    unsigned char seed[crypto_sign_SEEDBYTES];
    for (auto& b : seed) b = 0x42;  // the seed corpus is signed with this key
    crypto_sign_seed_keypair(pk, sk, seed);
  }
  std::string Sign(const std::string& ts, const std::string& body) const {
    std::string m = ts + body;
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(m.data()),
                         m.size(), sk);
    return HexEncode(sig, sizeof sig);
  }
};

const Keys& TheKeys() {
  static const Keys k;
  return k;
}

InteractionRequest MakeRequest(const std::string& sig, const std::string& ts,
                               const std::string& body, bool with_headers) {
  InteractionRequest r;
  r.body = body;
  if (with_headers) {
    r.header = [sig, ts](const std::string& name) -> std::string {
      if (name == "X-Signature-Ed25519") return sig;
      if (name == "X-Signature-Timestamp") return ts;
      return "";
    };
  }
  return r;
}

void CheckAnswerShape(const InteractionResponse& r) {
  Check(r.status == 200 || r.status == 400 || r.status == 401);
  Check(r.content_type == "application/json");
  json j = json::parse(r.body, nullptr, false);
  Check(!j.is_discarded() && j.is_object());
  if (r.status == 200) Check(j.contains("type") && j["type"].is_number_integer());
  if (r.status != 200) Check(j.contains("error") && j["error"].is_string());
  if (r.status == 401) Check(j["error"] == "bad_signature");
}

void RunOne(const std::string& sig, const std::string& ts, const std::string& body,
            bool with_headers) {
  auto store_or = store::SqliteStore::Open(":memory:");
  Check(store_or.ok());
  auto store = std::move(store_or).value();
  Check(store
            ->WithTransaction([&](store::Tx& tx) {
              MessageRecord rec;
              rec.button_nonce = kNonce;
              rec.message_id = "1300000000000000001";
              rec.channel_id = "1100000000000000001";
              return PutMessageRecord(tx, kRid, rec);
            })
            .ok());
  FakeClock clock(kNowMs);
  DiscordConfig config;
  config.public_key = std::string(reinterpret_cast<const char*>(TheKeys().pk), 32);
  config.allowed_users = {kAllowed, "1200000000000000002"};
  config.host = "fuzz";
  Backend backend;
  InteractionsEndpoint endpoint(config, *store, clock, backend);

  InteractionResponse first = endpoint.Handle(MakeRequest(sig, ts, body, with_headers));
  CheckAnswerShape(first);

  // P2: acceptance implies a signature that verifies, and a fresh timestamp.
  const SignatureCheck check =
      with_headers ? VerifyInteractionSignature(config.public_key, sig, ts, body, kNowMs)
                   : SignatureCheck::kMissing;
  if (first.status != 401) {
    Check(check == SignatureCheck::kOk);
    auto raw_sig = crypto::HexDecode(sig);
    Check(raw_sig.has_value());
    Check(crypto::Ed25519Verify(config.public_key, ts + body, *raw_sig));
    int64_t ts_s = std::stoll(ts);
    Check(std::llabs(kNowMs / 1000 - ts_s) <= limits::kDiscordSignatureMaxAgeSeconds);
  } else {
    Check(backend.votes.empty());
  }

  // P3: votes only from the allowlist, on buttons with the stored nonce.
  auto ix = ParseInteraction(body);
  if (!backend.votes.empty()) {
    Check(backend.votes.size() == 1);
    Check(ix.has_value());
    Check(config.allowed_users.count(ix->user_id) == 1);
    auto cid = ParseCustomId(ix->custom_id);
    Check(cid.has_value() && cid->nonce == kNonce);
  }

  if (first.status == 401) return;

  // P4: the same delivery again: same answer, no new vote (clicks with an id).
  const size_t votes_before = backend.votes.size();
  InteractionResponse again = endpoint.Handle(MakeRequest(sig, ts, body, with_headers));
  CheckAnswerShape(again);
  if (ix && ix->type == kInteractionComponent && first.status == 200) {
    Check(again.body == first.body);
    Check(backend.votes.size() == votes_before);
  }

  // P2 (cont.): one flipped bit anywhere in the body and the delivery is refused.
  if (!body.empty()) {
    std::string flipped = body;
    flipped[flipped.size() / 2] ^= 0x01;
    InteractionResponse forged = endpoint.Handle(MakeRequest(sig, ts, flipped, true));
    Check(forged.status == 401);
    Check(backend.votes.size() == votes_before);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)TheKeys();
    std::string in(reinterpret_cast<const char*>(data), size);
    // P5 on the raw input, whatever the mode.
    if (auto cid = ParseCustomId(in)) Check(FormatCustomId(*cid) == in);
    if (in.empty()) {
      RunOne("", "", "", false);
      return 0;
    }
    const char mode = in[0];
    std::string rest = in.substr(1);
    if (mode == 'R') {
      size_t a = rest.find('\n');
      size_t b = a == std::string::npos ? std::string::npos : rest.find('\n', a + 1);
      if (b == std::string::npos) {
        RunOne("", "", rest, true);
      } else {
        RunOne(rest.substr(0, a), rest.substr(a + 1, b - a - 1), rest.substr(b + 1), true);
      }
    } else if (mode == 'S' && !rest.empty()) {
      const int64_t offset_s = static_cast<int64_t>(static_cast<uint8_t>(rest[0])) - 128;
      // Scaled so both sides of the 300 s window are reachable from one byte.
      const std::string ts = std::to_string(kNowMs / 1000 + offset_s * 4);
      const std::string body = rest.substr(1);
      RunOne(TheKeys().Sign(ts, body), ts, body, true);
    } else {
      RunOne("", "", in, false);
    }
  } catch (...) {
    std::abort();  // P1: nothing on this path may throw
  }
  return 0;
}
