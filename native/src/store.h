// A c10d::Store client for distml's own rendezvous store server (src/engine/store-server.ts). libtorch
// 1.13's TCPStore server binds every interface and has no authentication; ours listens where it is told
// (127.0.0.1 by default) and serves a connection only once it has presented the job's secret.
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace distml {

class SecretStore : public c10d::Store {
 public:
  // Connects (retrying until `timeout`: the server may still be starting) and authenticates with `secret`.
  SecretStore(std::string host, uint16_t port, const std::string& secret, std::chrono::milliseconds timeout);
  ~SecretStore() override;

  void set(const std::string& key, const std::vector<uint8_t>& value) override;
  std::vector<uint8_t> compareSet(const std::string& key, const std::vector<uint8_t>& expected,
                                  const std::vector<uint8_t>& desired) override;
  std::vector<uint8_t> get(const std::string& key) override;
  int64_t add(const std::string& key, int64_t value) override;
  bool deleteKey(const std::string& key) override;
  bool check(const std::vector<std::string>& keys) override;
  int64_t getNumKeys() override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

  uint16_t port() const { return port_; }

 private:
  using Fields = std::vector<std::string>;
  // One request and its reply; `waitMs` is how long the server may hold the reply back (0 = no bound).
  Fields call(uint8_t op, const Fields& fields, std::chrono::milliseconds waitMs);
  void sendAll(const std::string& bytes);
  void recvAll(char* into, size_t n);
  std::string where() const;

  std::string host_;
  uint16_t port_;
  int fd_ = -1;
  std::mutex mu_;
};

}  // namespace distml
