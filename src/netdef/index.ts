/**
 * The public face of src/netdef: network definitions (schema, parsing, validation), allocation
 * and the per-node derivation. Pure: no file, network or process I/O, no clock.
 */

export * from './access.js';
export * from './access-edit.js';
export * from './addressing.js';
export * from './aggregators.js';
export * from './allocate.js';
export * from './derive.js';
export * from './endpoint.js';
export * from './errors.js';
export * from './enrolment.js';
export * from './external-peers.js';
export * from './invitations.js';
export * from './ipv4.js';
export * from './json-schema.js';
export * from './keys.js';
export * from './netid.js';
export * from './nr-key.js';
export * from './parse.js';
export * from './schema.js';
export * from './canonical.js';
export * from './signature.js';
export * from './pinning.js';
export * from './services.js';
export * from './service-verbs.js';
export * from './trust-log.js';
export * from './trust-verbs.js';
export * from './rotation-schedule.js';
