// JavaScript bindings of the native addon. This file only converts arguments
// and errors; the work is done by the C modules it includes.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if.h>

#include "netns.h"
#include "tun.h"

namespace {

// Throws a JS Error whose `code` is the errno name (e.g. "ENOENT") and whose
// `errno` is the positive number, with a message saying what was being done.
[[noreturn]] void ThrowErrno(Napi::Env env, int negErrno, const std::string &what) {
  int err = -negErrno;
  Napi::Error e = Napi::Error::New(env, what + ": " + strerror(err));
  const char *name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, err));
  throw e;
}

std::string OptionalString(const Napi::Value &v) {
  if (v.IsUndefined() || v.IsNull()) return std::string();
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), "expected a string or null");
  return v.As<Napi::String>().Utf8Value();
}

// socketInNetns(netnsPath: string | null, domain: number, type: number, protocol: number): number
Napi::Value SocketInNetns(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber())
    throw Napi::TypeError::New(env, "socketInNetns(netnsPath, domain, type, protocol)");
  std::string path = OptionalString(info[0]);
  int fd = zm_socket_in_netns(path.c_str(), info[1].As<Napi::Number>().Int32Value(),
                              info[2].As<Napi::Number>().Int32Value(),
                              info[3].As<Napi::Number>().Int32Value());
  if (fd < 0) ThrowErrno(env, fd, "socket in network namespace '" + (path.empty() ? std::string("(current)") : path) + "'");
  return Napi::Number::New(env, fd);
}

// openTun(netnsPath: string | null, name: string, flags: number): { fd, name }
Napi::Value OpenTun(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsString() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "openTun(netnsPath, name, flags)");
  std::string path = OptionalString(info[0]);
  std::string name = info[1].As<Napi::String>().Utf8Value();
  char actual[IFNAMSIZ] = {0};
  int fd = zm_tun_open(path.c_str(), name.c_str(), info[2].As<Napi::Number>().Int32Value(), actual);
  if (fd < 0) ThrowErrno(env, fd, "open TUN '" + name + "' in network namespace '" + (path.empty() ? std::string("(current)") : path) + "'");
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, actual));
  return out;
}

// closeFd(fd: number): void
Napi::Value CloseFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "closeFd(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (close(fd) < 0) ThrowErrno(env, -errno, "close fd " + std::to_string(fd));
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("socketInNetns", Napi::Function::New(env, SocketInNetns));
  exports.Set("openTun", Napi::Function::New(env, OpenTun));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  Napi::Object c = Napi::Object::New(env);
  c.Set("AF_INET", Napi::Number::New(env, static_cast<int>(AF_INET)));
  c.Set("AF_INET6", Napi::Number::New(env, static_cast<int>(AF_INET6)));
  c.Set("AF_NETLINK", Napi::Number::New(env, static_cast<int>(AF_NETLINK)));
  c.Set("SOCK_STREAM", Napi::Number::New(env, static_cast<int>(SOCK_STREAM)));
  c.Set("SOCK_DGRAM", Napi::Number::New(env, static_cast<int>(SOCK_DGRAM)));
  c.Set("SOCK_RAW", Napi::Number::New(env, static_cast<int>(SOCK_RAW)));
  c.Set("TUN_VNET_HDR", Napi::Number::New(env, static_cast<int>(ZM_TUN_VNET_HDR)));
  c.Set("TUN_MULTI_QUEUE", Napi::Number::New(env, static_cast<int>(ZM_TUN_MULTI_QUEUE)));
  exports.Set("constants", c);
  return exports;
}

}  // namespace

NODE_API_MODULE(zmesh_native, Init)
