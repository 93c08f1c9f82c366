{
  "targets": [
    {
      "target_name": "zmesh_native",
      "sources": [
        "native/addon.cc",
        "native/netns.c",
        "native/tun.c",
        "native/dataplane_addon.cc",
        "native/wg_aead.c",
        "native/wg_chacha20.c",
        "native/wg_allowedips.c",
        "native/wg_device.c",
        "native/wg_events.c",
        "native/wg_index.c",
        "native/wg_offload.c",
        "native/wg_csum.c",
        "native/wg_peer.c",
        "native/wg_receive.c",
        "native/wg_replay.c",
        "native/wg_send.c",
        "native/genl.c",
        "native/wgk_message.c",
        "native/wgk_text.c",
        "native/wgk_batch.c",
        "native/wgk_device.c",
        "native/kernel_wg_addon.cc",
        "native/nft.c",
        "native/nft_addon.cc",
        "native/sodium_addon.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=9", "NODE_ADDON_API_DISABLE_DEPRECATED", "_GNU_SOURCE",
                  "ZM_LIBNFTABLES_VERSION=<!(node -p \"(() => { try { const [a, b, c] = require('child_process').execSync('pkg-config --modversion libnftables').toString().trim().split('.').map(Number); return a * 10000 + (b || 0) * 100 + (c || 0); } catch { return 0; } })()\")"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden",
                 "<!@(node -p \"process.env.ZMESH_SANITIZE ? '-g -fno-omit-frame-pointer -fno-sanitize-recover=all -fsanitize=' + process.env.ZMESH_SANITIZE : ''\")"],
      "ldflags": ["<!@(node -p \"process.env.ZMESH_SANITIZE ? '-fsanitize=' + process.env.ZMESH_SANITIZE : ''\")"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-std=gnu++17", "-fexceptions"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "libraries": ["-lsodium", "-lcrypto", "-lnftables", "-lpthread"]
    }
  ]
}
