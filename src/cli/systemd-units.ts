/**
 * The systemd units of a node: zmesh-networkd.service and zmesh-provisiond.service (wgd has no
 * unit: networkd starts it and it outlives networkd's restarts). Hardening that fits each:
 *
 * - networkd creates network namespaces and bind-mounts them under /run/netns for every tool on
 *   the host to see. Any mount-namespacing option (ProtectSystem, ProtectHome, PrivateTmp,
 *   ReadWritePaths, …) would give it a mount namespace of its own, where those mounts stay
 *   invisible to the host: so none of those; instead a capability bounding set (network admin,
 *   namespaces, ptrace to read workloads' /proc/PID/ns), NoNewPrivileges, the address families
 *   it uses, and KillMode=process so that stopping networkd leaves wgd (the data plane) running.
 * - provisiond only talks to sockets and its database: a read-only system, no capabilities.
 */

export interface UnitOptions {
  /** Absolute path of the zmesh executable. */
  readonly zmesh: string;
  /** The node state dir (identity, networkd's state, provisiond's database). */
  readonly stateDir: string;
  readonly metrics?: { readonly networkd?: string; readonly provisiond?: string };
  readonly store?: { readonly url: string; readonly nodeId: string };
}

/** Hardening both units take, and how they are enabled. */
const COMMON_TAIL = `NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
SystemCallArchitectures=native
UMask=0077

[Install]
WantedBy=multi-user.target
`;

export const NETWORKD_UNIT = 'zmesh-networkd.service';
export const PROVISIOND_UNIT = 'zmesh-provisiond.service';

/** A unit file's ExecStart argument: quoted when it holds anything systemd would split or expand. */
function argument(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text)
    ? text
    : `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '$$$$').replace(/%/g, '%%')}"`;
}

function execStart(words: readonly string[]): string {
  return words.map(argument).join(' ');
}

export function networkdUnit(options: UnitOptions): string {
  const words = [
    options.zmesh,
    'networkd',
    '--state-dir',
    options.stateDir,
    ...(options.metrics?.networkd ? ['--metrics', options.metrics.networkd] : []),
  ];
  return `[Unit]
Description=zmesh networkd: the node's WireGuard mesh and network resources
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${execStart(words)}
Restart=on-failure
RestartSec=2
# wgd (the userspace data plane) is networkd's child in this cgroup: stopping networkd must not stop it.
KillMode=process
# One malloc arena: per-thread arenas made networkd's RSS creep (src/networkd/malloc-arenas.ts).
Environment=MALLOC_ARENA_MAX=1
# Namespaces are bind-mounted under /run/netns for the whole host to see: no mount namespace
# (ProtectSystem, PrivateTmp, … would make one), so hardening is by capabilities and syscalls.
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_DAC_OVERRIDE CAP_KILL
AmbientCapabilities=
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
${COMMON_TAIL}`;
}

export function provisiondUnit(options: UnitOptions): string {
  const words = [
    options.zmesh,
    'provisiond',
    '--state-dir',
    `${options.stateDir}/provisiond`,
    '--networkd-socket',
    `${options.stateDir}/networkd.sock`,
    ...(options.store ? ['--store', options.store.url, '--node', options.store.nodeId] : []),
    ...(options.metrics?.provisiond ? ['--metrics', options.metrics.provisiond] : []),
  ];
  return `[Unit]
Description=zmesh provisiond: the node's durable task queue (and store agent)
After=${NETWORKD_UNIT}
Wants=${NETWORKD_UNIT}

[Service]
Type=simple
ExecStart=${execStart(words)}
Restart=on-failure
RestartSec=2
RuntimeDirectory=zmesh
RuntimeDirectoryPreserve=yes
RuntimeDirectoryMode=0700
ProtectSystem=strict
ReadWritePaths=${argument(options.stateDir)}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
CapabilityBoundingSet=
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
${COMMON_TAIL}`;
}
