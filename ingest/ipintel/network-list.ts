/**
 * The operator's list of network kinds: a text file, one `CIDR kind` a line (kind: hosting,
 * anonymizer, mobile or residential; `#` starts a comment), e.g. the egress ranges of a corporate
 * proxy as `hosting` or a carrier's as `mobile`. It says more than any database: its kind wins.
 * Held as sets of networks per prefix length, so a lookup costs one set probe per length listed
 * (not one comparison per entry, as a BlockList would).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { cidrList } from '../../platform/net/network.ts';
import { isNetworkKind, NETWORK_KINDS, type NetworkKind } from './network-kind.ts';

export interface NetworkList {
  /** the kind of an already-normalized address ('' when the list does not hold it) */
  kindOf(address: string): NetworkKind;
  readonly entries: number;
}

/** An address as a number of 32 (IPv4) or 128 (IPv6) bits; undefined when it is neither. */
function addressBits(address: string): { value: bigint; bits: 32 | 128 } | undefined {
  if (isIPv4(address)) {
    const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number);
    return { value: BigInt((((a << 24) >>> 0) + (b << 16) + (c << 8) + d) >>> 0), bits: 32 };
  }
  if (!isIPv6(address)) return undefined;
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    const v4 = addressBits(dotted[1]!)!.value;
    text = `${text.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(Number.parseInt(g, 16));
  return { value, bits: 128 };
}

/** One kind's networks of one family: prefix length → the networks (address >> (bits - length)). */
type Networks = Map<number, Set<bigint>>;

/** Parses the list; throws naming the line and what is wrong with it. */
export function parseNetworkList(text: string): NetworkList {
  const byKind = new Map<NetworkKind, { v4: Networks; v6: Networks }>();
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
      cidrList([cidr]); // the same rules (and message) as every CIDR setting
    } catch (err) {
      throw new Error(`line ${i + 1}: ${(err as Error).message}`);
    }
    const [address = '', prefixText] = cidr.split('/');
    const a = addressBits(address)!;
    const length = prefixText === undefined ? a.bits : Number(prefixText);
    const tables = byKind.get(kind) ?? { v4: new Map(), v6: new Map() };
    byKind.set(kind, tables);
    const table = a.bits === 32 ? tables.v4 : tables.v6;
    const nets = table.get(length) ?? new Set<bigint>();
    table.set(length, nets);
    nets.add(a.value >> BigInt(a.bits - length));
    entries++;
  });
  // a fixed order: an address listed under two kinds gets the first of NETWORK_KINDS
  const kinds = NETWORK_KINDS.filter((k) => byKind.has(k)).map((k) => [k, byKind.get(k)!] as const);
  return {
    entries,
    kindOf(address) {
      if (kinds.length === 0) return '';
      const a = addressBits(address);
      if (a === undefined) return '';
      for (const [kind, tables] of kinds)
        for (const [length, nets] of a.bits === 32 ? tables.v4 : tables.v6)
          if (nets.has(a.value >> BigInt(a.bits - length))) return kind;
      return '';
    },
  };
}
