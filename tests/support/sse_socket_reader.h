// SseSocketReader: the client end of an event stream an SseStreamer adopted, for tests
// and fuzz harnesses: reads the raw bytes from a socket and takes the HTTP/1.1 chunk
// framing off (the response head is sent by the HTTP worker, not by the streamer, so
// what arrives here is chunks only).
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace assent::testing {

class SseSocketReader {
 public:
  explicit SseSocketReader(int fd) : fd_(fd) {}
  ~SseSocketReader() { CloseNow(); }
  SseSocketReader(const SseSocketReader&) = delete;
  SseSocketReader& operator=(const SseSocketReader&) = delete;

  // The stream's text so far: the payload of every complete chunk. `last_chunk` is set
  // once the zero-size chunk that ends the response arrived; `framing_ok` is cleared
  // when the bytes are not valid chunk framing.
  std::string Text(bool* last_chunk = nullptr, bool* framing_ok = nullptr) const {
    std::string text;
    size_t at = 0;
    if (last_chunk) *last_chunk = false;
    if (framing_ok) *framing_ok = true;
    for (;;) {
      size_t eol = raw_.find("\r\n", at);
      if (eol == std::string::npos) break;
      const std::string size_line = raw_.substr(at, eol - at);
      if (size_line.empty() || size_line.size() > 8 ||
          size_line.find_first_not_of("0123456789abcdef") != std::string::npos) {
        if (framing_ok) *framing_ok = false;
        break;
      }
      size_t n = std::stoul(size_line, nullptr, 16);
      if (raw_.size() < eol + 2 + n + 2) break;
      if (raw_.compare(eol + 2 + n, 2, "\r\n") != 0) {
        if (framing_ok) *framing_ok = false;
        break;
      }
      if (n == 0) {
        if (last_chunk) *last_chunk = true;
        break;
      }
      text.append(raw_, eol + 2, n);
      at = eol + 2 + n + 2;
    }
    return text;
  }

  // Reads until `done(Text())` holds (true), or the peer closes or `timeout_ms` passes
  // (false; a closed peer sets eof()).
  // `pause_ms`: a slow client: it reads what has arrived, then sleeps that long.
  bool ReadUntil(const std::function<bool(const std::string&)>& done, int timeout_ms = 5000,
                 int pause_ms = 0) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!done(Text())) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0 || eof_) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) eof_ = true;
      else raw_.append(buf, static_cast<size_t>(n));
      pollfd more{fd_, POLLIN, 0};
      if (pause_ms > 0 && ::poll(&more, 1, 0) == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    }
    return true;
  }
  // Reads until the peer closes (true) or `timeout_ms` passes (false).
  bool ReadToEof(int timeout_ms = 5000) {
    ReadUntil([](const std::string&) { return false; }, timeout_ms);
    return eof_;
  }

  void CloseNow() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  const std::string& raw() const { return raw_; }
  bool eof() const { return eof_; }

 private:
  int fd_;
  std::string raw_;
  bool eof_ = false;
};

}  // namespace assent::testing
