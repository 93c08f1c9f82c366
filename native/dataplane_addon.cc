// JavaScript bindings of the userspace WireGuard data plane. This file only
// converts arguments and results; commands return 0 or a negative errno that
// src/wg/dataplane.ts turns into typed errors. Events from the packet threads
// reach JS through one thread-safe function, woken once per burst, which
// drains the whole event queue into one call.
#include "dataplane_addon.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "wg_aead.h"
#include "wg_allowedips.h"
#include "wg_csum.h"
#include "wg_dataplane.h"
#include "wg_replay.h"

namespace {

struct DeviceHandle {
  wg_device *device = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  bool closed = false;
};

// Parses an IPv4 or IPv6 literal; returns 4, 6 or 0.
int ParseAddress(const std::string &text, uint8_t out[16]) {
  memset(out, 0, 16);
  if (inet_pton(AF_INET, text.c_str(), out) == 1) return 4;
  if (inet_pton(AF_INET6, text.c_str(), out) == 1) return 6;
  return 0;
}

Napi::Object EndpointToJs(Napi::Env env, const wg_sockaddr &a) {
  char text[INET6_ADDRSTRLEN] = {0};
  int port = 0;
  if (a.sa.sa_family == AF_INET) {
    inet_ntop(AF_INET, &a.in4.sin_addr, text, sizeof text);
    port = ntohs(a.in4.sin_port);
  } else {
    inet_ntop(AF_INET6, &a.in6.sin6_addr, text, sizeof text);
    port = ntohs(a.in6.sin6_port);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", Napi::String::New(env, text));
  o.Set("port", Napi::Number::New(env, port));
  return o;
}

bool EndpointFromJs(const Napi::Value &v, wg_sockaddr *out) {
  memset(out, 0, sizeof *out);
  if (!v.IsObject()) return false;
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value address = o.Get("address"), port = o.Get("port");
  if (!address.IsString() || !port.IsNumber()) return false;
  int p = port.As<Napi::Number>().Int32Value();
  if (p < 0 || p > 65535) return false;  // port 0 as wireguard-go: accepted, sending there fails
  uint8_t bytes[16];
  int family = ParseAddress(address.As<Napi::String>().Utf8Value(), bytes);
  if (family == 4) {
    out->in4.sin_family = AF_INET;
    out->in4.sin_port = htons(static_cast<uint16_t>(p));
    memcpy(&out->in4.sin_addr, bytes, 4);
  } else if (family == 6) {
    out->in6.sin6_family = AF_INET6;
    out->in6.sin6_port = htons(static_cast<uint16_t>(p));
    memcpy(&out->in6.sin6_addr, bytes, 16);
  } else {
    return false;
  }
  return true;
}

// A sticky source as JS sees it: { address, ifindex }, or null for none.
Napi::Value SourceToJs(Napi::Env env, const wg_source &s) {
  if (s.family != 4 && s.family != 6) return env.Null();
  char text[INET6_ADDRSTRLEN] = {0};
  inet_ntop(s.family == 4 ? AF_INET : AF_INET6, s.addr, text, sizeof text);
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", Napi::String::New(env, text));
  o.Set("ifindex", Napi::Number::New(env, s.ifindex));
  return o;
}

// null/undefined: none (family 0); false for a malformed one.
bool SourceFromJs(const Napi::Value &v, wg_source *out) {
  memset(out, 0, sizeof *out);
  if (v.IsNull() || v.IsUndefined()) return true;
  if (!v.IsObject()) return false;
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value address = o.Get("address"), ifindex = o.Get("ifindex");
  if (!address.IsString() || !ifindex.IsNumber()) return false;
  int family = ParseAddress(address.As<Napi::String>().Utf8Value(), out->addr);
  if (!family) return false;
  out->family = static_cast<uint8_t>(family);
  out->ifindex = ifindex.As<Napi::Number>().Uint32Value();
  return true;
}

uint32_t U32(const Napi::CallbackInfo &info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "expected a number argument");
  return info[i].As<Napi::Number>().Uint32Value();
}

std::vector<uint8_t> Bytes(const Napi::CallbackInfo &info, size_t i) {
  if (info.Length() <= i || !info[i].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "expected a Uint8Array");
  Napi::Uint8Array a = info[i].As<Napi::Uint8Array>();
  return std::vector<uint8_t>(a.Data(), a.Data() + a.ByteLength());
}

// Runs on the JS thread when the packet threads queued events.
void CallJs(napi_env raw_env, napi_value js_callback, void *context, void *) {
  if (raw_env == nullptr) return;  // environment tearing down
  auto *handle = static_cast<DeviceHandle *>(context);
  Napi::Env env(raw_env);
  Napi::HandleScope scope(env);
  Napi::Array handshakes = Napi::Array::New(env), wants = Napi::Array::New(env), confirmed = Napi::Array::New(env);
  uint32_t nh = 0, nw = 0, nc = 0;
  bool tun_gone = false;
  wg_event events[64];
  for (;;) {
    size_t n = wg_device_drain_events(handle->device, events, 64);
    if (n == 0) break;
    for (size_t i = 0; i < n; ++i) {
      const wg_event &e = events[i];
      if (e.type == WG_EVENT_HANDSHAKE_MESSAGE) {
        Napi::Object m = Napi::Object::New(env);
        m.Set("bytes", Napi::Uint8Array::New(env, e.len, Napi::ArrayBuffer::New(env, e.len), 0));
        memcpy(m.Get("bytes").As<Napi::Uint8Array>().Data(), e.bytes, e.len);
        m.Set("from", EndpointToJs(env, e.from));
        m.Set("local", SourceToJs(env, e.local));
        handshakes.Set(nh++, m);
      } else if (e.type == WG_EVENT_WANTS_HANDSHAKE) {
        wants.Set(nw++, Napi::Number::New(env, e.peer_id));
      } else if (e.type == WG_EVENT_KEYPAIR_CONFIRMED) {
        Napi::Object c = Napi::Object::New(env);
        c.Set("peerId", Napi::Number::New(env, e.peer_id));
        c.Set("localIndex", Napi::Number::New(env, e.local_index));
        confirmed.Set(nc++, c);
      } else if (e.type == WG_EVENT_TUN_GONE) {
        tun_gone = true;
      }
    }
  }
  if (handle->closed || (nh == 0 && nw == 0 && nc == 0 && !tun_gone)) return;
  Napi::Function(env, js_callback).Call({handshakes, wants, confirmed, Napi::Boolean::New(env, tun_gone)});
}

void FinalizeTsfn(napi_env, void *data, void *) {
  auto *handle = static_cast<DeviceHandle *>(data);
  wg_device_free(handle->device);  // threads are stopped already; zeroes keys
  delete handle;
}

void Notify(void *ctx) {
  auto *handle = static_cast<DeviceHandle *>(ctx);
  napi_call_threadsafe_function(handle->tsfn, nullptr, napi_tsfn_nonblocking);
}

class Dataplane : public Napi::ObjectWrap<Dataplane> {
public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Dataplane",
                       {
                           InstanceMethod("setPeer", &Dataplane::SetPeer),
                           InstanceMethod("removePeer", &Dataplane::RemovePeer),
                           InstanceMethod("installKeypair", &Dataplane::InstallKeypair),
                           InstanceMethod("removeKeypair", &Dataplane::RemoveKeypair),
                           InstanceMethod("expireKeypairs", &Dataplane::ExpireKeypairs),
                           InstanceMethod("dropQueued", &Dataplane::DropQueued),
                           InstanceMethod("sendRaw", &Dataplane::SendRaw),
                           InstanceMethod("sendRawTo", &Dataplane::SendRawTo),
                           InstanceMethod("sendKeepalive", &Dataplane::SendKeepalive),
                           InstanceMethod("creditRx", &Dataplane::CreditRx),
                           InstanceMethod("setSockets", &Dataplane::SetSockets),
                           InstanceMethod("lookup", &Dataplane::Lookup),
                           InstanceMethod("peerStats", &Dataplane::PeerStats),
                           InstanceMethod("dropCounters", &Dataplane::DropCounters),
                           InstanceMethod("refreshMtu", &Dataplane::RefreshMtu),
                           InstanceMethod("signalStop", &Dataplane::SignalStop),
                           InstanceMethod("close", &Dataplane::Close),
                       });
  }

  // new Dataplane(tunFd, udp4Fd (-1: none), udp6Fd (-1: none), mtu, onEvents(handshakes, wants, confirmed),
  //               tunOffload?: boolean)
  explicit Dataplane(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Dataplane>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber() ||
        !info[4].IsFunction())
      throw Napi::TypeError::New(env, "Dataplane(tunFd, udp4Fd, udp6Fd, mtu, onEvents)");
    handle_ = new DeviceHandle();
    napi_status s = napi_create_threadsafe_function(env, info[4], nullptr, Napi::String::New(env, "zmesh-dataplane"), 0,
                                                    1, handle_, FinalizeTsfn, handle_, CallJs, &handle_->tsfn);
    if (s != napi_ok) {
      delete handle_;
      handle_ = nullptr;
      throw Napi::Error::New(env, "cannot create the data plane's event channel");
    }
    wg_device_config cfg;
    cfg.tun_fd = info[0].As<Napi::Number>().Int32Value();
    cfg.udp4_fd = info[1].As<Napi::Number>().Int32Value();
    cfg.udp6_fd = info[2].As<Napi::Number>().Int32Value();
    cfg.mtu = info[3].As<Napi::Number>().Int32Value();
    cfg.tun_vnet_hdr = info.Length() > 5 && info[5].IsBoolean() && info[5].As<Napi::Boolean>().Value();
    cfg.notify = Notify;
    cfg.notify_ctx = handle_;
    int rc = wg_device_create(&cfg, &handle_->device);
    if (rc < 0) {
      // FinalizeTsfn frees the handle (wg_device_free(NULL) does nothing).
      napi_release_threadsafe_function(handle_->tsfn, napi_tsfn_release);
      handle_ = nullptr;
      Napi::Error e = Napi::Error::New(env, std::string("cannot start the data plane: ") + strerror(-rc));
      e.Set("errno", Napi::Number::New(env, -rc));
      throw e;
    }
  }

  ~Dataplane() override { Shutdown(); }

