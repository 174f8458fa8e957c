// cpp-httplib with httplib::Server's private members visible to subclasses.
//
// Why: cpp-httplib 0.11 has no accept hook and does not expose the peer's UID, so the
// Unix listener overrides the private virtual process_and_close_socket() to read
// SO_PEERCRED and then calls the base implementation — which C++ allows only if the
// member is accessible. Access specifiers do not change the class layout in GCC or
// Clang, so this is ABI-compatible with the shared library. http/connection.h builds on
// the same seam: its own keep-alive loop around the protected process_request(). This
// header is included by http/connection.h, http/server.cc and their tests only;
// tests/unit/http/server_test.cc (PeerCredSeamRefusesForeignUid, Connection*) fails
// loudly if the seam moves in an upgrade.
#pragma once

// Every standard and system header httplib.h pulls in, first, so the macro below
// touches only httplib's own declarations.
#include <arpa/inet.h>
#include <brotli/decode.h>
#include <brotli/encode.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cctype>
#include <climits>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#define private protected
#include <httplib.h>
#undef private
