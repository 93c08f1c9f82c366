export * from '../../src/sim/harness/command.js';
