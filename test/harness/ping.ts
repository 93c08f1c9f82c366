export * from '../../src/sim/harness/ping.js';
