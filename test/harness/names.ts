export * from '../../src/sim/harness/names.js';
