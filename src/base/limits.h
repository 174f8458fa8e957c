// Every limit of Assent, in one place, each with its unit last and the reason for it.
//
// Mirrored by spec/limits.json (a unit test checks the two agree, name by name) and
// listed in spec/PROTOCOL.md's limits table. Each limit is tested at N and N+1.
// Library knobs (cpp-httplib's pool, keep-alive, payload) are set from here explicitly;
// no library default is our policy.
#pragma once

#include <cstdint>

namespace assent::limits {

// --- Wire (checked before any method runs) ---
// A request body larger than this gets HTTP 413 before it is parsed: the largest
// legitimate call is a 64 KiB secret, base64-encoded, inside a batch.
inline constexpr int64_t kRpcBodyBytesMax = 1 << 20;
// Calls in one batch; more → one -32006 error, nothing executed. Bounds the work one
// HTTP request can cause.
inline constexpr int64_t kBatchLengthMax = 64;
// Nesting depth of the request JSON; deeper → -32006. Our schemas nest at most ~6
// levels; the bound stops stack-hungry inputs.
inline constexpr int64_t kJsonDepthMax = 32;
// JSON-RPC string ids longer than this → -32600: an id is a correlation key, not data.
inline constexpr int64_t kIdStringBytesMax = 128;
// Method names longer than this are not looked up (-32601 is answered anyway).
inline constexpr int64_t kMethodNameBytesMax = 64;

// --- Domain strings (enforced by the schemas' maxLength, mirrored here) ---
inline constexpr int64_t kSecretValueBytesMax = 64 * 1024;  // env vars, keys, certs
inline constexpr int64_t kSecretNameBytesMax = 128;
inline constexpr int64_t kReasonBytesMax = 2048;      // a human must read it on a phone
inline constexpr int64_t kNoteBytesMax = 1024;
inline constexpr int64_t kClientNameBytesMax = 128;
inline constexpr int64_t kDescriptionBytesMax = 512;
inline constexpr int64_t kSecretsPerRequestMax = 16;  // an approver reviews each name
inline constexpr int64_t kArgvItemsMax = 256;
inline constexpr int64_t kArgvItemBytesMax = 4096;
inline constexpr int64_t kCwdBytesMax = 4096;         // PATH_MAX
inline constexpr int64_t kClientRequestIdBytesMax = 128;

// --- Time ---
inline constexpr int64_t kTtlSecondsMax = 24 * 3600;      // grants are short-lived
inline constexpr int64_t kTimeoutSecondsMax = 24 * 3600;  // a request's decision window
inline constexpr int64_t kLongPollSecondsMax = 30;  // below common proxy idle timeouts
inline constexpr int64_t kTimeoutInteractiveSecondsDefault = 30 * 60;
inline constexpr int64_t kTimeoutUnattendedSecondsDefault = 5 * 60;
inline constexpr int64_t kHeartbeatSecondsDefault = 15;
inline constexpr int64_t kHeartbeatSecondsMin = 1;

// --- Quotas ---
// Pending requests one client may hold; more → -32006. Stops an agent from flooding
// the approver's phone.
inline constexpr int64_t kPendingRequestsPerClientMax = 16;
inline constexpr int64_t kSseSubscribersMax = 64;
inline constexpr int64_t kListPageMax = 500;
inline constexpr int64_t kAuditPageMax = 1000;
inline constexpr int64_t kApprovalsRequiredMax = 10;
inline constexpr int64_t kUsesPerGrantMax = 1000;

// --- Authentication ---
inline constexpr int64_t kAuthFailuresMax = 3;         // within the window → lockout
inline constexpr int64_t kAuthFailureWindowSeconds = 10;
inline constexpr int64_t kLockoutSeconds = 60;

// --- Discord ---
// Interactions whose X-Signature-Timestamp is older (or further in the future) than
// this are refused: a captured request cannot be replayed later.
inline constexpr int64_t kDiscordSignatureMaxAgeSeconds = 5 * 60;

// --- Event retention ---
inline constexpr int64_t kEventRetentionCountMax = 100'000;
inline constexpr int64_t kEventRetentionSeconds = 24 * 3600;

// --- HTTP server sizing (not on the wire; cpp-httplib knobs) ---
// Every open keep-alive connection holds a worker thread. An SSE stream holds one only
// while it opens (then the streamer's single writer thread serves it), but 64 streams may
// open at once; the cap keeps room for them beside the RPC concurrency we want to serve.
inline constexpr int64_t kRpcConcurrencyWorkers = 32;
inline constexpr int64_t kHttpWorkerThreads = kSseSubscribersMax + kRpcConcurrencyWorkers;
// Idle workers kept per listener; a worker finishing a connection beyond that many ends.
// More idle workers made RPC slower, not faster: a new connection wakes the worker that
// waited longest, and with 8 idle ones that worker was cold (bench/report.py: RPC p99
// +15 % for as long as they stayed, after 64 connections opened at once).
inline constexpr int64_t kHttpSpareWorkersMax = 2;
// A connection closes after this many requests while other connections wait for a
// worker (the client reconnects at once): the queued ones get their turn within a
// fraction of a second instead of waiting for a connection to go idle (bench/ping.sh at
// 256 connections: no starved connection). While none waits it goes on: a reconnect per
// 100 calls was most of the slowest 1 % of RPC calls (bench/report.py).
inline constexpr int64_t kKeepAliveRequestsMax = 100;
// An idle keep-alive connection holds a worker, and a stopping server waits for it to
// notice: short enough for a prompt shutdown, long enough for a client's next call.
inline constexpr int64_t kKeepAliveIdleSeconds = 2;
inline constexpr int64_t kReadTimeoutSeconds = 5;
inline constexpr int64_t kListenBacklog = 1024;

// The wire-visible limits by their spec name (spec/limits.json), for system.info and
// the test that keeps this header and the spec in step.
struct NamedLimit {
  const char* name;
  int64_t value;
};
inline constexpr NamedLimit kWireLimits[] = {
    {"rpc_body_bytes_max", kRpcBodyBytesMax},
    {"batch_length_max", kBatchLengthMax},
    {"json_depth_max", kJsonDepthMax},
    {"id_string_bytes_max", kIdStringBytesMax},
    {"method_name_bytes_max", kMethodNameBytesMax},
    {"secret_value_bytes_max", kSecretValueBytesMax},
    {"secret_name_bytes_max", kSecretNameBytesMax},
    {"reason_bytes_max", kReasonBytesMax},
    {"note_bytes_max", kNoteBytesMax},
    {"client_name_bytes_max", kClientNameBytesMax},
    {"description_bytes_max", kDescriptionBytesMax},
    {"secrets_per_request_max", kSecretsPerRequestMax},
    {"argv_items_max", kArgvItemsMax},
    {"argv_item_bytes_max", kArgvItemBytesMax},
    {"cwd_bytes_max", kCwdBytesMax},
    {"client_request_id_bytes_max", kClientRequestIdBytesMax},
    {"ttl_s_max", kTtlSecondsMax},
    {"timeout_s_max", kTimeoutSecondsMax},
    {"long_poll_s_max", kLongPollSecondsMax},
    {"timeout_interactive_s_default", kTimeoutInteractiveSecondsDefault},
    {"timeout_unattended_s_default", kTimeoutUnattendedSecondsDefault},
    {"heartbeat_s_default", kHeartbeatSecondsDefault},
    {"heartbeat_s_min", kHeartbeatSecondsMin},
    {"pending_requests_per_client_max", kPendingRequestsPerClientMax},
    {"sse_subscribers_max", kSseSubscribersMax},
    {"list_page_max", kListPageMax},
    {"audit_page_max", kAuditPageMax},
    {"approvals_required_max", kApprovalsRequiredMax},
    {"uses_per_grant_max", kUsesPerGrantMax},
    {"auth_failures_max", kAuthFailuresMax},
    {"auth_failure_window_s", kAuthFailureWindowSeconds},
    {"lockout_s", kLockoutSeconds},
    {"event_retention_count_max", kEventRetentionCountMax},
    {"event_retention_s", kEventRetentionSeconds},
    {"discord_signature_max_age_s", kDiscordSignatureMaxAgeSeconds},
};

static_assert(kHttpWorkerThreads > kSseSubscribersMax, "SSE must not starve RPC");
static_assert(kHeartbeatSecondsMin <= kHeartbeatSecondsDefault);
static_assert(kTimeoutUnattendedSecondsDefault <= kTimeoutSecondsMax);
static_assert(kTimeoutInteractiveSecondsDefault <= kTimeoutSecondsMax);
static_assert(kSecretValueBytesMax * 4 / 3 + 4096 < kRpcBodyBytesMax,
              "a maximal secret, base64-encoded, must fit in one request body");
static_assert(kLongPollSecondsMax < kKeepAliveIdleSeconds * 100);

}  // namespace assent::limits
