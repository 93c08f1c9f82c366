/**
 * Every system program that zmesh, its tests, the demo, the benchmarks and the scripts run, and
 * the Debian package that provides it: the one place this is written down. The harness resolves
 * only these names (systemTool() refuses any other), and test/unit/setup/programs.test.ts holds
 * the map against the code (every program spawned anywhere is here), against the machine
 * (`dpkg -S` names the same package) and against the installers: each package is in Debian's
 * base system (priority "required", which every Debian install has), named by scripts/setup
 * (PACKAGES), named by scripts/kvm/setup (programs of the guest-kernel runner only), or a
 * prerequisite that scripts/setup checks (Node.js). Adding a spawn of a new program therefore
 * means adding it here, and its package to scripts/setup.
 */

export const SYSTEM_PROGRAMS = {
  // Networking: what networkd, the harness, the tests and the benchmarks drive.
  ip: 'iproute2',
  ss: 'iproute2',
  nft: 'nftables',
  conntrack: 'conntrack',
  sysctl: 'procps',
  nsenter: 'util-linux',
  wg: 'wireguard-tools',
  'wg-quick': 'wireguard-tools',
  'wireguard-go': 'wireguard-go',
  // The fleet store: etcd's server and client (the tests, demo and benchmark start clusters), and
  // openssl for the store's CA and certificates (zmesh store ca/cert).
  etcd: 'etcd-server',
  etcdctl: 'etcd-client',
  openssl: 'openssl',
  // Operability: a real Prometheus scrapes the daemons in tests, promtool checks the exposition.
  prometheus: 'prometheus',
  promtool: 'prometheus',
  // Graphviz's dot renders `zmesh net graph`.
  dot: 'graphviz',
  // zmesh node install --now starts the units; the tests verify them (works without systemd as PID 1).
  systemctl: 'systemd',
  'systemd-analyze': 'systemd',
  // The fuzzing build (scripts/fuzz): libFuzzer harnesses with ASan + UBSan.
  'clang-14': 'clang-14',
  // Traffic and capture in tests and benchmarks.
  ping: 'iputils-ping',
  ncat: 'ncat',
  iperf3: 'iperf3',
  tcpdump: 'tcpdump',
  strace: 'strace',
  // The format and lint of native/ (npm run format / npm run lint, which scripts/test runs).
  'clang-format': 'clang-format',
  // Containers: podman attaches containers through zmesh-cni in the e2e test (its OCI runtime,
  // runc, is named by scripts/setup and run by podman only).
  podman: 'podman',
  // Go builds the libcni test tool (test/fixtures/libcni-tool) against Debian's libcni source.
  go: 'golang-go',
  // The guest-kernel runner (scripts/kvm): installed by scripts/kvm/setup when it is used (busybox
  // also by scripts/setup: the podman test's container rootfs).
  'qemu-system-x86_64': 'qemu-system-x86',
  busybox: 'busybox-static',
  xz: 'xz-utils',
  depmod: 'kmod',
  modprobe: 'kmod',
  // Node.js, installed before scripts/setup (which checks its version).
  node: 'nodejs',
  npm: 'nodejs',
  npx: 'nodejs',
  // Debian's base system.
  sh: 'dash',
  bash: 'bash',
  awk: 'mawk',
  grep: 'grep',
  sed: 'sed',
  find: 'findutils',
  gzip: 'gzip',
  tar: 'tar',
  hostname: 'hostname',
  mount: 'mount',
  umount: 'mount',
  dmesg: 'util-linux',
  script: 'bsdutils',
  chattr: 'e2fsprogs',
  getconf: 'libc-bin',
  getent: 'libc-bin',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  dpkg: 'dpkg',
  'dpkg-query': 'dpkg',
  'dpkg-deb': 'dpkg',
  basename: 'coreutils',
  cat: 'coreutils',
  chmod: 'coreutils',
  chown: 'coreutils',
  cp: 'coreutils',
  cut: 'coreutils',
  dirname: 'coreutils',
  env: 'coreutils',
  id: 'coreutils',
  mkdir: 'coreutils',
  mktemp: 'coreutils',
  mv: 'coreutils',
  rm: 'coreutils',
  seq: 'coreutils',
  head: 'coreutils',
  sort: 'coreutils',
  sha256sum: 'coreutils',
  sleep: 'coreutils',
  stty: 'coreutils',
  sync: 'coreutils',
  tail: 'coreutils',
  tee: 'coreutils',
  touch: 'coreutils',
  tr: 'coreutils',
  true: 'coreutils',
} as const satisfies Record<string, string>;

export type SystemProgram = keyof typeof SYSTEM_PROGRAMS;

/** Packages installed before scripts/setup runs; it checks them rather than installing them. */
export const PREREQUISITE_PACKAGES: readonly string[] = ['nodejs'];

export function isSystemProgram(name: string): name is SystemProgram {
  return Object.hasOwn(SYSTEM_PROGRAMS, name);
}
