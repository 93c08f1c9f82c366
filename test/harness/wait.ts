export * from '../../src/sim/harness/wait.js';
