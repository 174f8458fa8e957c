#include "cli/child_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>

#include "cli/masker.h"
#include "crypto/crypto.h"

namespace assent::cli {

namespace {

constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Written by the signal handler, read by the poll loop. One record per signal:
// [signo, from_terminal].
int g_signal_pipe_write = -1;

void OnSignal(int sig, siginfo_t* info, void*) {
  int saved = errno;
  unsigned char rec[2] = {static_cast<unsigned char>(sig),
                          static_cast<unsigned char>(info && info->si_code == SI_KERNEL)};
  if (g_signal_pipe_write >= 0) {
    ssize_t ignored = ::write(g_signal_pipe_write, rec, sizeof(rec));
    (void)ignored;
  }
  errno = saved;
}

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, 100);
        continue;
      }
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

int StatusToExitCode(int status, int* signal_out) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    *signal_out = WTERMSIG(status);
    return 128 + WTERMSIG(status);
  }
  return 1;
}

// One child output stream: pipe read end → masker → our descriptor.
struct Stream {
  int read_fd = -1;
  int out_fd = -1;
  std::unique_ptr<Masker> masker;
  bool open() const { return read_fd >= 0; }
  void Close(bool flush) {
    if (read_fd < 0) return;
    if (flush && masker) WriteAll(out_fd, masker->Finish());
    ::close(read_fd);
    read_fd = -1;
  }
  // Reads what is available; closes on EOF, and on a write error (our reader went
  // away: the child then gets SIGPIPE on its next write, as it would without us).
  void Pump() {
    char buf[16384];
    while (read_fd >= 0) {
      ssize_t n = ::read(read_fd, buf, sizeof(buf));
      if (n > 0) {
        std::string chunk(buf, static_cast<size_t>(n));
        std::string out = masker ? masker->Feed(chunk) : chunk;
        crypto::Wipe(chunk);
        if (!WriteAll(out_fd, out)) Close(false);
        continue;
      }
      if (n == 0) {
        Close(true);
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      Close(true);
      return;
    }
  }
};

}  // namespace