private:
  DeviceHandle *handle_ = nullptr;

  // After this the handle belongs to FinalizeTsfn (which frees it), so the
  // wrap forgets it: handle_ == nullptr means closed.
  void Shutdown() {
    if (!handle_) return;
    DeviceHandle *h = handle_;
    handle_ = nullptr;
    h->closed = true;
    wg_device_stop(h->device);  // joins the threads: no notify can follow
    napi_release_threadsafe_function(h->tsfn, napi_tsfn_release);
  }

  wg_device *Device(const Napi::CallbackInfo &info) {
    if (!handle_) {
      Napi::Error e = Napi::Error::New(info.Env(), "the data plane is closed");
      e.Set("errno", Napi::Number::New(info.Env(), EBADF));
      throw e;
    }
    return handle_->device;
  }

  Napi::Value Rc(const Napi::CallbackInfo &info, int rc) { return Napi::Number::New(info.Env(), rc); }

  // setPeer(peerId, endpoint: {address, port} | null | undefined, allowedIps: {address, prefix}[] | undefined,
  //         source?: {address, ifindex} | null — the local address to send to a new endpoint from): rc
  Napi::Value SetPeer(const Napi::CallbackInfo &info) {
    wg_device *d = Device(info);
    uint32_t id = U32(info, 0);
    wg_sockaddr endpoint;
    const wg_sockaddr *endpoint_arg = nullptr;
    if (info.Length() > 1 && info[1].IsNull()) {
      memset(&endpoint, 0, sizeof endpoint);
      endpoint.sa.sa_family = AF_UNSPEC;
      endpoint_arg = &endpoint;
    } else if (info.Length() > 1 && !info[1].IsUndefined()) {
      if (!EndpointFromJs(info[1], &endpoint)) return Rc(info, -EINVAL);
      endpoint_arg = &endpoint;
    }
    std::vector<wg_cidr> cidrs;
    bool replace = info.Length() > 2 && info[2].IsArray();
    if (replace) {
      Napi::Array a = info[2].As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        Napi::Value v = a.Get(i);
        if (!v.IsObject()) return Rc(info, -EINVAL);
        Napi::Value address = v.As<Napi::Object>().Get("address"), prefix = v.As<Napi::Object>().Get("prefix");
        if (!address.IsString() || !prefix.IsNumber()) return Rc(info, -EINVAL);
        wg_cidr c;
        memset(&c, 0, sizeof c);
        int family = ParseAddress(address.As<Napi::String>().Utf8Value(), c.addr);
        int bits = prefix.As<Napi::Number>().Int32Value();
        if (!family || bits < 0 || bits > (family == 4 ? 32 : 128)) return Rc(info, -EINVAL);
        c.family = static_cast<uint8_t>(family);
        c.prefix = static_cast<uint8_t>(bits);
        cidrs.push_back(c);
      }
    }
    wg_source source;
    if (!SourceFromJs(info.Length() > 3 ? info[3] : info.Env().Undefined(), &source)) return Rc(info, -EINVAL);
    static const wg_cidr none = {};
    return Rc(info, wg_device_set_peer(d, id, endpoint_arg, source.family ? &source : nullptr,
                                       replace ? (cidrs.empty() ? &none : cidrs.data()) : nullptr, cidrs.size()));
  }

  Napi::Value RemovePeer(const Napi::CallbackInfo &info) {
    return Rc(info, wg_device_remove_peer(Device(info), U32(info, 0)));
  }

  // installKeypair(peerId, localIndex, remoteIndex, sendKey, receiveKey, initiator): rc
  Napi::Value InstallKeypair(const Napi::CallbackInfo &info) {
    wg_device *d = Device(info);
    if (info.Length() < 6 || !info[3].IsTypedArray() || !info[4].IsTypedArray() || !info[5].IsBoolean())
      throw Napi::TypeError::New(info.Env(),
                                 "installKeypair(peerId, localIndex, remoteIndex, sendKey, receiveKey, initiator)");
    Napi::Uint8Array send = info[3].As<Napi::Uint8Array>(), receive = info[4].As<Napi::Uint8Array>();
    if (send.ByteLength() != 32 || receive.ByteLength() != 32) return Rc(info, -EINVAL);
    // The keys are read straight from the caller's buffers: no copy is left behind here.
    return Rc(info, wg_device_install_keypair(d, U32(info, 0), U32(info, 1), U32(info, 2), send.Data(), receive.Data(),
                                              info[5].As<Napi::Boolean>().Value()));
  }

  Napi::Value RemoveKeypair(const Napi::CallbackInfo &info) {
    return Rc(info, wg_device_remove_keypair(Device(info), U32(info, 0), U32(info, 1)));
  }
  Napi::Value ExpireKeypairs(const Napi::CallbackInfo &info) {
    return Rc(info, wg_device_expire_keypairs(Device(info), U32(info, 0)));
  }
  Napi::Value DropQueued(const Napi::CallbackInfo &info) {
    return Rc(info, wg_device_drop_queued(Device(info), U32(info, 0)));
  }

  Napi::Value SendRaw(const Napi::CallbackInfo &info) {
    wg_device *d = Device(info);
    std::vector<uint8_t> bytes = Bytes(info, 1);
    return Rc(info, wg_device_send_raw(d, U32(info, 0), bytes.data(), bytes.size()));
  }

  // sendRawTo({address, port}, bytes, from?: {address, ifindex} | null): rc
  Napi::Value SendRawTo(const Napi::CallbackInfo &info) {
    wg_device *d = Device(info);
    wg_sockaddr to;
    wg_source from;
    if (info.Length() < 2 || !EndpointFromJs(info[0], &to)) return Rc(info, -EINVAL);
    if (!SourceFromJs(info.Length() > 2 ? info[2] : info.Env().Undefined(), &from)) return Rc(info, -EINVAL);
    std::vector<uint8_t> bytes = Bytes(info, 1);
    return Rc(info, wg_device_send_raw_to(d, &to, &from, bytes.data(), bytes.size()));
  }

  // refreshMtu(): the TUN link's MTU now, or a negative errno (-EBADFD: the link was deleted)
  Napi::Value RefreshMtu(const Napi::CallbackInfo &info) { return Rc(info, wg_device_refresh_mtu(Device(info))); }

  Napi::Value SendKeepalive(const Napi::CallbackInfo &info) {
    return Rc(info, wg_device_send_keepalive(Device(info), U32(info, 0)));
  }

  // setSockets(udp4Fd (-1: none), udp6Fd (-1: none)): rc
  Napi::Value SetSockets(const Napi::CallbackInfo &info) {
    wg_device *d = Device(info);
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
      throw Napi::TypeError::New(info.Env(), "setSockets(udp4Fd, udp6Fd)");
    return Rc(info, wg_device_set_sockets(d, info[0].As<Napi::Number>().Int32Value(),
                                          info[1].As<Napi::Number>().Int32Value()));
  }

  Napi::Value CreditRx(const Napi::CallbackInfo &info) {
    return Rc(info, wg_device_credit_rx(Device(info), U32(info, 0), U32(info, 1)));
  }

  // lookup(address): peerId | null (undefined for a malformed address)
  Napi::Value Lookup(const Napi::CallbackInfo &info) {
    wg_device *d = Device(info);
    if (info.Length() < 1 || !info[0].IsString()) return info.Env().Undefined();
    uint8_t addr[16];
    int family = ParseAddress(info[0].As<Napi::String>().Utf8Value(), addr);
    if (!family) return info.Env().Undefined();
    uint32_t id;
    if (wg_device_lookup(d, family, addr, &id) < 0) return info.Env().Null();
    return Napi::Number::New(info.Env(), id);
  }

  // peerStats(changedOnly?: boolean): every peer, or only those that changed since the previous
  // changed-only call (native/wg_dataplane.h), so an idle device's tick builds no objects.
  Napi::Value PeerStats(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    bool changed_only = info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value();
    wg_peer_stats *stats = nullptr;
    size_t n = wg_device_peer_stats(Device(info), changed_only, &stats);
    Napi::Array out = Napi::Array::New(env, n);
    if (n == 0) {
      free(stats);
      return out;
    }
    // The property names are made once per call, not once per peer and field (a 10,000-peer
    // `wg show` otherwise spends its time internalizing the same twelve strings).
    enum {
      PEER_ID,
      TX,
      RX,
      DATA_SENT,
      DATA_RECEIVED,
      AUTH_SENT,
      AUTH_RECEIVED,
      HAS_CURRENT,
      SEND_COUNTER,
      WANTS,
      STAGED,
      ENDPOINT,
      FIELD_COUNT
    };
    static const char *const names[FIELD_COUNT] = {"peerId",
                                                   "txBytes",
                                                   "rxBytes",
                                                   "lastDataSentMs",
                                                   "lastDataReceivedMs",
                                                   "lastAuthenticatedSentMs",
                                                   "lastAuthenticatedReceivedMs",
                                                   "hasCurrentKeypair",
                                                   "sendCounter",
                                                   "wantsHandshake",
                                                   "staged",
                                                   "endpoint"};
    napi_value keys[FIELD_COUNT];
    for (int k = 0; k < FIELD_COUNT; ++k) keys[k] = Napi::String::New(env, names[k]);
    for (size_t i = 0; i < n; ++i) {
      const wg_peer_stats &s = stats[i];
      napi_value values[FIELD_COUNT] = {
          Napi::Number::New(env, s.peer_id),
          Napi::Number::New(env, static_cast<double>(s.tx_bytes)),
          Napi::Number::New(env, static_cast<double>(s.rx_bytes)),
          Napi::Number::New(env, static_cast<double>(s.last_data_sent_ms)),
          Napi::Number::New(env, static_cast<double>(s.last_data_received_ms)),
          Napi::Number::New(env, static_cast<double>(s.last_auth_sent_ms)),
          Napi::Number::New(env, static_cast<double>(s.last_auth_received_ms)),
          Napi::Boolean::New(env, s.has_current_keypair),
          Napi::BigInt::New(env, static_cast<uint64_t>(s.send_counter)),
          Napi::Boolean::New(env, s.wants_handshake),
          Napi::Number::New(env, s.staged),
          s.endpoint.sa.sa_family == AF_UNSPEC ? env.Null() : Napi::Value(EndpointToJs(env, s.endpoint)),
      };
      Napi::Object o = Napi::Object::New(env);
      for (int k = 0; k < FIELD_COUNT; ++k) o.Set(Napi::Value(env, keys[k]), Napi::Value(env, values[k]));
      out.Set(static_cast<uint32_t>(i), o);
    }
    free(stats);
    return out;
  }

  Napi::Value DropCounters(const Napi::CallbackInfo &info) {
    uint64_t counts[WG_DROP_REASON_COUNT];
    wg_device_drop_counters(Device(info), counts);
    Napi::Object o = Napi::Object::New(info.Env());
    for (int i = 0; i < WG_DROP_REASON_COUNT; ++i)
      o.Set(wg_drop_reason_names[i], Napi::Number::New(info.Env(), static_cast<double>(counts[i])));
    return o;
  }

  // signalStop(): void — the threads begin to stop; close() then waits for them. Idempotent.
  Napi::Value SignalStop(const Napi::CallbackInfo &info) {
    if (handle_) wg_device_signal_stop(handle_->device);
    return info.Env().Undefined();
  }

  // close(leaveLink?: boolean): number — with leaveLink, the TUN link is first marked persistent
  // (wg_device_leave_link) and the result is a second fd that still holds the TUN, for the caller
  // to close (or -errno: the link was not left); 0 without leaveLink. The device is closed either way.
  Napi::Value Close(const Napi::CallbackInfo &info) {
    int rc = 0;
    if (handle_ && info.Length() > 0 && info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value())
      rc = wg_device_leave_link(handle_->device);
    Shutdown();
    return Napi::Number::New(info.Env(), rc);
  }
};

