// JavaScript bindings of the native addon. This file only converts arguments
// and errors; the work is done by the C modules it includes.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if.h>

#include "dataplane_addon.h"
#include "kernel_wg_addon.h"
#include "netns.h"
#include "nft_addon.h"
#include "sodium_addon.h"
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

// Throws a JS Error for an argument the caller got wrong, before anything is
// created: code "EINVAL", and a message naming the argument and the reason.
[[noreturn]] void ThrowInvalid(Napi::Env env, const std::string &what) {
  Napi::Error e = Napi::Error::New(env, what);
  e.Set("code", Napi::String::New(env, "EINVAL"));
  e.Set("errno", Napi::Number::New(env, EINVAL));
  throw e;
}

std::string NetnsLabel(const std::string &path) {
  return path.empty() ? std::string("(current)") : path;
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
                              info[2].As<Napi::Number>().Int32Value(), info[3].As<Napi::Number>().Int32Value());
  if (fd < 0) ThrowErrno(env, fd, "socket in network namespace '" + NetnsLabel(path) + "'");
  return Napi::Number::New(env, fd);
}

// openTun(netnsPath: string | null, name: string, flags: number): { fd, name }
Napi::Value OpenTun(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsString() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "openTun(netnsPath, name, flags)");
  std::string path = OptionalString(info[0]);
  std::string name = info[1].As<Napi::String>().Utf8Value();
  // The kernel would truncate or refuse silently-ish (ENAMETOOLONG, EINVAL);
  // say exactly what is wrong instead.
  if (name.size() >= IFNAMSIZ)
    ThrowInvalid(env, "TUN name '" + name + "' is " + std::to_string(name.size()) +
                          " bytes; Linux interface names are at most " + std::to_string(IFNAMSIZ - 1) + " bytes");
  if (name.find('/') != std::string::npos || name.find_first_of(" \t\n:") != std::string::npos || name == "." ||
      name == "..")
    ThrowInvalid(env, "TUN name '" + name + "' is not a valid interface name (no '/', ':', whitespace, '.' or '..')");
  char actual[IFNAMSIZ] = {0};
  int fd = zm_tun_open(path.c_str(), name.c_str(), info[2].As<Napi::Number>().Int32Value(), actual);
  if (fd < 0) ThrowErrno(env, fd, "open TUN '" + name + "' in network namespace '" + NetnsLabel(path) + "'");
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, actual));
  return out;
}

// udpSocketInNetns(netnsPath: string | null, family: 4 | 6, address: string, port: number)
//   : { fd, port }
Napi::Value UdpSocketInNetns(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[1].IsNumber() || !info[2].IsString() || !info[3].IsNumber())
    throw Napi::TypeError::New(env, "udpSocketInNetns(netnsPath, family, address, port)");
  std::string path = OptionalString(info[0]);
  double family = info[1].As<Napi::Number>().DoubleValue();
  std::string address = info[2].As<Napi::String>().Utf8Value();
  double port = info[3].As<Napi::Number>().DoubleValue();
  if (family != 4 && family != 6)
    ThrowInvalid(env, "udpSocketInNetns: family must be 4 or 6, got " + info[1].ToString().Utf8Value());
  if (!(port >= 0 && port <= 65535 && port == static_cast<int>(port)))
    ThrowInvalid(env, "udpSocketInNetns: port must be an integer 0..65535, got " + info[3].ToString().Utf8Value());
  unsigned char probe[16];
  if (inet_pton(family == 4 ? AF_INET : AF_INET6, address.c_str(), probe) != 1)
    ThrowInvalid(env, "udpSocketInNetns: address '" + address + "' is not a numeric IPv" + (family == 4 ? "4" : "6") +
                          " address");
  int bound = 0;
  int fd =
      zm_udp_socket_in_netns(path.c_str(), static_cast<int>(family), address.c_str(), static_cast<int>(port), &bound);
  if (fd < 0) {
    std::string where = family == 6 ? "[" + address + "]:" : address + ":";
    ThrowErrno(env, fd,
               "UDP socket on " + where + std::to_string(static_cast<int>(port)) + " in network namespace '" +
                   NetnsLabel(path) + "'");
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("port", Napi::Number::New(env, bound));
  return out;
}

