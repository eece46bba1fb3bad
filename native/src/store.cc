// Wire protocol shared with src/engine/store-server.ts (keep the two in step):
//   frame  = u32 LE length | u8 code | field*        field = u32 LE length | bytes
//   request codes: 1 auth [secret], 2 set [key, value], 3 get [waitMs, key], 4 add [key, delta],
//                  5 check [key…], 6 compareSet [key, expected, desired], 7 delete [key], 8 numKeys [],
//                  9 wait [waitMs, key…]          (waitMs "0" = no bound)
//   reply codes:   0 ok [value…], 1 error [message], 2 timeout [message]
// The first frame of a connection must be auth with the job's secret; the server closes it otherwise.
#include "store.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace distml {
namespace {

enum Op : uint8_t { kAuth = 1, kSet, kGet, kAdd, kCheck, kCompareSet, kDelete, kNumKeys, kWait };
enum Reply : uint8_t { kOk = 0, kError = 1, kTimeout = 2 };

void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t getU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::string bytes(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }
std::vector<uint8_t> vec(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// Opens a TCP connection to host:port, or returns -1 (errno says why).
int dial(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (auto* a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

void setRecvTimeout(int fd, std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = t.count() / 1000;
  tv.tv_usec = (t.count() % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

}  // namespace

SecretStore::SecretStore(std::string host, uint16_t port, const std::string& secret,
                         std::chrono::milliseconds timeout)
    : c10d::Store(timeout), host_(std::move(host)), port_(port) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while ((fd_ = dial(host_, port_)) < 0) {
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("cannot reach the rendezvous store at " + where() + " within " +
                               std::to_string(timeout.count() / 1000) + " s: " + std::strerror(errno));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  try {
    call(kAuth, {secret}, std::chrono::milliseconds(0));
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("the rendezvous store refused this worker: ") + e.what() +
                             " (is DISTML_JOB_SECRET the job's secret?)");
  }
}

SecretStore::~SecretStore() {
  if (fd_ >= 0) close(fd_);
}

std::string SecretStore::where() const { return host_ + ":" + std::to_string(port_); }

void SecretStore::sendAll(const std::string& out) {
  size_t sent = 0;
  while (sent < out.size()) {
    auto n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("lost the rendezvous store at " + where() + ": " + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
}

void SecretStore::recvAll(char* into, size_t n) {
  size_t got = 0;
  while (got < n) {
    auto r = ::recv(fd_, into + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      throw std::runtime_error("the rendezvous store at " + where() + " did not answer in time");
    if (r == 0) throw std::runtime_error("the rendezvous store at " + where() + " closed the connection");
    if (r < 0) throw std::runtime_error("lost the rendezvous store at " + where() + ": " + std::strerror(errno));
    got += static_cast<size_t>(r);
  }
}

SecretStore::Fields SecretStore::call(uint8_t op, const Fields& fields, std::chrono::milliseconds waitMs) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) throw std::runtime_error("the connection to the rendezvous store at " + where() + " is broken");
  std::string body(1, static_cast<char>(op));
  for (const auto& f : fields) {
    putU32(body, static_cast<uint32_t>(f.size()));
    body += f;
  }
  std::string frame;
  putU32(frame, static_cast<uint32_t>(body.size()));
  frame += body;
  // A reply the server may hold back gets that long plus the store's timeout; no bound stays no bound.
  bool unbounded = (op == kGet || op == kWait) && waitMs.count() == 0;
  setRecvTimeout(fd_, unbounded ? std::chrono::milliseconds(0) : waitMs + timeout_);
  Fields reply;
  uint8_t code = kError;
  try {
    sendAll(frame);
    char head[4];
    recvAll(head, 4);
    std::string in(getU32(head), '\0');
    if (in.empty()) throw std::runtime_error("empty reply from the rendezvous store at " + where());
    recvAll(in.data(), in.size());
    code = static_cast<uint8_t>(in[0]);
    for (size_t at = 1; at + 4 <= in.size();) {
      uint32_t len = getU32(in.data() + at);
      if (at + 4 + len > in.size()) throw std::runtime_error("malformed reply from the rendezvous store");
      reply.emplace_back(in.substr(at + 4, len));
      at += 4 + len;
    }
  } catch (...) {
    // A half-read reply leaves the stream out of step: no later call may use it.
    close(fd_);
    fd_ = -1;
    throw;
  }
  if (code == kOk) return reply;
  auto message = reply.empty() ? std::string("no message") : reply[0];
  if (code == kTimeout) throw std::runtime_error("Socket Timeout: " + message);
  throw std::runtime_error(message);
}

void SecretStore::set(const std::string& key, const std::vector<uint8_t>& value) {
  call(kSet, {key, bytes(value)}, std::chrono::milliseconds(0));
}

std::vector<uint8_t> SecretStore::compareSet(const std::string& key, const std::vector<uint8_t>& expected,
                                             const std::vector<uint8_t>& desired) {
  return vec(call(kCompareSet, {key, bytes(expected), bytes(desired)}, std::chrono::milliseconds(0)).at(0));
}

// Like TCPStore: waits up to the store's timeout for the key to exist.
std::vector<uint8_t> SecretStore::get(const std::string& key) {
  return vec(call(kGet, {std::to_string(timeout_.count()), key}, timeout_).at(0));
}

int64_t SecretStore::add(const std::string& key, int64_t value) {
  return std::stoll(call(kAdd, {key, std::to_string(value)}, std::chrono::milliseconds(0)).at(0));
}

bool SecretStore::deleteKey(const std::string& key) {
  return call(kDelete, {key}, std::chrono::milliseconds(0)).at(0) == "1";
}

bool SecretStore::check(const std::vector<std::string>& keys) {
  return call(kCheck, keys, std::chrono::milliseconds(0)).at(0) == "1";
}

int64_t SecretStore::getNumKeys() { return std::stoll(call(kNumKeys, {}, std::chrono::milliseconds(0)).at(0)); }

void SecretStore::wait(const std::vector<std::string>& keys) { wait(keys, timeout_); }

void SecretStore::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  Fields fields{std::to_string(timeout.count())};
  fields.insert(fields.end(), keys.begin(), keys.end());
  call(kWait, fields, timeout);
}

}  // namespace distml
