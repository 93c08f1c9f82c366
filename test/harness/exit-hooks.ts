export * from '../../src/sim/harness/exit-hooks.js';
