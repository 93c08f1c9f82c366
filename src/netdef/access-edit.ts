/**
 * The verbs that change access control: add or remove a group, associate or dissociate two
 * groups. Like allocate.ts's verbs, each returns a NEW validated definition with revision + 1 or
 * throws NetdefValidationError naming the JSON path; the input is never mutated.
 */

import { NetdefValidationError } from './errors.js';
import { assertNetworkDefinition } from './parse.js';
import type { AssociationDocument, GroupDocument, NetworkDefinition, NetworkDefinitionDocument } from './schema.js';

type Draft = { -readonly [K in keyof NetworkDefinitionDocument]: NetworkDefinitionDocument[K] };

function draftOf(def: NetworkDefinition): Draft {
  return { ...def, revision: def.revision + 1, resources: [...def.resources] } as unknown as Draft;
}

/** Empty lists are dropped, so a definition without access control keeps its exact shape. */
function commit(draft: Draft, groups: GroupDocument[], associations: AssociationDocument[]): NetworkDefinition {
  delete draft.groups;
  delete draft.associations;
  if (groups.length > 0) draft.groups = groups;
  if (associations.length > 0) draft.associations = associations;
  return assertNetworkDefinition(draft);
}

function groupsOf(def: NetworkDefinition): GroupDocument[] {
  return [...((def.groups ?? []) as GroupDocument[])];
}

function associationsOf(def: NetworkDefinition): AssociationDocument[] {
  return [...((def.associations ?? []) as AssociationDocument[])];
}

/** Adds group `name` (CIDRs inside ipRange); an existing name is refused. */
export function addGroup(def: NetworkDefinition, group: GroupDocument): NetworkDefinition {
  const groups = groupsOf(def);
  if (groups.some((g) => g.name === group.name)) {
    throw new NetdefValidationError([
      { path: `/groups/${groups.length}/name`, message: `group "${group.name}" already exists` },
    ]);
  }
  const added: GroupDocument = {
    name: group.name,
    cidrs: [...group.cidrs],
    ...(group.intraGroup ? { intraGroup: true } : {}),
  };
  return commit(draftOf(def), [...groups, added], associationsOf(def));
}

/** Removes group `name`; refused while an association names it (dissociate first). */
export function removeGroup(def: NetworkDefinition, name: string): NetworkDefinition {
  const groups = groupsOf(def);
  const index = groups.findIndex((g) => g.name === name);
  if (index < 0) throw new NetdefValidationError([{ path: '/groups', message: `no group "${name}"` }]);
  const associations = associationsOf(def);
  const user = associations.findIndex((a) => a.from === name || a.to === name);
  if (user >= 0) {
    throw new NetdefValidationError([
      { path: `/associations/${user}`, message: `group "${name}" is used by this association: dissociate it first` },
    ]);
  }
  groups.splice(index, 1);
  return commit(draftOf(def), groups, associations);
}

function sameAssociation(a: AssociationDocument, b: AssociationDocument): boolean {
  return (
    a.from === b.from &&
    a.to === b.to &&
    (a.protocol ?? null) === (b.protocol ?? null) &&
    JSON.stringify(a.ports ?? null) === JSON.stringify(b.ports ?? null) &&
    (a.bothWays === true) === (b.bothWays === true)
  );
}

function canonicalAssociation(a: AssociationDocument): AssociationDocument {
  return {
    from: a.from,
    to: a.to,
    ...(a.protocol !== undefined ? { protocol: a.protocol } : {}),
    ...(a.ports !== undefined ? { ports: [...a.ports] } : {}),
    ...(a.bothWays === true ? { bothWays: true } : {}),
  };
}

/** Lets `from` open connections to `to` (one way unless bothWays); a duplicate is refused by validation. */
export function associate(def: NetworkDefinition, association: AssociationDocument): NetworkDefinition {
  return commit(draftOf(def), groupsOf(def), [...associationsOf(def), canonicalAssociation(association)]);
}

/** Removes the association equal to `association` (same groups, protocol, ports, direction). */
export function dissociate(def: NetworkDefinition, association: AssociationDocument): NetworkDefinition {
  const associations = associationsOf(def);
  const wanted = canonicalAssociation(association);
  const index = associations.findIndex((a) => sameAssociation(a, wanted));
  if (index < 0) {
    throw new NetdefValidationError([
      {
        path: '/associations',
        message: `no association ${wanted.from} -> ${wanted.to} with these protocol, ports and direction`,
      },
    ]);
  }
  associations.splice(index, 1);
  return commit(draftOf(def), groupsOf(def), associations);
}
