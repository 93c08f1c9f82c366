export * from '../../src/sim/harness/addresses.js';
