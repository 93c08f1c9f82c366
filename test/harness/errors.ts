export * from '../../src/sim/harness/errors.js';
