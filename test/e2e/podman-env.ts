/**
 * A private podman for one test: its own containers.conf (CONTAINERS_CONF: the CNI backend,
 * runc, cgroupfs, no events, network configs and plugin dirs in the test's directory), its own
 * storage root, run root and tmp dir, and a busybox-static rootfs so no image is ever pulled.
 * Nothing global on the machine is changed: every path podman writes to is under `dir`, except
 * what podman itself does for any container (its /run/netns entry, libcni's result cache under
 * /var/lib/cni, which podman 4.3 does not let a config move), which `podman rm` removes.
 *
 * Why these settings: crun 1.8 refuses this machine's hybrid cgroup layout, so runc; root here
 * lacks CAP_SYS_RESOURCE, so the containers' rlimits are set below the machine's instead of raised.
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { writeCniPluginExecutable } from '../../src/sim/zmesh-command.js';

export interface PodmanResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'ping', 'sleep', 'ip', 'cat', 'ifconfig'];

export class PodmanEnv {
  readonly confFile: string;
  readonly netDir: string;
  readonly pluginDir: string;
  readonly rootfs: string;

  private constructor(readonly dir: string) {
    this.confFile = join(dir, 'containers.conf');
    this.netDir = join(dir, 'net.d');
    this.pluginDir = join(dir, 'cni-bin');
    this.rootfs = join(dir, 'rootfs');
  }

  static create(dir: string): PodmanEnv {
    const env = new PodmanEnv(dir);
    for (const sub of [
      'root',
      'runroot',
      'tmp',
      'net.d',
      'cni-bin',
      'rootfs/bin',
      'rootfs/etc',
      'rootfs/proc',
      'rootfs/sys',
      'rootfs/dev',
      'rootfs/tmp',
    ]) {
      mkdirSync(join(dir, sub), { recursive: true });
    }
    copyFileSync(BUSYBOX, join(env.rootfs, 'bin', 'busybox'));
    for (const applet of APPLETS) symlinkSync('busybox', join(env.rootfs, 'bin', applet));
    writeCniPluginExecutable(env.pluginDir);
    writeFileSync(
      env.confFile,
      [
        '[containers]',
        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
        'log_driver = "k8s-file"',
        '[network]',
        'network_backend = "cni"',
        `cni_plugin_dirs = ["${env.pluginDir}"]`,
        `network_config_dir = "${env.netDir}"`,
        '[engine]',
        'runtime = "runc"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "none"',
        `tmp_dir = "${join(dir, 'tmp')}"`,
        `static_dir = "${join(dir, 'root', 'libpod')}"`,
        `volume_path = "${join(dir, 'root', 'volumes')}"`,
        '',
      ].join('\n'),
    );
    return env;
  }

  /** Writes `<name>.conflist` (the only file kind podman's libcni loads) with one plugin entry. */
  addConflist(name: string, plugin: object, cniVersion = '1.0.0'): string {
    const file = join(this.netDir, `${name}.conflist`);
    writeFileSync(file, `${JSON.stringify({ cniVersion, name, plugins: [plugin] }, null, 2)}\n`);
    return file;
  }

  async podman(args: readonly string[], timeoutMs = 90_000): Promise<PodmanResult> {
    const global = [
      '--root',
      join(this.dir, 'root'),
      '--runroot',
      join(this.dir, 'runroot'),
      '--storage-driver',
      'vfs',
    ];
    const result = await execa('podman', [...global, ...args], {
      env: { CONTAINERS_CONF: this.confFile },
      reject: false,
      timeout: timeoutMs,
    });
    return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
  }

  /** Removes every container of this podman (their DELs run through the plugin). */
  async removeAll(): Promise<void> {
    await this.podman(['rm', '--all', '--force', '--time', '0']);
  }
}
