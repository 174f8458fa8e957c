#include "store/failing_store.h"

namespace assent::store {

namespace {

// Forwards every call to the real transaction after asking the store whether this call
// is the one to fail.
class FailingReadTx : public Tx {
 public:
  FailingReadTx(FailingStore& owner, ReadTx* read, Tx* write)
      : owner_(owner), read_(read), write_(write) {}

#define ASSENT_FWD_READ(Ret, Name, Params, Args)   \
  Ret Name Params override {                       \
    Status _st = owner_.Check(#Name);              \
    if (!_st.ok()) return _st;                     \
    return read_->Name Args;                       \
  }
#define ASSENT_FWD_WRITE(Ret, Name, Params, Args)  \
  Ret Name Params override {                       \
    Status _st = owner_.Check(#Name);              \
    if (!_st.ok()) return _st;                     \
    return write_->Name Args;                      \
  }

  ASSENT_FWD_READ(Result<std::optional<ClientRow>>, GetClient, (std::string_view id), (id))
  ASSENT_FWD_READ(Result<std::optional<SecretRow>>, GetSecretByName, (std::string_view n),
                  (n))
  ASSENT_FWD_READ(Result<std::vector<SecretRow>>, ListSecrets, (int64_t l), (l))
  ASSENT_FWD_READ(Result<std::optional<RequestRow>>, GetRequest, (std::string_view id), (id))
  ASSENT_FWD_READ(Result<std::optional<RequestRow>>, FindRequestByClientRequestId,
                  (std::string_view o, std::string_view c), (o, c))
  ASSENT_FWD_READ(Result<std::vector<RequestRow>>, ListRequests, (const RequestFilter& f),
                  (f))
  ASSENT_FWD_READ(Result<int64_t>, CountRequests, (std::string_view o, std::string_view s),
                  (o, s))
  ASSENT_FWD_READ(Result<std::vector<RequestRow>>, ListDueRequests, (TimeMs n, int64_t l),
                  (n, l))
  ASSENT_FWD_READ(Result<std::vector<VoteRow>>, ListVotes, (std::string_view id), (id))
  ASSENT_FWD_READ(Result<std::optional<GrantRow>>, GetGrant, (std::string_view id), (id))
  ASSENT_FWD_READ(Result<std::vector<GrantRow>>, ListGrants, (const GrantFilter& f), (f))
  ASSENT_FWD_READ(Result<std::vector<GrantRow>>, ListDueGrants, (TimeMs n, int64_t l),
                  (n, l))
  ASSENT_FWD_READ(Result<int64_t>, CountGrants, (std::string_view s), (s))
  ASSENT_FWD_READ(Result<std::optional<TimeMs>>, NextDeadline, (), ())
  ASSENT_FWD_READ(Result<AuditHead>, GetAuditHead, (), ())
  ASSENT_FWD_READ(Result<std::vector<AuditRow>>, ListAudit, (int64_t a, int64_t l), (a, l))
  ASSENT_FWD_READ(Result<std::vector<EventRow>>, ReadEvents,
                  (int64_t a, const EventScope& s, int64_t l), (a, s, l))
  ASSENT_FWD_READ(Result<EventBounds>, GetEventBounds, (), ())
  ASSENT_FWD_READ(Result<std::optional<OutboxRow>>, GetOutbox, (int64_t id), (id))
  ASSENT_FWD_READ(Result<std::vector<OutboxRow>>, ListDueOutbox, (TimeMs n, int64_t l),
                  (n, l))
  ASSENT_FWD_READ(Result<int64_t>, CountOutbox, (std::string_view s), (s))
  ASSENT_FWD_READ(Result<std::optional<std::string>>, GetMeta, (std::string_view k), (k))

  ASSENT_FWD_WRITE(Status, InsertClient, (const ClientRow& r), (r))
  ASSENT_FWD_WRITE(Status, UpdateClient, (const ClientRow& r), (r))
  ASSENT_FWD_WRITE(Status, PutSecret, (const SecretRow& r), (r))
  ASSENT_FWD_WRITE(Status, DeleteSecret, (std::string_view id), (id))
  ASSENT_FWD_WRITE(Result<int64_t>, InsertRequest, (const RequestRow& r), (r))
  ASSENT_FWD_WRITE(Status, UpdateRequest, (const RequestRow& r), (r))
  ASSENT_FWD_WRITE(Status, InsertVote, (const VoteRow& r), (r))
  ASSENT_FWD_WRITE(Result<int64_t>, InsertGrant, (const GrantRow& r), (r))
  ASSENT_FWD_WRITE(Status, UpdateGrant, (const GrantRow& r), (r))
  ASSENT_FWD_WRITE(Status, AppendAudit, (const AuditRow& r), (r))
  ASSENT_FWD_WRITE(Result<int64_t>, InsertEvent, (const EventRow& r), (r))
  ASSENT_FWD_WRITE(Result<int64_t>, PruneEvents, (TimeMs o, int64_t i, int64_t m),
                   (o, i, m))
  ASSENT_FWD_WRITE(Result<int64_t>, InsertOutbox, (const OutboxRow& r), (r))
  ASSENT_FWD_WRITE(Status, UpdateOutbox, (const OutboxRow& r), (r))
  ASSENT_FWD_WRITE(Status, PutMeta, (std::string_view k, std::string_view v), (k, v))

#undef ASSENT_FWD_READ
#undef ASSENT_FWD_WRITE

 private:
  FailingStore& owner_;
  ReadTx* read_;
  Tx* write_;  // nullptr in a read transaction (writes are unreachable through ReadTx&)
};

}  // namespace

void FailingStore::FailOnCall(int64_t n, std::string only_op) {
  std::lock_guard<std::mutex> lock(mu_);
  remaining_ = n;
  always_ = false;
  only_op_ = std::move(only_op);
  fired_ = false;
}

void FailingStore::FailAlways(std::string only_op) {
  std::lock_guard<std::mutex> lock(mu_);
  remaining_ = 1;
  always_ = true;
  only_op_ = std::move(only_op);
  fired_ = false;
}

std::string FailingStore::fired_op() {
  std::lock_guard<std::mutex> lock(mu_);
  return fired_op_;
}

void FailingStore::Disarm() {
  std::lock_guard<std::mutex> lock(mu_);
  remaining_ = 0;
  always_ = false;
  only_op_.clear();
}

Status FailingStore::Check(const char* op) {
  calls_.fetch_add(1);
  std::lock_guard<std::mutex> lock(mu_);
  if (remaining_ == 0) return Status::Ok();
  if (!only_op_.empty() && only_op_ != op) return Status::Ok();
  if (always_ || --remaining_ == 0) {
    fired_ = true;
    fired_op_ = op;
    return Internal(std::string("store: injected failure in ") + op);
  }
  return Status::Ok();
}

Status FailingStore::WithTransaction(const std::function<Status(Tx&)>& fn) {
  return inner_.WithTransaction([&](Tx& tx) -> Status {
    FailingReadTx wrapped(*this, &tx, &tx);
    ASSENT_RETURN_IF_ERROR(fn(wrapped));
    // A failing commit: the real store rolls back because we report an error.
    return Check("Commit");
  });
}

Status FailingStore::WithReadTransaction(const std::function<Status(ReadTx&)>& fn) {
  return inner_.WithReadTransaction([&](ReadTx& tx) -> Status {
    FailingReadTx wrapped(*this, &tx, nullptr);
    return fn(wrapped);
  });
}

}  // namespace assent::store
