/** Writes schema/*.schema.json from the TypeBox schema in src/netdef (npm run schema). */

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { jsonSchemaDocuments } from '../src/netdef/json-schema.js';

const dir = fileURLToPath(new URL('../schema/', import.meta.url));
for (const [name, text] of Object.entries(jsonSchemaDocuments())) {
  writeFileSync(`${dir}${name}`, text);
  console.log(`wrote schema/${name}`);
}