// ---- test-only access to the pieces, so they can be checked against references ----

// replayWindow(counters: bigint[]): boolean[] — feeds the counters, in order,
// to a fresh window and says which were accepted.
Napi::Value ReplayWindow(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "replayWindow(counters: bigint[])");
  Napi::Array in = info[0].As<Napi::Array>();
  auto *r = static_cast<wg_replay *>(malloc(sizeof(wg_replay)));
  wg_replay_init(r);
  Napi::Array out = Napi::Array::New(env, in.Length());
  for (uint32_t i = 0; i < in.Length(); ++i) {
    Napi::Value v = in.Get(i);
    if (!v.IsBigInt()) {
      free(r);
      throw Napi::TypeError::New(env, "replayWindow: counters are bigints");
    }
    bool lossless;
    uint64_t c = v.As<Napi::BigInt>().Uint64Value(&lossless);
    out.Set(i, Napi::Boolean::New(env, wg_replay_check_and_update(r, c)));
  }
  free(r);
  return out;
}

// An allowed-IPs table whose owners are numbers, to test the C trie directly.
class AllowedIpsTable : public Napi::ObjectWrap<AllowedIpsTable> {
public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "AllowedIpsTable",
                       {InstanceMethod("insert", &AllowedIpsTable::Insert),
                        InstanceMethod("removeExact", &AllowedIpsTable::RemoveExact),
                        InstanceMethod("removeValue", &AllowedIpsTable::RemoveValue),
                        InstanceMethod("lookup", &AllowedIpsTable::Lookup)});
  }
  explicit AllowedIpsTable(const Napi::CallbackInfo &info) : Napi::ObjectWrap<AllowedIpsTable>(info) {
    table_ = wg_allowedips_new();
    if (!table_) throw Napi::Error::New(info.Env(), "out of memory");
  }
  ~AllowedIpsTable() override { wg_allowedips_free(table_); }

