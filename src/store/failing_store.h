// FailingStore: a Store wrapper that fails one chosen call, for fault-injection tests.
//
// Every operation on a transaction (each ReadTx/Tx method) and every commit counts as
// one call, numbered from 1 across the wrapper's life. When the count reaches the armed
// number — optionally counting only the operations whose name matches — that call
// returns Status kInternal ("injected failure") instead of reaching the real store, and
// the surrounding transaction rolls back like any real failure would. Tests use it to
// show that audit is fail-closed: make AppendAudit (or the commit) fail and check that
// the action was refused with -32007 and that nothing changed.
//
// Operation names are the method names ("AppendAudit", "InsertEvent", ...) and "Commit".
//
// Thread safety: as the wrapped store; arming is atomic.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "store/store.h"

namespace assent::store {

class FailingStore final : public Store {
 public:
  explicit FailingStore(Store& inner) : inner_(inner) {}

  // Fails the n-th matching call from now (n >= 1). `only_op` empty: every call counts.
  void FailOnCall(int64_t n, std::string only_op = "");
  // Fails every matching call from now on until Disarm().
  void FailAlways(std::string only_op = "");
  void Disarm();
  // Calls seen since construction (all operations, armed or not).
  int64_t calls() const { return calls_.load(); }
  // Whether the armed failure has fired, and on which operation.
  bool fired() const { return fired_.load(); }
  std::string fired_op();

  Status WithTransaction(const std::function<Status(Tx&)>& fn) override;
  Status WithReadTransaction(const std::function<Status(ReadTx&)>& fn) override;

  // Internal: called by the wrapping transaction before each operation; returns the
  // injected failure when this call is the chosen one.
  Status Check(const char* op);

 private:
  Store& inner_;
  std::mutex mu_;
  std::atomic<int64_t> calls_{0};
  std::atomic<bool> fired_{false};
  int64_t remaining_ = 0;  // matching calls left before the failure; 0 = disarmed
  bool always_ = false;
  std::string only_op_;
  std::string fired_op_;
};

}  // namespace assent::store
