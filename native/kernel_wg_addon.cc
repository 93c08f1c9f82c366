// JavaScript bindings of kernel WireGuard: converts the JS device description
// to a wgk_device (validating every field, naming it in the error), calls
// wgk_device.c / wgk_message.c, and converts results and errors back. Key
// bytes copied here are zeroed before returning; no key is ever put into an
// error message.
#include "kernel_wg_addon.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "genl.h"
#include "wgk_device.h"
#include "wgk_message.h"

namespace {

// Owns a wgk_device for one call; frees it (zeroing keys) on every path.
struct DeviceHolder {
  wgk_device d;
  DeviceHolder() { std::memset(&d, 0, sizeof d); }
  ~DeviceHolder() { wgk_device_free(&d); }
  DeviceHolder(const DeviceHolder &) = delete;
  DeviceHolder &operator=(const DeviceHolder &) = delete;
};

[[noreturn]] void ThrowInvalid(Napi::Env env, const std::string &what) {
  Napi::Error e = Napi::Error::New(env, what);
  e.Set("code", Napi::String::New(env, "EINVAL"));
  e.Set("errno", Napi::Number::New(env, EINVAL));
  throw e;
}

std::string NetnsLabel(const std::string &path) { return path.empty() ? std::string("(current)") : path; }

std::string OptionalString(const Napi::Value &v, const char *field) {
  if (v.IsUndefined() || v.IsNull()) return std::string();
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), std::string(field) + " must be a string or null");
  return v.As<Napi::String>().Utf8Value();
}

// Throws an Error for a failed kernel request: what was being done, where,
// the errno (code/errno) and the kernel's own reason when it gave one.
[[noreturn]] void ThrowKernel(Napi::Env env, int negErrno, const std::string &what, const wgk_error_info &info) {
  int err = -negErrno;
  std::string message = what;
  if (info.stage && info.stage[0]) message += " (" + std::string(info.stage);
  if (info.message_index > 0) {
    message += " message " + std::to_string(info.message_index);
    if (info.end_peer > info.first_peer)
      message += ", peers " + std::to_string(info.first_peer) + ".." + std::to_string(info.end_peer - 1);
  }
  if (info.stage && info.stage[0]) message += ")";
  message += ": " + std::string(strerror(err));
  if (info.ext_ack[0]) message += " (kernel: " + std::string(info.ext_ack) + ")";
  Napi::Error e = Napi::Error::New(env, message);
  const char *name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, err));
  if (info.stage) e.Set("stage", Napi::String::New(env, info.stage));
  if (info.message_index > 0) e.Set("messageIndex", Napi::Number::New(env, static_cast<double>(info.message_index)));
  if (info.ext_ack[0]) e.Set("kernelMessage", Napi::String::New(env, info.ext_ack));
  throw e;
}

std::string IfName(Napi::Env env, const Napi::Value &v, const std::string &field) {
  if (!v.IsString()) ThrowInvalid(env, field + " must be a string");
  std::string name = v.As<Napi::String>().Utf8Value();
  if (name.empty() || name.size() >= IFNAMSIZ)
    ThrowInvalid(env, field + " '" + name + "' is " + std::to_string(name.size()) + " bytes; an interface name is 1.." +
                          std::to_string(IFNAMSIZ - 1) + " bytes");
  if (name.find_first_of("/: \t\n") != std::string::npos || name == "." || name == "..")
    ThrowInvalid(env, field + " '" + name + "' is not a valid interface name (no '/', ':', whitespace, '.' or '..')");
  return name;
}

// Field names for error messages are built only when an error is thrown: a
// 10,000-peer request would otherwise format tens of thousands of them.
template <typename Field>
[[noreturn]] void ThrowField(Napi::Env env, const Field &field, const std::string &reason) {
  ThrowInvalid(env, field() + reason);
}

