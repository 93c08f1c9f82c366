export * from '../../src/sim/harness/system-tools.js';
