export * from '../../src/sim/harness/transfer.js';
