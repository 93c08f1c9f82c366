// JavaScript binding of nft.c: converts arguments, runs the command buffer on
// libuv's thread pool (nft.c then starts its own namespace-bound thread, so the
// pool thread never changes namespace) and settles a promise with the result.
#include "nft_addon.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "nft.h"

namespace {

// Commands are JSON documents zmesh builds; anything near this size is a bug.
constexpr size_t kMaxCommandBytes = 16u << 20;

/** "<what> in network namespace '<path>': <strerror>", with code (ENOENT...) and errno set. */
Napi::Error NetnsError(Napi::Env env, const char *what, const std::string &netnsPath, int err) {
  std::string where = netnsPath.empty() ? std::string("(current)") : netnsPath;
  Napi::Error e = Napi::Error::New(env, std::string(what) + " in network namespace '" + where + "': " + strerror(err));
  const char *name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, err));
  return e;
}

class NftWorker : public Napi::AsyncWorker {
public:
  NftWorker(Napi::Env env, std::string netnsPath, std::string commands)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        netnsPath_(std::move(netnsPath)),
        commands_(std::move(commands)) {}
  ~NftWorker() override { zm_nft_result_free(&result_); }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { rc_ = zm_nft_run(netnsPath_.c_str(), commands_.c_str(), &result_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (rc_ < 0) {
      deferred_.Reject(NetnsError(env, "run nftables commands", netnsPath_, -rc_).Value());
      return;
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("status", Napi::Number::New(env, result_.status));
    out.Set("output", Napi::String::New(env, result_.output));
    out.Set("error", Napi::String::New(env, result_.error));
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

private:
  Napi::Promise::Deferred deferred_;
  std::string netnsPath_;
  std::string commands_;
  zm_nft_result result_{0, nullptr, nullptr};
  int rc_ = 0;
};

class GenerationWorker : public Napi::AsyncWorker {
public:
  GenerationWorker(Napi::Env env, std::string netnsPath)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), netnsPath_(std::move(netnsPath)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { rc_ = zm_nft_generation(netnsPath_.c_str(), &generation_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (rc_ < 0) {
      deferred_.Reject(NetnsError(env, "read nftables generation", netnsPath_, -rc_).Value());
      return;
    }
    deferred_.Resolve(Napi::Number::New(env, generation_));
  }

  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

private:
  Napi::Promise::Deferred deferred_;
  std::string netnsPath_;
  uint32_t generation_ = 0;
  int rc_ = 0;
};

// nftGeneration(netnsPath: string | null): Promise<number>
Napi::Value NftGeneration(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !(info[0].IsString() || info[0].IsNull() || info[0].IsUndefined()))
    throw Napi::TypeError::New(env, "nftGeneration(netnsPath: string | null)");
  std::string path = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : std::string();
  auto *worker = new GenerationWorker(env, std::move(path));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// nftRun(netnsPath: string | null, commands: string): Promise<{ status, output, error }>
Napi::Value NftRun(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !(info[0].IsString() || info[0].IsNull() || info[0].IsUndefined()) || !info[1].IsString())
    throw Napi::TypeError::New(env, "nftRun(netnsPath: string | null, commands: string)");
  std::string path = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : std::string();
  std::string commands = info[1].As<Napi::String>().Utf8Value();
  if (commands.size() > kMaxCommandBytes || commands.find('\0') != std::string::npos) {
    Napi::Error e = Napi::Error::New(env, "nftRun: commands must be at most 16 MiB of text without NUL");
    e.Set("code", Napi::String::New(env, "EINVAL"));
    e.Set("errno", Napi::Number::New(env, EINVAL));
    throw e;
  }
  auto *worker = new NftWorker(env, std::move(path), std::move(commands));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitNft(Napi::Env env, Napi::Object exports) {
  exports.Set("nftRun", Napi::Function::New(env, NftRun));
  exports.Set("nftGeneration", Napi::Function::New(env, NftGeneration));
}