private:
  wg_allowedips *table_;
  static void *Owner(uint32_t v) { return reinterpret_cast<void *>(static_cast<uintptr_t>(v) + 1); }
  int Address(const Napi::CallbackInfo &info, uint8_t out[16]) {
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "expected an address");
    int family = ParseAddress(info[0].As<Napi::String>().Utf8Value(), out);
    if (!family) throw Napi::TypeError::New(info.Env(), "not an IPv4 or IPv6 address");
    return family;
  }
  // insert(address, prefix, owner)
  Napi::Value Insert(const Napi::CallbackInfo &info) {
    uint8_t addr[16];
    int family = Address(info, addr);
    int rc = wg_allowedips_insert(table_, family, addr, static_cast<int>(U32(info, 1)), Owner(U32(info, 2)));
    return Napi::Number::New(info.Env(), rc);
  }
  Napi::Value RemoveExact(const Napi::CallbackInfo &info) {
    uint8_t addr[16];
    int family = Address(info, addr);
    wg_allowedips_remove_exact(table_, family, addr, static_cast<int>(U32(info, 1)), Owner(U32(info, 2)));
    return info.Env().Undefined();
  }
  Napi::Value RemoveValue(const Napi::CallbackInfo &info) {
    wg_allowedips_remove_value(table_, Owner(U32(info, 0)));
    return info.Env().Undefined();
  }
  Napi::Value Lookup(const Napi::CallbackInfo &info) {
    uint8_t addr[16];
    int family = Address(info, addr);
    void *v = wg_allowedips_lookup(table_, family, addr);
    if (!v) return info.Env().Null();
    return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(v) - 1));
  }
};

