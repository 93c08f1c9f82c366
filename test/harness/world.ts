export * from '../../src/sim/harness/world.js';
