#include "cli/terminal.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace assent::cli {

namespace {

int g_tty_fd = -1;
struct termios g_saved_termios;
struct sigaction g_old_int, g_old_term;

void RestoreAndReraise(int sig) {
  if (g_tty_fd >= 0) ::tcsetattr(g_tty_fd, TCSAFLUSH, &g_saved_termios);
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  ::raise(sig);
}

}  // namespace

bool IsTty(int fd) { return ::isatty(fd) == 1; }

size_t TerminalColumns(int fd) {
  struct winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

std::optional<std::string> ReadHiddenLine(const std::string& prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  if (::tcgetattr(fd, &g_saved_termios) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  g_tty_fd = fd;
  struct sigaction sa{};
  sa.sa_handler = RestoreAndReraise;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &g_old_int);
  ::sigaction(SIGTERM, &sa, &g_old_term);

  struct termios quiet = g_saved_termios;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;
  ::tcsetattr(fd, TCSAFLUSH, &quiet);
  ssize_t w = ::write(fd, prompt.data(), prompt.size());
  (void)w;

  std::string line;
  bool ended = false;
  char c;
  while (true) {
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ended = true;
      break;
    }
    if (c == '\n') break;
    line.push_back(c);
  }
  ::tcsetattr(fd, TCSAFLUSH, &g_saved_termios);
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  g_tty_fd = -1;
  ::close(fd);
  if (ended && line.empty()) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string FormatDuration(int64_t s) {
  if (s < 0) s = 0;
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(s));
  else if (s < 3600)
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else if (s < 86400)
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60));
  else
    std::snprintf(buf, sizeof(buf), "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>((s % 86400) / 3600));
  return buf;
}

std::string FormatCountdown(int64_t s) {
  if (s < 0) s = 0;
  char buf[32];
  if (s < 3600)
    std::snprintf(buf, sizeof(buf), "%02lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60), static_cast<long long>(s % 60));
  return buf;
}

std::string FormatLocalTime(const std::string& rfc3339) {
  TimeMs t = 0;
  if (!ParseTimeMs(rfc3339, &t)) return rfc3339;
  time_t secs = static_cast<time_t>(t / 1000);
  struct tm local{};
  ::localtime_r(&secs, &local);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &local);
  return buf;
}

std::optional<int64_t> SecondsUntil(const std::string& rfc3339, TimeMs now_ms) {
  TimeMs t = 0;
  if (!ParseTimeMs(rfc3339, &t)) return std::nullopt;
  int64_t d = t - now_ms;
  return d <= 0 ? 0 : (d + 999) / 1000;
}

}  // namespace assent::cli
