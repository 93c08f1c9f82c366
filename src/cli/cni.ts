/**
 * `zmesh cni ...`: hooking container runtimes to a zmesh network through zmesh-cni.
 * `conflist` prints the network configuration list; `install` writes it where runtimes look for
 * them (/etc/cni/net.d) and links the plugin into a CNI plugin directory (/opt/cni/bin), saying
 * what it wrote.
 */
import { lstat, mkdir, readlink, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { conflistFor, conflistName } from '../cni/conflist.js';
import { NETWORK_NAME_PATTERN } from '../netdef/index.js';
import { CliError, type CommandGroup, type Invocation, type OptionSpec } from './command.js';
import { writeToolFile } from './files.js';

export const DEFAULT_CONF_DIR = '/etc/cni/net.d';
export const DEFAULT_BIN_DIR = '/opt/cni/bin';
/** bin/zmesh-cni of this installation (dist/cli/cni.js → bin/). */
const PLUGIN = fileURLToPath(new URL('../../bin/zmesh-cni', import.meta.url));

function options(args: Invocation['args']): { network: string; socket?: string; name?: string } {
  const network = args.strings['network'] as string; // required by the option table
  if (!new RegExp(NETWORK_NAME_PATTERN).test(network))
    throw CliError.invalid('--network', `"${network.slice(0, 64)}" is not a network name`);
  const socket = args.strings['socket'];
  if (socket !== undefined && !socket.startsWith('/'))
    throw CliError.invalid('--socket', 'must be an absolute path (the runtime runs the plugin from anywhere)');
  const name = args.strings['name'];
  if (name !== undefined && !new RegExp(NETWORK_NAME_PATTERN).test(name))
    throw CliError.invalid('--name', `"${name.slice(0, 64)}" is not a CNI network name`);
  return { network, ...(socket === undefined ? {} : { socket }), ...(name === undefined ? {} : { name }) };
}

const text = (conflist: object) => `${JSON.stringify(conflist, null, 2)}\n`;

async function printConflist({ args, io }: Invocation): Promise<void> {
  io.stdout(text(conflistFor(options(args))));
}

/** What linking `link` to `target` needs: nothing, a new link, or replacing our older link; anything else there is refused. */
async function linkPlan(link: string, target: string): Promise<'unchanged' | 'create' | 'replace'> {
  const existing = await lstat(link).catch(() => null);
  if (existing === null) return 'create';
  if (!existing.isSymbolicLink())
    throw CliError.invalid('--bin-dir', `${link} exists and is not a link zmesh made: refusing to replace it`);
  return (await readlink(link)) === target ? 'unchanged' : 'replace';
}

async function install({ args, io }: Invocation): Promise<void> {
  const opts = options(args);
  const confDir = args.strings['dir'] ?? DEFAULT_CONF_DIR;
  const binDir = args.strings['bin-dir'] ?? DEFAULT_BIN_DIR;
  await mkdir(confDir, { recursive: true, mode: 0o755 });
  await mkdir(binDir, { recursive: true, mode: 0o755 });
  // Runtimes load only *.conflist files (libcni), named for the CNI network.
  const file = join(confDir, `${conflistName(opts)}.conflist`);
  const link = join(binDir, 'zmesh-cni');
  const plan = await linkPlan(link, PLUGIN); // refused before anything is written
  await writeToolFile(file, text(conflistFor(opts)), '--dir', { mode: 0o644 });
  if (plan === 'replace') await rm(link);
  if (plan !== 'unchanged') await symlink(PLUGIN, link);
  io.stdout(`wrote ${file}\n${plan === 'unchanged' ? 'kept' : 'linked'} ${link} -> ${PLUGIN}\n`);
  io.stdout(`containers join with: podman run --network ${conflistName(opts)} ...\n`);
}

const common: Record<string, OptionSpec> = {
  network: { type: 'string', value: 'NAME', required: true, description: 'the zmesh network containers join' },
  socket: { type: 'string', value: 'S', description: "networkd's API socket (default /var/lib/zmesh/networkd.sock)" },
  name: {
    type: 'string',
    value: 'NAME',
    description: "the CNI network's name, what `podman run --network` names (default zmesh-NETWORK)",
  },
};

export const cniGroup: CommandGroup = {
  summary: 'attach containers through zmesh-cni (CNI 1.0/1.1)',
  commands: {
    conflist: {
      summary: 'print the CNI network configuration list for a network',
      options: common,
      run: printConflist,
    },
    install: {
      summary: 'write the conflist and link the zmesh-cni plugin where runtimes find them',
      options: {
        ...common,
        dir: { type: 'string', value: 'D', description: `where the conflist goes (default ${DEFAULT_CONF_DIR})` },
        'bin-dir': {
          type: 'string',
          value: 'D',
          description: `the CNI plugin directory to link zmesh-cni into (default ${DEFAULT_BIN_DIR})`,
        },
      },
      run: install,
    },
  },
};
