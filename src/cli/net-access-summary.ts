/** The access-control part of `zmesh net show`: groups, associations, external peers. */

import type { AssociationDocument, NetworkDefinition } from '../netdef/index.js';
import { describeAssociation } from './net-access.js';
import { formatTable } from './table.js';

/** `net show`'s part: groups, associations and external peers (pending, redeemed or expired at `now`); '' when none. */
export function accessSummary(def: NetworkDefinition, now: Date): string {
  let text = '';
  if (def.groups?.length) {
    text += `\n${formatTable(
      ['GROUP', 'CIDRS', 'INTRA'],
      def.groups.map((g) => [g.name, g.cidrs.join(','), g.intraGroup ? 'yes' : 'no']),
    )}`;
  }
  if (def.associations?.length) {
    text += `\n${formatTable(
      ['ASSOCIATION'],
      def.associations.map((a) => [describeAssociation(a as AssociationDocument)]),
    )}`;
  } else if (def.groups?.length) {
    text += 'no associations: nothing is filtered\n';
  }
  if (def.externalPeers?.length) {
    const rows = def.externalPeers.map((p) => {
      const state =
        p.publicKey !== undefined ? 'redeemed' : now.getTime() >= Date.parse(p.expires) ? 'expired' : 'pending';
      return [p.name, p.address, p.via, state, p.publicKey === undefined ? p.expires : '-'];
    });
    text += `\n${formatTable(['EXTERNAL PEER', 'ADDRESS', 'VIA', 'INVITATION', 'EXPIRES'], rows)}`;
  }
  return text;
}