// The transport AEAD of one back end, to check each against libsodium: the
// parsed arguments (backend, key, counter, data) of aeadSeal / aeadOpen.
struct AeadCall {
  wg_aead *aead;
  const uint8_t *key;
  uint64_t counter;
  Napi::Buffer<uint8_t> data;

  explicit AeadCall(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsString() || !info[1].IsBuffer() || !info[2].IsBigInt() || !info[3].IsBuffer())
      throw Napi::TypeError::New(env,
                                 "aead(backend: 'avx512'|'direct'|'evp', key: Buffer, counter: bigint, data: Buffer)");
    std::string name = info[0].As<Napi::String>().Utf8Value();
    if (name != "avx512" && name != "direct" && name != "evp")
      throw Napi::TypeError::New(env, "backend: 'avx512', 'direct' or 'evp'");
    auto k = info[1].As<Napi::Buffer<uint8_t>>();
    if (k.Length() != 32) throw Napi::TypeError::New(env, "key: 32 bytes");
    key = k.Data();
    bool lossless;
    counter = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
    data = info[3].As<Napi::Buffer<uint8_t>>();
    aead = wg_aead_new_with(name == "avx512" ? WG_AEAD_AVX512 : name == "direct" ? WG_AEAD_DIRECT : WG_AEAD_EVP);
    if (!aead) throw Napi::Error::New(env, "backend " + name + " is not in use in this process");
  }
  ~AeadCall() { wg_aead_free(aead); }
  AeadCall(const AeadCall &) = delete;
  AeadCall &operator=(const AeadCall &) = delete;
};

