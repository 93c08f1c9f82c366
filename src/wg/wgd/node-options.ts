/**
 * The Node options `zmesh wgd` runs with, put before the script by whoever starts it (networkd's
 * supervisor, the simulated world, the benchmark): they size V8's heap, which is fixed when the
 * process starts.
 *
 * --max-semi-space-size=1 (MB): V8 grows the young generation's semi-spaces up to 16 MB each
 * after a burst of allocation (creating devices, a round of handshakes) and keeps them. wgd's
 * JavaScript is control plane only — packets never reach it — so smaller semi-spaces cost only
 * more frequent, smaller scavenges. With 100 devices: 5.8 MB less RSS, idle CPU and handshake
 * time unchanged (scripts/bench/wgd.ts). --lite-mode would save ~14 MB but makes a handshake (BLAKE2s
 * in JavaScript) ~6× dearer, and --jitless the same and more.
 */
export const WGD_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=1'];