// tcpListenInNetns(netnsPath: string | null, address: string, port: number, device: string): number
Napi::Value TcpListenInNetns(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[1].IsString() || !info[2].IsNumber() || !info[3].IsString())
    throw Napi::TypeError::New(env, "tcpListenInNetns(netnsPath, address, port, device)");
  std::string path = OptionalString(info[0]);
  std::string address = info[1].As<Napi::String>().Utf8Value();
  double port = info[2].As<Napi::Number>().DoubleValue();
  std::string device = info[3].As<Napi::String>().Utf8Value();
  if (!(port >= 1 && port <= 65535 && port == static_cast<int>(port)))
    ThrowInvalid(env, "tcpListenInNetns: port must be an integer 1..65535, got " + info[2].ToString().Utf8Value());
  unsigned char probe[4];
  if (inet_pton(AF_INET, address.c_str(), probe) != 1)
    ThrowInvalid(env, "tcpListenInNetns: address '" + address + "' is not a numeric IPv4 address");
  if (device.empty() || device.size() >= IFNAMSIZ)
    ThrowInvalid(env,
                 "tcpListenInNetns: device '" + device + "' must be 1.." + std::to_string(IFNAMSIZ - 1) + " bytes");
  int fd = zm_tcp_listen_in_netns(path.c_str(), address.c_str(), static_cast<int>(port), device.c_str());
  if (fd < 0)
    ThrowErrno(env, fd,
               "TCP listener on " + address + ":" + std::to_string(static_cast<int>(port)) + " (device " + device +
                   ") in network namespace '" + NetnsLabel(path) + "'");
  return Napi::Number::New(env, fd);
}

std::string LinkName(const Napi::CallbackInfo &info, size_t i, const char *fn) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": name must be a string");
  std::string name = info[i].As<Napi::String>().Utf8Value();
  if (name.empty() || name.size() >= IFNAMSIZ)
    ThrowInvalid(info.Env(),
                 std::string(fn) + ": link name '" + name + "' must be 1.." + std::to_string(IFNAMSIZ - 1) + " bytes");
  return name;
}

// setLinkMtu(netnsPath: string | null, name: string, mtu: number): void
Napi::Value SetLinkMtu(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = OptionalString(info[0]);
  std::string name = LinkName(info, 1, "setLinkMtu");
  if (info.Length() < 3 || !info[2].IsNumber()) throw Napi::TypeError::New(env, "setLinkMtu(netnsPath, name, mtu)");
  int mtu = info[2].As<Napi::Number>().Int32Value();
  if (mtu < 68 || mtu > 65535) ThrowInvalid(env, "setLinkMtu: mtu " + std::to_string(mtu) + " is outside 68..65535");
  int rc = zm_link_set_mtu(path.c_str(), name.c_str(), mtu);
  if (rc < 0)
    ThrowErrno(env, rc,
               "set MTU " + std::to_string(mtu) + " on '" + name + "' in network namespace '" + NetnsLabel(path) + "'");
  return env.Undefined();
}

// linkIndex(netnsPath: string | null, name: string): number (0: no such link)
Napi::Value LinkIndex(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = OptionalString(info[0]);
  std::string name = LinkName(info, 1, "linkIndex");
  int rc = zm_link_index(path.c_str(), name.c_str());
  if (rc < 0) ThrowErrno(env, rc, "look up link '" + name + "' in network namespace '" + NetnsLabel(path) + "'");
  return Napi::Number::New(env, rc);
}

std::string NetnsName(const Napi::CallbackInfo &info, const char *fn) {
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(fn) + "(name): name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (!zm_netns_name_valid(name.c_str()))
    ThrowInvalid(info.Env(), std::string(fn) + ": namespace name '" + name + "' must be 1.." +
                                 std::to_string(ZM_NETNS_NAME_MAX) + " bytes of [A-Za-z0-9_.-] and not '.' or '..'");
  return name;
}

// createNetns(name: string): string (the path /run/netns/NAME)
Napi::Value CreateNetns(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string name = NetnsName(info, "createNetns");
  char path[ZM_NETNS_PATH_MAX];
  int rc = zm_netns_create(name.c_str(), path);
  if (rc < 0) ThrowErrno(env, rc, "create network namespace '" + name + "' (" ZM_NETNS_RUN_DIR "/" + name + ")");
  return Napi::String::New(env, path);
}

// deleteNetns(name: string): void
Napi::Value DeleteNetns(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string name = NetnsName(info, "deleteNetns");
  int rc = zm_netns_delete(name.c_str());
  if (rc < 0) ThrowErrno(env, rc, "delete network namespace '" + name + "' (" ZM_NETNS_RUN_DIR "/" + name + ")");
  return env.Undefined();
}

// Leaves the entered namespace when the scope ends, whether fn returned or threw.
class NetnsScope {
public:
  explicit NetnsScope(zm_netns_guard g) : guard_(g) {}
  ~NetnsScope() { zm_netns_leave(&guard_); }
  NetnsScope(const NetnsScope &) = delete;
  NetnsScope &operator=(const NetnsScope &) = delete;

private:
  zm_netns_guard guard_;
};

