/**
 * The operator's list of network kinds: a text file, one `CIDR kind` a line (kind: hosting,
 * anonymizer, mobile or residential; `#` starts a comment), e.g. the egress ranges of a corporate
 * proxy as `hosting` or a carrier's as `mobile`. It says more than any database: its kind wins.
 */
import type { BlockList } from 'node:net';
import { cidrList, inList } from '../../platform/net/network.ts';
import { isNetworkKind, NETWORK_KINDS, type NetworkKind } from './network-kind.ts';

export interface NetworkList {
  /** the kind of an already-normalized address ('' when the list does not hold it) */
  kindOf(address: string): NetworkKind;
  readonly entries: number;
}

/** Parses the list; throws naming the line and what is wrong with it. */
export function parseNetworkList(text: string): NetworkList {
  const byKind = new Map<NetworkKind, string[]>();
  let entries = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const [cidr = '', kind = '', ...rest] = line.split(/\s+/);
    if (!isNetworkKind(kind) || rest.length > 0)
      throw new Error(
        `line ${i + 1} ${JSON.stringify(raw.trim())}: expected \`CIDR kind\` with kind one of ${NETWORK_KINDS.join(', ')}`,
      );
    try {
      cidrList([cidr]);
    } catch (err) {
      throw new Error(`line ${i + 1}: ${(err as Error).message}`);
    }
    byKind.set(kind, [...(byKind.get(kind) ?? []), cidr]);
    entries++;
  });
  // a fixed order: an address listed under two kinds gets the first of NETWORK_KINDS
  const lists: [NetworkKind, BlockList][] = NETWORK_KINDS.filter((k) => byKind.has(k)).map((k) => [
    k,
    cidrList(byKind.get(k)!),
  ]);
  return {
    entries,
    kindOf(address) {
      for (const [kind, list] of lists) if (inList(list, address)) return kind;
      return '';
    },
  };
}