ChildOutcome RunChild(ChildSpec spec) {
  ChildOutcome outcome;
  auto wipe_env = [&spec] {
    for (auto& e : spec.env) crypto::Wipe(e);
    spec.env.clear();
  };
  if (spec.argv.empty()) {
    wipe_env();
    outcome.error = "no command given";
    outcome.exit_code = 2;
    return outcome;
  }

  int sigpipe_fds[2];
  int exec_err_fds[2];
  int out_fds[2] = {-1, -1};
  int err_fds[2] = {-1, -1};
  if (::pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) != 0 ||
      ::pipe2(exec_err_fds, O_CLOEXEC) != 0 ||
      (spec.mask_output &&
       (::pipe2(out_fds, O_CLOEXEC) != 0 || ::pipe2(err_fds, O_CLOEXEC) != 0))) {
    wipe_env();
    outcome.error = std::string("cannot create pipes: ") + std::strerror(errno);
    return outcome;
  }

  // argv/envp arrays pointing into spec's strings.
  std::vector<char*> argv;
  for (auto& a : spec.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : spec.env) envp.push_back(e.data());
  envp.push_back(nullptr);

  // Install handlers before forking so no signal is lost between fork and the loop;
  // block everything around fork so the child never runs our handlers.
  g_signal_pipe_write = sigpipe_fds[1];
  struct sigaction sa{};
  sa.sa_sigaction = OnSignal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_actions[sizeof(kForwardedSignals) / sizeof(int)];
  struct sigaction old_chld{}, old_pipe{};
  for (size_t i = 0; i < sizeof(kForwardedSignals) / sizeof(int); ++i)
    ::sigaction(kForwardedSignals[i], &sa, &old_actions[i]);
  struct sigaction chld = sa;
  chld.sa_flags |= SA_NOCLDSTOP;
  ::sigaction(SIGCHLD, &chld, &old_chld);
  struct sigaction ign{};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old_pipe);

  sigset_t all, previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &previous);
  pid_t pid = ::fork();
  if (pid == 0) {
    // Child: the caller's dispositions (exec turns handlers into defaults and keeps
    // ignored signals ignored, as `nohup` expects) and signal mask, then exec.
    for (size_t i = 0; i < sizeof(kForwardedSignals) / sizeof(int); ++i)
      ::sigaction(kForwardedSignals[i], &old_actions[i], nullptr);
    ::sigaction(SIGCHLD, &old_chld, nullptr);
    // SIGPIPE is ignored by assent (a closed socket must not kill it); the child gets
    // the default so `cmd | head` ends it as usual.
    struct sigaction dfl{};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGPIPE, &dfl, nullptr);
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (spec.mask_output) {
      ::dup2(out_fds[1], STDOUT_FILENO);
      ::dup2(err_fds[1], STDERR_FILENO);
    }
    ::execvpe(argv[0], argv.data(), envp.data());
    int e = errno;
    ssize_t ignored = ::write(exec_err_fds[1], &e, sizeof(e));
    (void)ignored;
    ::_exit(127);
  }
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  // The parent no longer needs the values in the environment strings.
  wipe_env();
  envp.clear();

  auto restore = [&] {
    for (size_t i = 0; i < sizeof(kForwardedSignals) / sizeof(int); ++i)
      ::sigaction(kForwardedSignals[i], &old_actions[i], nullptr);
    ::sigaction(SIGCHLD, &old_chld, nullptr);
    ::sigaction(SIGPIPE, &old_pipe, nullptr);
    g_signal_pipe_write = -1;
    ::close(sigpipe_fds[0]);
    ::close(sigpipe_fds[1]);
  };
  ::close(exec_err_fds[1]);
  if (out_fds[1] >= 0) ::close(out_fds[1]);
  if (err_fds[1] >= 0) ::close(err_fds[1]);

  if (pid < 0) {
    restore();
    ::close(exec_err_fds[0]);
    if (out_fds[0] >= 0) ::close(out_fds[0]);
    if (err_fds[0] >= 0) ::close(err_fds[0]);
    outcome.error = std::string("cannot fork: ") + std::strerror(fork_errno);
    return outcome;
  }

  // Did exec succeed? The error pipe closes on exec (CLOEXEC) or carries errno.
  int exec_errno = 0;
  ssize_t got;
  do {
    got = ::read(exec_err_fds[0], &exec_errno, sizeof(exec_errno));
  } while (got < 0 && errno == EINTR);
  ::close(exec_err_fds[0]);
  if (got == static_cast<ssize_t>(sizeof(exec_errno))) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    restore();
    if (out_fds[0] >= 0) ::close(out_fds[0]);
    if (err_fds[0] >= 0) ::close(err_fds[0]);
    outcome.exit_code = (exec_errno == ENOENT || exec_errno == ENOTDIR) ? 127 : 126;
    outcome.error = spec.argv[0] + ": " + std::strerror(exec_errno);
    return outcome;
  }
  outcome.started = true;

  Stream out, err;
  if (spec.mask_output) {
    out.read_fd = out_fds[0];
    out.out_fd = STDOUT_FILENO;
    err.read_fd = err_fds[0];
    err.out_fd = STDERR_FILENO;
    ::fcntl(out.read_fd, F_SETFL, O_NONBLOCK);
    ::fcntl(err.read_fd, F_SETFL, O_NONBLOCK);
    // Each stream gets its own copy of the values; spec's copies are wiped below.
    out.masker = std::make_unique<Masker>(spec.mask_values);
    err.masker = std::make_unique<Masker>(spec.mask_values);
  }
  for (auto& v : spec.mask_values) crypto::Wipe(v);
  spec.mask_values.clear();

  std::optional<int> status;
  // After the child exits, a grandchild may keep its pipes open: drain what comes within
  // a short grace period, then stop rather than wait for a daemon forever.
  constexpr int kGraceAfterExitMs = 300;
  auto exited_at = std::chrono::steady_clock::time_point{};
  while (true) {
    if (!status) {
      int st = 0;
      pid_t r = ::waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        status = st;
        exited_at = std::chrono::steady_clock::now();
      }
    }
    if (status && !out.open() && !err.open()) break;
    int timeout_ms = -1;
    if (status) {
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - exited_at)
                        .count();
      if (waited >= kGraceAfterExitMs) break;
      timeout_ms = kGraceAfterExitMs - static_cast<int>(waited);
    }
    pollfd fds[3];
    int nfds = 0;
    fds[nfds++] = {sigpipe_fds[0], POLLIN, 0};
    int out_idx = -1, err_idx = -1;
    if (out.open()) {
      out_idx = nfds;
      fds[nfds++] = {out.read_fd, POLLIN, 0};
    }
    if (err.open()) {
      err_idx = nfds;
      fds[nfds++] = {err.read_fd, POLLIN, 0};
    }
    int pr = ::poll(fds, static_cast<nfds_t>(nfds), timeout_ms);
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    if (fds[0].revents & POLLIN) {
      unsigned char rec[2];
      while (::read(sigpipe_fds[0], rec, sizeof(rec)) == sizeof(rec)) {
        int sig = rec[0];
        bool from_terminal = rec[1] != 0;
        if (sig == SIGCHLD || status) continue;
        if (!from_terminal) ::kill(pid, sig);
      }
    }
    if (out_idx >= 0 && fds[out_idx].revents) out.Pump();
    if (err_idx >= 0 && fds[err_idx].revents) err.Pump();
  }
  out.Close(true);
  err.Close(true);
  if (!status) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    status = st;
  }
  restore();
  outcome.exit_code = StatusToExitCode(*status, &outcome.signal);
  return outcome;
}

}  // namespace assent::cli