// inNetns(netnsPath: string | null, fn: () => T): T
// The calling (JS) thread is in the namespace while fn runs, and back in its own afterwards,
// also when fn throws (the exception propagates after leaving).
Napi::Value InNetns(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "inNetns(netnsPath, fn): fn must be a function");
  std::string path = OptionalString(info[0]);
  Napi::Function fn = info[1].As<Napi::Function>();
  zm_netns_guard guard;
  int rc = zm_netns_enter(path.c_str(), &guard);
  if (rc < 0) ThrowErrno(env, rc, "enter network namespace '" + NetnsLabel(path) + "'");
  NetnsScope scope(guard);
  return fn.Call(env.Undefined(), {});
}

std::string SysctlKey(const Napi::CallbackInfo &info, const char *fn) {
  if (info.Length() < 2 || !info[1].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": key must be a string");
  std::string key = info[1].As<Napi::String>().Utf8Value();
  char path[256];
  if (zm_sysctl_path(key.c_str(), path, sizeof path) < 0)
    ThrowInvalid(info.Env(), std::string(fn) + ": sysctl key '" + key +
                                 "' refused: only per-namespace net.* keys of [A-Za-z0-9_-/] components are allowed");
  return key;
}

// writeSysctl(netnsPath: string | null, key: string, value: string): void
Napi::Value WriteSysctl(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = OptionalString(info[0]);
  std::string key = SysctlKey(info, "writeSysctl");
  if (info.Length() < 3 || !info[2].IsString())
    throw Napi::TypeError::New(env, "writeSysctl(netnsPath, key, value): value must be a string");
  std::string value = info[2].As<Napi::String>().Utf8Value();
  if (value.size() > 1024 || value.find('\0') != std::string::npos)
    ThrowInvalid(env, "writeSysctl: value for '" + key + "' must be at most 1024 bytes without NUL");
  int rc = zm_sysctl_write(path.c_str(), key.c_str(), value.c_str());
  if (rc < 0) ThrowErrno(env, rc, "write sysctl " + key + " in network namespace '" + NetnsLabel(path) + "'");
  return env.Undefined();
}

// readSysctl(netnsPath: string | null, key: string): string
Napi::Value ReadSysctl(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = OptionalString(info[0]);
  std::string key = SysctlKey(info, "readSysctl");
  char buf[4096];
  int rc = zm_sysctl_read(path.c_str(), key.c_str(), buf, sizeof buf);
  if (rc < 0) ThrowErrno(env, rc, "read sysctl " + key + " in network namespace '" + NetnsLabel(path) + "'");
  return Napi::String::New(env, buf, static_cast<size_t>(rc));
}

// netnsId(netnsPath: string | null): number (the namespace's inode; null: the calling thread's)
Napi::Value NetnsId(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info.Length() > 0 ? OptionalString(info[0]) : std::string();
  unsigned long long ino = 0;
  int rc = zm_netns_inode(path.c_str(), &ino);
  if (rc < 0) ThrowErrno(env, rc, "identify network namespace '" + NetnsLabel(path) + "'");
  return Napi::Number::New(env, static_cast<double>(ino));
}

// closeFd(fd: number): void
Napi::Value CloseFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "closeFd(fd)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (close(fd) < 0) ThrowErrno(env, -errno, "close fd " + std::to_string(fd));
  return env.Undefined();
}

// setSocketMark(fd: number, mark: number): void — SO_MARK (policy routing of what the socket sends).
Napi::Value SetSocketMark(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "setSocketMark(fd, mark)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  double m = info[1].As<Napi::Number>().DoubleValue();
  if (!(m >= 0 && m <= 4294967295.0) || m != static_cast<double>(static_cast<uint32_t>(m)))
    throw Napi::TypeError::New(env, "setSocketMark: mark is a 32-bit unsigned integer");
  uint32_t mark = static_cast<uint32_t>(m);
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0)
    ThrowErrno(env, -errno, "set SO_MARK on fd " + std::to_string(fd));
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("socketInNetns", Napi::Function::New(env, SocketInNetns));
  exports.Set("openTun", Napi::Function::New(env, OpenTun));
  exports.Set("udpSocketInNetns", Napi::Function::New(env, UdpSocketInNetns));
  exports.Set("tcpListenInNetns", Napi::Function::New(env, TcpListenInNetns));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("setSocketMark", Napi::Function::New(env, SetSocketMark));
  exports.Set("setLinkMtu", Napi::Function::New(env, SetLinkMtu));
  exports.Set("linkIndex", Napi::Function::New(env, LinkIndex));
  exports.Set("createNetns", Napi::Function::New(env, CreateNetns));
  exports.Set("deleteNetns", Napi::Function::New(env, DeleteNetns));
  exports.Set("inNetns", Napi::Function::New(env, InNetns));
  exports.Set("writeSysctl", Napi::Function::New(env, WriteSysctl));
  exports.Set("readSysctl", Napi::Function::New(env, ReadSysctl));
  exports.Set("netnsId", Napi::Function::New(env, NetnsId));
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
  InitDataplane(env, exports);
  InitKernelWg(env, exports);
  InitNft(env, exports);
  InitSodium(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(zmesh_native, Init)