// Copies a 32-byte key; the message names the field, never the bytes.
template <typename Field>
void Key(Napi::Env env, const Napi::Value &v, const Field &field, uint8_t out[WGK_KEY_LEN]) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    ThrowField(env, field, " must be a Uint8Array of " + std::to_string(WGK_KEY_LEN) + " bytes");
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  if (a.ElementLength() != WGK_KEY_LEN)
    ThrowField(env, field, " must be " + std::to_string(WGK_KEY_LEN) + " bytes, got " + std::to_string(a.ElementLength()));
  std::memcpy(out, a.Data(), WGK_KEY_LEN);
}

template <typename Field>
double Integer(Napi::Env env, const Napi::Value &v, const Field &field, double max) {
  if (!v.IsNumber()) ThrowField(env, field, " must be a number");
  double n = v.As<Napi::Number>().DoubleValue();
  if (!(n >= 0 && n <= max && n == static_cast<double>(static_cast<uint64_t>(n))))
    ThrowField(env, field, " must be an integer 0.." + std::to_string(static_cast<uint64_t>(max)) + ", got " + v.ToString().Utf8Value());
  return n;
}

double Integer(Napi::Env env, const Napi::Value &v, const char *field, double max) {
  return Integer(env, v, [field] { return std::string(field); }, max);
}