// aeadSeal(backend, key, counter, plaintext): ciphertext || tag.
Napi::Value AeadSeal(const Napi::CallbackInfo &info) {
  AeadCall c(info);
  size_t len = c.data.Length();
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), len + 16);
  memcpy(out.Data(), c.data.Data(), len);
  wg_aead_seal(c.aead, c.key, c.counter, out.Data(), len, out.Data() + len);  // the tag right after (TX)
  // And with the tag elsewhere: a back end may take either way, and both must agree.
  std::vector<uint8_t> apart(c.data.Data(), c.data.Data() + len);
  uint8_t tag[16];
  wg_aead_seal(c.aead, c.key, c.counter, apart.data(), len, tag);
  if (memcmp(apart.data(), out.Data(), len) != 0 || memcmp(tag, out.Data() + len, 16) != 0)
    throw Napi::Error::New(info.Env(), "aeadSeal: the tag after the ciphertext and a tag apart disagree");
  return out;
}

// aeadOpen(backend, key, counter, ciphertext || tag): the plaintext, or null when the tag fails.
Napi::Value AeadOpen(const Napi::CallbackInfo &info) {
  AeadCall c(info);
  if (c.data.Length() < 16) throw Napi::TypeError::New(info.Env(), "sealed: at least the 16-byte tag");
  size_t len = c.data.Length() - 16;
  // In place with the tag right after the ciphertext (the RX path), and with the tag apart: a back
  // end may take either way, and both must agree (the tag's bytes left as they were).
  std::vector<uint8_t> whole(c.data.Data(), c.data.Data() + len + 16);
  bool opened = wg_aead_open(c.aead, c.key, c.counter, whole.data(), len, whole.data() + len);
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), len);
  memcpy(out.Data(), c.data.Data(), len);
  bool apart = wg_aead_open(c.aead, c.key, c.counter, out.Data(), len, c.data.Data() + len);
  if (opened != apart || memcmp(whole.data() + len, c.data.Data() + len, 16) != 0 ||
      (opened && memcmp(whole.data(), out.Data(), len) != 0))
    throw Napi::Error::New(info.Env(), "aeadOpen: in place and with the tag apart disagree");
  if (!opened) return info.Env().Null();
  return out;
}

