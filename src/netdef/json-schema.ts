/**
 * The JSON Schema documents shipped in schema/, generated from schema.ts (scripts/gen-schema.ts
 * writes them; a unit test keeps the shipped files equal to this output).
 */

import { NetworkDefinitionSchema, NodeRecordSchema } from './schema.js';

const DRAFT = 'http://json-schema.org/draft-07/schema#';

function document(schema: object): string {
  // JSON.stringify drops TypeBox's symbol-keyed metadata, leaving plain JSON Schema.
  return `${JSON.stringify({ $schema: DRAFT, ...schema }, null, 2)}\n`;
}

/** File name (under schema/) → contents. */
export function jsonSchemaDocuments(): Record<string, string> {
  return {
    'network-definition.schema.json': document(NetworkDefinitionSchema),
    'node-record.schema.json': document(NodeRecordSchema),
  };
}