template <typename Field>
bool Flag(Napi::Env env, const Napi::Value &v, const Field &field) {
  if (v.IsUndefined()) return false;
  if (!v.IsBoolean()) ThrowField(env, field, " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

// A short string value (an endpoint, an address/prefix) into `out` without a
// heap allocation; longer than `cap - 1` bytes is invalid.
template <typename Field>
size_t ShortString(Napi::Env env, const Napi::Value &v, const Field &field, const char *expected, char *out, size_t cap) {
  if (!v.IsString()) ThrowField(env, field, std::string(" must be a string ") + expected);
  size_t len = 0;
  napi_status st = napi_get_value_string_utf8(env, v, out, cap, &len);
  if (st != napi_ok) throw Napi::Error::New(env, "cannot read a string");
  if (len >= cap - 1) ThrowField(env, field, std::string(" is too long for ") + expected);
  return len;
}

// Property names looked up once per call, not once per peer.
struct PeerKeys {
  Napi::String publicKey, remove, updateOnly, replaceAllowedIps, presharedKey, endpoint, persistentKeepalive, allowedIps;
  explicit PeerKeys(Napi::Env env)
      : publicKey(Napi::String::New(env, "publicKey")),
        remove(Napi::String::New(env, "remove")),
        updateOnly(Napi::String::New(env, "updateOnly")),
        replaceAllowedIps(Napi::String::New(env, "replaceAllowedIps")),
        presharedKey(Napi::String::New(env, "presharedKey")),
        endpoint(Napi::String::New(env, "endpoint")),
        persistentKeepalive(Napi::String::New(env, "persistentKeepalive")),
        allowedIps(Napi::String::New(env, "allowedIps")) {}
};

// "a.b.c.d:port" or "[v6]:port".
template <typename Field>
void Endpoint(Napi::Env env, const char *text, size_t len, const Field &field, wgk_endpoint *out) {
  auto quoted = [&] { return " '" + std::string(text, len) + "'"; };
  char host[INET6_ADDRSTRLEN + 1];
  const char *port;
  size_t host_len;
  if (len > 0 && text[0] == '[') {
    const char *close = static_cast<const char *>(std::memchr(text, ']', len));
    if (!close || close + 1 >= text + len || close[1] != ':') ThrowField(env, field, quoted() + " must be [IPv6]:port");
    host_len = static_cast<size_t>(close - text - 1);
    if (host_len >= sizeof host) ThrowField(env, field, quoted() + ": not a numeric IP address");
    std::memcpy(host, text + 1, host_len);
    port = close + 2;
  } else {
    const char *colon = static_cast<const char *>(memrchr(text, ':', len));
    if (!colon) ThrowField(env, field, quoted() + " must be IPv4:port or [IPv6]:port");
    host_len = static_cast<size_t>(colon - text);
    if (host_len >= sizeof host) ThrowField(env, field, quoted() + ": not a numeric IP address");
    std::memcpy(host, text, host_len);
    port = colon + 1;
  }
  host[host_len] = '\0';
  size_t port_len = static_cast<size_t>(text + len - port);
  unsigned long port_value = 0;
  bool port_ok = port_len > 0 && port_len <= 5;
  for (size_t i = 0; port_ok && i < port_len; i++) {
    if (port[i] < '0' || port[i] > '9') port_ok = false;
    else port_value = port_value * 10 + static_cast<unsigned long>(port[i] - '0');
  }
  if (!port_ok || port_value > 65535) ThrowField(env, field, quoted() + ": port must be 0..65535");
  std::memset(out, 0, sizeof *out);
  uint16_t p = htons(static_cast<uint16_t>(port_value));
  if (text[0] != '[' && inet_pton(AF_INET, host, &out->addr4.sin_addr) == 1) {
    out->addr4.sin_family = AF_INET;
    out->addr4.sin_port = p;
  } else if (text[0] == '[' && inet_pton(AF_INET6, host, &out->addr6.sin6_addr) == 1) {
    out->addr6.sin6_family = AF_INET6;
    out->addr6.sin6_port = p;
  } else {
    ThrowField(env, field, quoted() + ": '" + std::string(host) + "' is not a numeric IP address");
  }
}

// "address/cidr"; host bits are kept (the kernel clears them).
template <typename Field>
void AllowedIp(Napi::Env env, const Napi::Value &v, const Field &field, wgk_allowedip *out) {
  char text[INET6_ADDRSTRLEN + 8];
  size_t len = ShortString(env, v, field, "'address/prefix'", text, sizeof text);
  auto quoted = [&] { return " '" + std::string(text, len) + "'"; };
  char *slash = static_cast<char *>(std::memchr(text, '/', len));
  if (!slash) ThrowField(env, field, quoted() + " must be 'address/prefix'");
  *slash = '\0';
  const char *bits = slash + 1;
  size_t bits_len = static_cast<size_t>(text + len - bits);
  std::memset(out, 0, sizeof *out);
  unsigned max;
  if (inet_pton(AF_INET, text, out->addr) == 1) {
    out->family = AF_INET;
    max = 32;
  } else if (inet_pton(AF_INET6, text, out->addr) == 1) {
    out->family = AF_INET6;
    max = 128;
  } else {
    *slash = '/';
    ThrowField(env, field, quoted() + ": '" + std::string(text, static_cast<size_t>(slash - text)) + "' is not a numeric IP address");
  }
  unsigned value = 0;
  bool ok = bits_len > 0 && bits_len <= 3;
  for (size_t i = 0; ok && i < bits_len; i++) {
    if (bits[i] < '0' || bits[i] > '9') ok = false;
    else value = value * 10 + static_cast<unsigned>(bits[i] - '0');
  }
  if (!ok || value > max) {
    *slash = '/';
    ThrowField(env, field, quoted() + ": prefix length must be 0.." + std::to_string(max));
  }
  out->cidr = static_cast<uint8_t>(value);
}

void Peer(Napi::Env env, const Napi::Value &v, uint32_t index, const PeerKeys &k, wgk_device *d) {
  auto field = [index] { return "peers[" + std::to_string(index) + "]"; };
  if (!v.IsObject()) ThrowField(env, field, " must be an object");
  Napi::Object o = v.As<Napi::Object>();
  wgk_peer *p = wgk_device_add_peer(d);
  if (!p) throw Napi::Error::New(env, "out of memory");
  Key(env, o.Get(k.publicKey), [&] { return field() + ".publicKey"; }, p->public_key);
  if (Flag(env, o.Get(k.remove), [&] { return field() + ".remove"; })) p->flags |= WGPEER_F_REMOVE_ME;
  if (Flag(env, o.Get(k.updateOnly), [&] { return field() + ".updateOnly"; })) p->flags |= WGPEER_F_UPDATE_ONLY;
  if (Flag(env, o.Get(k.replaceAllowedIps), [&] { return field() + ".replaceAllowedIps"; })) p->flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
  Napi::Value psk = o.Get(k.presharedKey);
  if (psk.IsNull()) {
    p->has |= WGK_PEER_HAS_PRESHARED_KEY;  // all zeros: remove
  } else if (!psk.IsUndefined()) {
    Key(env, psk, [&] { return field() + ".presharedKey"; }, p->preshared_key);
    p->has |= WGK_PEER_HAS_PRESHARED_KEY;
  }
  Napi::Value endpoint = o.Get(k.endpoint);
  if (!endpoint.IsUndefined() && !endpoint.IsNull()) {
    auto endpointField = [&] { return field() + ".endpoint"; };
    char text[INET6_ADDRSTRLEN + 16];
    size_t len = ShortString(env, endpoint, endpointField, "'IPv4:port' or '[IPv6]:port'", text, sizeof text);
    Endpoint(env, text, len, endpointField, &p->endpoint);
    p->has |= WGK_PEER_HAS_ENDPOINT;
  }
  Napi::Value keepalive = o.Get(k.persistentKeepalive);
  if (!keepalive.IsUndefined()) {
    p->persistent_keepalive = static_cast<uint16_t>(Integer(env, keepalive, [&] { return field() + ".persistentKeepalive"; }, 65535));
    p->has |= WGK_PEER_HAS_KEEPALIVE;
  }
  Napi::Value ips = o.Get(k.allowedIps);
  if (!ips.IsUndefined()) {
    if (!ips.IsArray()) ThrowField(env, field, ".allowedIps must be an array");
    Napi::Array a = ips.As<Napi::Array>();
    uint32_t n = a.Length();
    for (uint32_t i = 0; i < n; i++) {
      wgk_allowedip *slot = wgk_peer_add_allowedip(p);
      if (!slot) throw Napi::Error::New(env, "out of memory");
      AllowedIp(env, a.Get(i), [&] { return field() + ".allowedIps[" + std::to_string(i) + "]"; }, slot);
    }
  }
}

// The JS device description -> wgk_device; throws (naming the field) before anything is sent.
void Device(Napi::Env env, const Napi::Value &v, wgk_device *d) {
  if (!v.IsObject()) ThrowInvalid(env, "device must be an object");
  Napi::Object o = v.As<Napi::Object>();
  std::string name = IfName(env, o.Get("ifname"), "ifname");
  std::memcpy(d->ifname, name.c_str(), name.size() + 1);
  Napi::Value key = o.Get("privateKey");
  if (key.IsNull()) {
    d->has |= WGK_DEVICE_HAS_PRIVATE_KEY;  // all zeros: remove
  } else if (!key.IsUndefined()) {
    Key(env, key, [] { return std::string("privateKey"); }, d->private_key);
    d->has |= WGK_DEVICE_HAS_PRIVATE_KEY;
  }
  Napi::Value port = o.Get("listenPort");
  if (!port.IsUndefined()) {
    d->listen_port = static_cast<uint16_t>(Integer(env, port, "listenPort", 65535));
    d->has |= WGK_DEVICE_HAS_LISTEN_PORT;
  }
  Napi::Value fwmark = o.Get("fwmark");
  if (!fwmark.IsUndefined()) {
    d->fwmark = static_cast<uint32_t>(Integer(env, fwmark, "fwmark", 4294967295.0));
    d->has |= WGK_DEVICE_HAS_FWMARK;
  }
  if (Flag(env, o.Get("replacePeers"), [] { return std::string("device.replacePeers"); })) d->flags |= WGDEVICE_F_REPLACE_PEERS;
  Napi::Value peers = o.Get("peers");
  if (!peers.IsUndefined()) {
    if (!peers.IsArray()) ThrowInvalid(env, "peers must be an array");
    Napi::Array a = peers.As<Napi::Array>();
    uint32_t n = a.Length();
    PeerKeys keys(env);
    for (uint32_t i = 0; i < n; i++) Peer(env, a.Get(i), i, keys, d);
  }
}

bool IsZero(const uint8_t *b, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++) acc |= b[i];
  return acc == 0;
}

Napi::Value KeyBuffer(Napi::Env env, const uint8_t *key) {
  return Napi::Buffer<uint8_t>::Copy(env, key, WGK_KEY_LEN);
}

std::string FormatEndpoint(const wgk_endpoint &e) {
  char host[INET6_ADDRSTRLEN];
  if (e.addr.sa_family == AF_INET) {
    inet_ntop(AF_INET, &e.addr4.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(e.addr4.sin_port));
  }
  inet_ntop(AF_INET6, &e.addr6.sin6_addr, host, sizeof host);
  return "[" + std::string(host) + "]:" + std::to_string(ntohs(e.addr6.sin6_port));
}

Napi::Object DeviceObject(Napi::Env env, const wgk_device &d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ifname", Napi::String::New(env, d.ifname));
  o.Set("ifindex", Napi::Number::New(env, d.ifindex));
  bool hasPrivate = (d.has & WGK_DEVICE_HAS_PRIVATE_KEY) && !IsZero(d.private_key, WGK_KEY_LEN);
  o.Set("privateKey", hasPrivate ? KeyBuffer(env, d.private_key) : env.Null());
  bool hasPublic = (d.has & WGK_DEVICE_HAS_PUBLIC_KEY) && !IsZero(d.public_key, WGK_KEY_LEN);
  o.Set("publicKey", hasPublic ? KeyBuffer(env, d.public_key) : env.Null());
  o.Set("listenPort", Napi::Number::New(env, d.listen_port));
  o.Set("fwmark", Napi::Number::New(env, d.fwmark));
  Napi::Array peers = Napi::Array::New(env, d.n_peers);
  for (size_t i = 0; i < d.n_peers; i++) {
    const wgk_peer &p = d.peers[i];
    Napi::Object po = Napi::Object::New(env);
    po.Set("publicKey", KeyBuffer(env, p.public_key));
    bool hasPsk = (p.has & WGK_PEER_HAS_PRESHARED_KEY) && !IsZero(p.preshared_key, WGK_KEY_LEN);
    po.Set("presharedKey", hasPsk ? KeyBuffer(env, p.preshared_key) : env.Null());
    po.Set("endpoint", (p.has & WGK_PEER_HAS_ENDPOINT) && p.endpoint.addr.sa_family
                           ? Napi::Value(Napi::String::New(env, FormatEndpoint(p.endpoint)))
                           : env.Null());
    po.Set("persistentKeepalive", Napi::Number::New(env, p.persistent_keepalive));
    po.Set("lastHandshakeSec", Napi::Number::New(env, static_cast<double>(p.last_handshake_sec)));
    po.Set("lastHandshakeNsec", Napi::Number::New(env, static_cast<double>(p.last_handshake_nsec)));
    po.Set("rxBytes", Napi::Number::New(env, static_cast<double>(p.rx_bytes)));
    po.Set("txBytes", Napi::Number::New(env, static_cast<double>(p.tx_bytes)));
    po.Set("protocolVersion", Napi::Number::New(env, p.protocol_version));
    if (p.flags) po.Set("flags", Napi::Number::New(env, p.flags));
    Napi::Array ips = Napi::Array::New(env, p.n_allowedips);
    char host[INET6_ADDRSTRLEN];
    for (size_t j = 0; j < p.n_allowedips; j++) {
      const wgk_allowedip &a = p.allowedips[j];
      inet_ntop(a.family == AF_INET6 ? AF_INET6 : AF_INET, a.addr, host, sizeof host);
      ips.Set(static_cast<uint32_t>(j), Napi::String::New(env, std::string(host) + "/" + std::to_string(a.cidr)));
    }
    po.Set("allowedIps", ips);
    peers.Set(static_cast<uint32_t>(i), po);
  }
  o.Set("peers", peers);
  if (d.flags) o.Set("flags", Napi::Number::New(env, d.flags));
  return o;
}

// wgFamilyAvailable(netnsPath: string | null): boolean
Napi::Value FamilyAvailable(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = OptionalString(info[0], "netnsPath");
  int rc = wgk_family_available(path.c_str());
  if (rc < 0) {
    wgk_error_info ei{};
    ei.stage = "resolve generic netlink family " WG_GENL_NAME;
    ThrowKernel(env, rc, "kernel WireGuard probe in network namespace '" + NetnsLabel(path) + "'", ei);
  }
  return Napi::Boolean::New(env, rc == 1);
}

// wgSetDevice(netnsPath: string | null, device: KernelWgSet, options?: { window?: number, maxMessage?: number }): SetStats
// The stats say how the request went (messages, bytes, time in the kernel), for benchmarks.
Napi::Value SetDevice(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = OptionalString(info[0], "netnsPath");
  wgk_set_options options{};
  if (info.Length() > 2 && info[2].IsObject()) {
    Napi::Object o = info[2].As<Napi::Object>();
    Napi::Value w = o.Get("window");
    if (!w.IsUndefined()) options.window = static_cast<unsigned>(Integer(env, w, "window", WGK_SET_WINDOW_MAX));
    Napi::Value m = o.Get("maxMessage");
    if (!m.IsUndefined()) options.max_message = static_cast<size_t>(Integer(env, m, "maxMessage", WGK_MESSAGE_MAX));
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  DeviceHolder h;
  Device(env, info[1], &h.d);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  wgk_error_info ei{};
  wgk_set_stats stats{};
  int rc = wgk_set_device(path.c_str(), &h.d, &options, &ei, &stats);
  if (rc < 0)
    ThrowKernel(env, rc, "set kernel WireGuard device '" + std::string(h.d.ifname) + "' in network namespace '" + NetnsLabel(path) + "'", ei);
  auto ms = [](uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  Napi::Object out = Napi::Object::New(env);
  out.Set("messages", Napi::Number::New(env, static_cast<double>(stats.messages)));
  out.Set("bytes", Napi::Number::New(env, static_cast<double>(stats.bytes)));
  out.Set("convertMs", Napi::Number::New(env, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6));
  out.Set("encodeMs", Napi::Number::New(env, ms(stats.encode_ns)));
  out.Set("sendMs", Napi::Number::New(env, ms(stats.send_ns)));
  out.Set("maxSendMs", Napi::Number::New(env, ms(stats.max_send_ns)));
  out.Set("ackMs", Napi::Number::New(env, ms(stats.ack_ns)));
  return out;
}

// wgGetDevice(netnsPath: string | null, ifname: string): KernelWgDeviceRaw
Napi::Value GetDevice(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = OptionalString(info[0], "netnsPath");
  std::string name = IfName(env, info[1], "ifname");
  DeviceHolder h;
  wgk_error_info ei{};
  int rc = wgk_get_device(path.c_str(), name.c_str(), &h.d, &ei);
  if (rc < 0) ThrowKernel(env, rc, "get kernel WireGuard device '" + name + "' in network namespace '" + NetnsLabel(path) + "'", ei);
  return DeviceObject(env, h.d);
}

// wgCreateLink(netnsPath: string | null, name: string, moveToNetnsPath: string | null, mtu: number): void
Napi::Value CreateLink(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = OptionalString(info[0], "netnsPath");
  std::string name = IfName(env, info[1], "name");
  std::string moveTo = OptionalString(info[2], "moveToNetnsPath");
  int mtu = 0;
  if (info.Length() > 3 && !info[3].IsUndefined()) {
    double m = Integer(env, info[3], "mtu", 65535);
    if (m != 0 && m < 68) ThrowInvalid(env, "mtu " + std::to_string(static_cast<int>(m)) + " is outside 68..65535");
    mtu = static_cast<int>(m);
  }
  wgk_error_info ei{};
  int rc = wgk_link_create(path.c_str(), name.c_str(), moveTo.c_str(), mtu, &ei);
  if (rc < 0)
    ThrowKernel(env, rc, "create WireGuard link '" + name + "' through network namespace '" + NetnsLabel(path) + "'" +
                             (moveTo.empty() ? std::string() : " into '" + moveTo + "'"), ei);
  return env.Undefined();
}

// wgDeleteLink(netnsPath: string | null, name: string): void
Napi::Value DeleteLink(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = OptionalString(info[0], "netnsPath");
  std::string name = IfName(env, info[1], "name");
  wgk_error_info ei{};
  int rc = wgk_link_delete(path.c_str(), name.c_str(), &ei);
  if (rc < 0) ThrowKernel(env, rc, "delete link '" + name + "' in network namespace '" + NetnsLabel(path) + "'", ei);
  return env.Undefined();
}

void CollectName(const char *name, void *ctx) { static_cast<std::vector<std::string> *>(ctx)->emplace_back(name); }

// wgListLinks(netnsPath: string | null): string[]
Napi::Value ListLinks(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = OptionalString(info[0], "netnsPath");
  std::vector<std::string> names;
  wgk_error_info ei{};
  int rc = wgk_link_list(path.c_str(), CollectName, &names, &ei);
  if (rc < 0) ThrowKernel(env, rc, "list WireGuard links in network namespace '" + NetnsLabel(path) + "'", ei);
  Napi::Array out = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  return out;
}

// Test-only: wgEncodeSetDevice(device, familyId: number, maxMessageSize: number): Buffer[]
// The exact messages wgSetDevice would send (sequence numbers 0).
Napi::Value EncodeSetDevice(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  DeviceHolder h;
  Device(env, info[0], &h.d);
  uint16_t family = static_cast<uint16_t>(Integer(env, info[1], "familyId", 65535));
  size_t max = static_cast<size_t>(Integer(env, info[2], "maxMessageSize", 1 << 20));
  std::vector<uint8_t> buf(max);
  wgk_encoder e;
  wgk_encoder_init(&e, &h.d, family, max);
  Napi::Array out = Napi::Array::New(env);
  for (uint32_t i = 0;; i++) {
    long len = wgk_encode_next(&e, buf.data());
    if (len == 0) break;
    if (len < 0) {
      wgk_error_info ei{};
      ei.stage = "encode SET_DEVICE";
      ei.message_index = i + 1;
      ei.first_peer = e.next_peer;
      ei.end_peer = e.next_peer + 1;
      ThrowKernel(env, static_cast<int>(len), "encode SET_DEVICE of '" + std::string(h.d.ifname) + "'", ei);
    }
    out.Set(i, Napi::Buffer<uint8_t>::Copy(env, buf.data(), static_cast<size_t>(len)));
  }
  explicit_bzero(buf.data(), buf.size());
  return out;
}

// Test-only: wgDecodeDeviceMessages(messages: Uint8Array[]): KernelWgDeviceRaw
// Each message is a whole netlink message (header included), as a dump returns them.
Napi::Value DecodeDeviceMessages(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) ThrowInvalid(env, "messages must be an array of Uint8Array");
  Napi::Array a = info[0].As<Napi::Array>();
  DeviceHolder h;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (!v.IsTypedArray()) ThrowInvalid(env, "messages[" + std::to_string(i) + "] must be a Uint8Array");
    Napi::Uint8Array m = v.As<Napi::Uint8Array>();
    if (m.ElementLength() < NLMSG_HDRLEN) ThrowInvalid(env, "messages[" + std::to_string(i) + "] is shorter than a netlink header");
    int rc = wgk_decode_device_message(&h.d, m.Data() + NLMSG_HDRLEN, m.ElementLength() - NLMSG_HDRLEN);
    if (rc < 0) {
      wgk_error_info ei{};
      ei.stage = "decode GET_DEVICE";
      ei.message_index = i + 1;
      ThrowKernel(env, rc, "decode device message", ei);
    }
  }
  return DeviceObject(env, h.d);
}

}  // namespace

void InitKernelWg(Napi::Env env, Napi::Object exports) {
  exports.Set("wgFamilyAvailable", Napi::Function::New(env, FamilyAvailable));
  exports.Set("wgSetDevice", Napi::Function::New(env, SetDevice));
  exports.Set("wgGetDevice", Napi::Function::New(env, GetDevice));
  exports.Set("wgCreateLink", Napi::Function::New(env, CreateLink));
  exports.Set("wgDeleteLink", Napi::Function::New(env, DeleteLink));
  exports.Set("wgListLinks", Napi::Function::New(env, ListLinks));
  exports.Set("wgEncodeSetDevice", Napi::Function::New(env, EncodeSetDevice));
  exports.Set("wgDecodeDeviceMessages", Napi::Function::New(env, DecodeDeviceMessages));
  exports.Set("wgMessageMax", Napi::Number::New(env, WGK_MESSAGE_MAX));
}