// aeadTiming(backend, key, counter, bytes: Buffer (its length is the packet size), iterations):
// { sealNs, openNs } per packet, timed in C so that no N-API crossing is counted.
Napi::Value AeadTiming(const Napi::CallbackInfo &info) {
  AeadCall c(info);
  if (info.Length() < 5 || !info[4].IsNumber())
    throw Napi::TypeError::New(info.Env(), "aeadTiming(..., iterations: number)");
  int64_t n = info[4].As<Napi::Number>().Int64Value();
  if (n < 1 || n > 100000000) throw Napi::TypeError::New(info.Env(), "iterations: 1..100000000");
  size_t len = c.data.Length();
  std::vector<uint8_t> buf(WG_AEAD_HEADROOM + len + 16);
  uint8_t *p = buf.data() + WG_AEAD_HEADROOM;
  memcpy(p, c.data.Data(), len);
  // This thread's CPU time, not wall time: on a shared machine a preemption would count as AEAD work.
  auto now = [] {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  };
  double t0 = now();
  for (int64_t i = 0; i < n; ++i)
    wg_aead_seal_headroom(c.aead, c.key, c.counter + static_cast<uint64_t>(i), p, len, p + len);
  double t1 = now();
  // Opening what the last seal produced, n times: the full check and decryption every time. Each
  // open needs the ciphertext back (a copy); the copies alone are timed apart and taken off.
  uint64_t last = c.counter + static_cast<uint64_t>(n) - 1;
  std::vector<uint8_t> sealed(p, p + len + 16);
  double t2 = now();
  for (int64_t i = 0; i < n; ++i) {
    memcpy(p, sealed.data(), len);
    if (!wg_aead_open(c.aead, c.key, last, p, len, sealed.data() + len))
      throw Napi::Error::New(info.Env(), "aeadTiming: open failed");
  }
  double t3 = now();
  for (int64_t i = 0; i < n; ++i) {
    memcpy(p, sealed.data(), len);
    __asm__ volatile("" : : "r"(p) : "memory");  // the copies must not be elided
  }
  double opened = (t3 - t2) - (now() - t3);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("sealNs", Napi::Number::New(info.Env(), (t1 - t0) / static_cast<double>(n)));
  out.Set("openNs", Napi::Number::New(info.Env(), opened / static_cast<double>(n)));
  return out;
}

