export * from '../../src/sim/harness/runs.js';
