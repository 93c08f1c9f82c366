export * from '../../src/sim/harness/process.js';