extern "C" {
uint64_t wg_csum_portable(const uint8_t *buf, size_t len, uint64_t sum);
uint16_t wg_csum_fold(uint64_t sum);
}

// checksum(bytes, kernel: 'portable' | 'avx512' | 'avx512-copy'): the folded Internet checksum sum
// of bytes by that kernel (null: this CPU lacks it); 'avx512-copy' also checks the copy it makes.
Napi::Value Checksum(const Napi::CallbackInfo &info) {
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsString())
    throw Napi::TypeError::New(info.Env(), "checksum(bytes: Uint8Array, kernel: string)");
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  std::string kernel = info[1].As<Napi::String>().Utf8Value();
  const uint8_t *p = bytes.Data();
  size_t len = bytes.ByteLength();
  uint64_t sum;
  if (kernel == "portable") {
    sum = wg_csum_portable(p, len, 0);
  } else if (kernel == "avx512" || kernel == "avx512-copy") {
    if (!wg_csum_avx512_available()) return info.Env().Null();
    if (kernel == "avx512") {
      sum = wg_csum_avx512(p, len);
    } else {
      std::vector<uint8_t> copy(len + 2, 0xa5);  // guard bytes after the copy must stay
      sum = wg_copy_csum_avx512(copy.data(), p, len);
      if (memcmp(copy.data(), p, len) != 0 || copy[len] != 0xa5 || copy[len + 1] != 0xa5)
        throw Napi::Error::New(info.Env(), "checksum: the copy differs from its source or overran it");
    }
  } else {
    throw Napi::TypeError::New(info.Env(), "kernel: portable, avx512 or avx512-copy");
  }
  return Napi::Number::New(info.Env(), wg_csum_fold(sum));
}

Napi::Value AeadBackend(const Napi::CallbackInfo &info) {
  enum wg_aead_backend b = wg_aead_backend_in_use();
  return Napi::String::New(info.Env(), b == WG_AEAD_AVX512 ? "avx512" : b == WG_AEAD_DIRECT ? "direct" : "evp");
}

Napi::Value MonotonicMs(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), static_cast<double>(wg_monotonic_ms()));
}

}  // namespace

void InitDataplane(Napi::Env env, Napi::Object exports) {
  exports.Set("Dataplane", Dataplane::Define(env));
  exports.Set("monotonicMs", Napi::Function::New(env, MonotonicMs));
  Napi::Object test = Napi::Object::New(env);
  test.Set("replayWindow", Napi::Function::New(env, ReplayWindow));
  test.Set("AllowedIpsTable", AllowedIpsTable::Define(env));
  test.Set("aeadSeal", Napi::Function::New(env, AeadSeal));
  test.Set("aeadOpen", Napi::Function::New(env, AeadOpen));
  test.Set("aeadBackend", Napi::Function::New(env, AeadBackend));
  test.Set("aeadTiming", Napi::Function::New(env, AeadTiming));
  test.Set("checksum", Napi::Function::New(env, Checksum));
  exports.Set("dataplaneTest", test);
}
