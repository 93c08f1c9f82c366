export * from '../../src/sim/harness/namespace.js';
