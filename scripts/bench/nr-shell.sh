#!/bin/bash
# The shell twin of scripts/bench/nr.ts: the same kernel objects made with ip(8) and nft(8), one
# command per object, as an operator's script would. Without WireGuard (a TUN stands in for the
# device): it prices the namespace, links, addresses, routes, sysctl and nft work only.
#
#   nr-shell.sh ndmz     PREFIX HOSTNS               build ndmz (host side in HOSTNS)
#   nr-shell.sh apply    PREFIX HOSTNS NETID:INDEX... build one NR per NETID (INDEX picks its addresses)
#   nr-shell.sh check    PREFIX HOSTNS NETID...      read each NR back (what a shell reconcile compares)
#   nr-shell.sh teardown PREFIX HOSTNS NETID...      delete the NRs, ndmz and the host table (waits until gone)
#
# Everything is created inside named namespaces (veths directly in their namespaces); HOSTNS is
# a namespace name, never the root namespace.
set -euo pipefail
action=$1 prefix=$2 hostns=$3
shift 3
ndmz="${prefix}ndmz"
IP=/usr/sbin/ip
NFT=/usr/sbin/nft
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nr_table() {
  cat <<'T'
table inet zmesh {
  chain forward { type filter hook forward priority filter; policy accept;
    tcp flags syn tcp option maxseg size set rt mtu
    ct state established,related accept
    iifname "public" drop
  }
  chain input { type filter hook input priority filter; policy accept;
    ct state established,related accept
    iifname "public" drop
  }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    oifname "public" masquerade
  }
}
T
}

case $action in
ndmz)
  $IP netns add "$ndmz"
  $IP -n "$ndmz" link set lo up
  $IP link add npub netns "$ndmz" mtu 1500 type veth peer name "${prefix}ndmz0" netns "$hostns" mtu 1500
  $IP -n "$ndmz" link add br-nr mtu 1500 type bridge
  $IP -n "$ndmz" link set br-nr up
  $IP -n "$ndmz" link set npub up
  $IP -n "$hostns" link set "${prefix}ndmz0" up
  $IP -n "$hostns" addr add 100.126.0.1/30 dev "${prefix}ndmz0"
  $IP -n "$ndmz" addr add 100.126.0.2/30 dev npub
  $IP -n "$ndmz" addr add 100.127.0.1/16 dev br-nr
  $IP -n "$ndmz" route replace default via 100.126.0.1 dev npub
  $IP netns exec "$hostns" sysctl -qw net.ipv4.ip_forward=1
  $IP netns exec "$ndmz" sysctl -qw net.ipv4.ip_forward=1
  cat >"$tmp/host.nft" <<T
table inet ${prefix}zmesh {
  chain forward { type filter hook forward priority filter; policy accept;
    iifname "${prefix}ndmz0" accept
    oifname "${prefix}ndmz0" ct state established,related accept
    oifname "${prefix}ndmz0" drop
  }
  chain input { type filter hook input priority filter; policy accept;
    iifname "${prefix}ndmz0" ct state established,related accept
    iifname "${prefix}ndmz0" drop
  }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    ip saddr 100.126.0.0/30 oifname != "${prefix}ndmz0" masquerade
  }
}
T
  $IP netns exec "$hostns" $NFT -f "$tmp/host.nft"
  cat >"$tmp/ndmz.nft" <<'T'
table inet zmesh {
  chain forward { type filter hook forward priority filter; policy accept;
    tcp flags syn tcp option maxseg size set rt mtu
    ct state established,related accept
    iifname "npub" drop
    iifname "br-nr" ip daddr { 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16, 100.64.0.0/10, 127.0.0.0/8, 224.0.0.0/4 } drop
  }
  chain input { type filter hook input priority filter; policy accept;
    ct state established,related accept
    iifname "npub" drop
  }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    oifname "npub" masquerade
  }
}
table bridge zmesh {
  chain forward { type filter hook forward priority filter; policy accept;
    drop
  }
}
T
  $IP netns exec "$ndmz" $NFT -f "$tmp/ndmz.nft"
  ;;
apply)
  nr_table >"$tmp/nr.nft"
  for item in "$@"; do
    id=${item%%:*} i=${item##*:}
    ns="${prefix}n-$id" host=$((i + 2))
    $IP netns add "$ns"
    $IP -n "$ns" link set lo up
    $IP link add public netns "$ns" mtu 1500 type veth peer name "p-$id" netns "$ndmz" mtu 1500
    $IP -n "$ns" link add br0 mtu 1420 type bridge
    $IP -n "$ns" tuntap add dev "w-$id" mode tun
    $IP -n "$ns" link set "w-$id" mtu 1420
    $IP -n "$ns" link set br0 up
    $IP -n "$ns" link set public up
    $IP -n "$ns" link set "w-$id" up
    $IP -n "$ndmz" link set "p-$id" master br-nr up
    $IP -n "$ns" addr add "100.127.$((host >> 8)).$((host & 255))/16" dev public
    $IP -n "$ns" addr add "10.$((i >> 8)).$((i & 255)).1/24" dev br0
    $IP -n "$ns" addr add "100.64.$((i >> 8)).$((i & 255))/16" dev "w-$id"
    $IP -n "$ns" route replace 10.0.0.0/8 dev "w-$id"
    $IP -n "$ns" route replace default via 100.127.0.1 dev public
    $IP netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
    $IP netns exec "$ns" $NFT -f "$tmp/nr.nft"
  done
  ;;
check)
  for id in "$@"; do
    ns="${prefix}n-$id"
    $IP -n "$ns" -j link show >/dev/null
    $IP -n "$ns" -j -4 addr show >/dev/null
    $IP -n "$ns" -j -4 route show >/dev/null
    $IP netns exec "$ns" sysctl -n net.ipv4.ip_forward >/dev/null
    $IP netns exec "$ns" $NFT -j list table inet zmesh >/dev/null
    $IP -n "$ndmz" -j link show "p-$id" >/dev/null
  done
  ;;
teardown)
  for id in "$@"; do $IP netns del "${prefix}n-$id"; done
  $IP netns del "$ndmz" 2>/dev/null || true
  $IP netns exec "$hostns" $NFT delete table inet "${prefix}zmesh" 2>/dev/null || true
  # The kernel destroys deleted namespaces (and their veth pairs) asynchronously: wait, bounded,
  # until the host end is gone, so that the next round can reuse the names.
  for _ in $(seq 300); do
    $IP -n "$hostns" link show "${prefix}ndmz0" >/dev/null 2>&1 || break
    sleep 0.1
  done
  ;;
*)
  echo "usage: nr-shell.sh ndmz|apply|check|teardown PREFIX HOSTNS [NETID[:INDEX]...]" >&2
  exit 2
  ;;
esac
