export * from '../../src/sim/harness/index.js';
