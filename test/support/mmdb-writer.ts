/**
 * A small MaxMind DB (.mmdb) writer for tests: builds the binary search tree over IPv6 (IPv4
 * networks at ::/96, as MaxMind's own databases hold them), the data section (maps, strings,
 * unsigned integers, doubles, booleans, arrays) and the metadata, after the format specification
 * (https://maxmind.github.io/MaxMind-DB/). Tests make their fixtures with it at test time: no
 * database is downloaded or checked in. 24-bit records, no pointers or deduplication beyond one
 * copy per distinct record object.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** A value of the data section: a JS number is a uint32 (a double when not an integer in range). */
export type MmdbValue = string | number | boolean | MmdbValue[] | { [key: string]: MmdbValue } | Double;

/** A number written as a double even when it is integral (latitudes, longitudes). */
export class Double {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}
export const double = (value: number) => new Double(value);

export interface MmdbNetwork {
  /** `a.b.c.d/n` or an IPv6 `x::/n` */
  cidr: string;
  record: { [key: string]: MmdbValue };
}

export interface MmdbOptions {
  databaseType: string;
  description?: string;
  /** seconds since the epoch */
  buildEpoch?: number;
}

// --- data section --------------------------------------------------------------------------------

const TYPE = {
  string: 2,
  double: 3,
  uint16: 5,
  uint32: 6,
  map: 7,
  uint64: 9,
  array: 11,
  boolean: 14,
} as const;

/** The control byte(s) of a value of `type` and `size`, the size extension included. */
function control(type: number, size: number): Buffer {
  const bytes: number[] = [];
  let sizeBits: number;
  const extra: number[] = [];
  if (size < 29) sizeBits = size;
  else if (size < 29 + 256) {
    sizeBits = 29;
    extra.push(size - 29);
  } else if (size < 285 + 65_536) {
    sizeBits = 30;
    const n = size - 285;
    extra.push(n >> 8, n & 255);
  } else {
    sizeBits = 31;
    const n = size - 65_821;
    extra.push((n >> 16) & 255, (n >> 8) & 255, n & 255);
  }
  if (type <= 7) bytes.push((type << 5) | sizeBits);
  else bytes.push(sizeBits, type - 7);
  return Buffer.from([...bytes, ...extra]);
}

function unsignedBytes(n: number | bigint): Buffer {
  const out: number[] = [];
  let v = BigInt(n);
  while (v > 0n) {
    out.unshift(Number(v & 255n));
    v >>= 8n;
  }
  return Buffer.from(out);
}

/** One encoded value (no pointers). */
export function encodeValue(v: MmdbValue): Buffer {
  if (typeof v === 'string') {
    const bytes = Buffer.from(v, 'utf8');
    return Buffer.concat([control(TYPE.string, bytes.length), bytes]);
  }
  if (typeof v === 'boolean') return control(TYPE.boolean, v ? 1 : 0);
  if (v instanceof Double || (typeof v === 'number' && !(Number.isInteger(v) && v >= 0 && v < 2 ** 32))) {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v instanceof Double ? v.value : v);
    return Buffer.concat([control(TYPE.double, 8), b]);
  }
  if (typeof v === 'number') {
    const bytes = unsignedBytes(v);
    return Buffer.concat([control(TYPE.uint32, bytes.length), bytes]);
  }
  if (Array.isArray(v)) return Buffer.concat([control(TYPE.array, v.length), ...v.map(encodeValue)]);
  const entries = Object.entries(v);
  return Buffer.concat([
    control(TYPE.map, entries.length),
    ...entries.flatMap(([k, x]) => [encodeValue(k), encodeValue(x)]),
  ]);
}

/** A uint16 or uint64 as the metadata needs them (typed by field, unlike data records). */
const uint = (type: number, n: number) => {
  const bytes = unsignedBytes(n);
  return Buffer.concat([control(type, bytes.length), bytes]);
};

// --- search tree ---------------------------------------------------------------------------------

interface TreeNode {
  children: [Child, Child];
}
/** Empty, a node, or a record (its offset in the data section). */
type Child = { kind: 'empty' } | { kind: 'node'; node: TreeNode } | { kind: 'data'; offset: number };

/** The 128 bits of an address (IPv4 at ::/96) and the prefix length in that space. */
export function networkBits(cidr: string): { bits: number[]; prefix: number } {
  const [address = '', prefixText] = cidr.split('/');
  let words: number[];
  let offset: number;
  if (isIPv4(address)) {
    const octets = address.split('.').map(Number);
    words = [0, 0, 0, 0, 0, 0, (octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!];
    offset = 96;
  } else if (isIPv6(address)) {
    const [head = '', tail] = address.split('::');
    const left = head === '' ? [] : head.split(':');
    const right = tail === undefined || tail === '' ? [] : tail.split(':');
    const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
    words = [...left, ...fill, ...right].map((h) => Number.parseInt(h, 16));
    offset = 0;
  } else throw new Error(`mmdb writer: ${JSON.stringify(cidr)} is not an IPv4 or IPv6 network`);
  const prefix = offset + (prefixText === undefined ? 128 - offset : Number(prefixText));
  const bits: number[] = [];
  for (const w of words) for (let i = 15; i >= 0; i--) bits.push((w >> i) & 1);
  return { bits, prefix };
}

function insert(root: TreeNode, bits: number[], prefix: number, leaf: Child): void {
  let node = root;
  for (let depth = 0; depth < prefix - 1; depth++) {
    const bit = bits[depth]!;
    const child = node.children[bit]!;
    if (child.kind === 'node') node = child.node;
    else {
      // an empty branch, or a wider network's record split to make room for a narrower one
      const next: TreeNode = { children: [child, child] };
      node.children[bit] = { kind: 'node', node: next };
      node = next;
    }
  }
  node.children[bits[prefix - 1]!] = leaf;
}

/** The .mmdb file holding `networks` (wider networks first, narrower ones inside them after). */
export function writeMmdb(networks: readonly MmdbNetwork[], o: MmdbOptions): Buffer {
  const data: Buffer[] = [];
  let dataSize = 0;
  const offsets = new Map<object, number>();
  const root: TreeNode = { children: [{ kind: 'empty' }, { kind: 'empty' }] };
  const sorted = networks.map((n) => ({ n, ...networkBits(n.cidr) })).sort((a, b) => a.prefix - b.prefix);
  for (const { n, bits, prefix } of sorted) {
    let offset = offsets.get(n.record);
    if (offset === undefined) {
      offset = dataSize;
      const encoded = encodeValue(n.record);
      data.push(encoded);
      dataSize += encoded.length;
      offsets.set(n.record, offset);
    }
    if (prefix < 1) throw new Error(`mmdb writer: ${n.cidr} is the whole address space`);
    insert(root, bits, prefix, { kind: 'data', offset });
  }
  // number the nodes breadth-first (the root is node 0)
  const order: TreeNode[] = [root];
  const numbers = new Map<TreeNode, number>([[root, 0]]);
  for (let i = 0; i < order.length; i++)
    for (const c of order[i]!.children)
      if (c.kind === 'node' && !numbers.has(c.node)) {
        numbers.set(c.node, order.length);
        order.push(c.node);
      }
  const nodeCount = order.length;
  if (nodeCount + 16 + dataSize >= 2 ** 24) throw new Error('mmdb writer: too large for 24-bit records');
  const recordOf = (c: Child) =>
    c.kind === 'empty' ? nodeCount : c.kind === 'node' ? numbers.get(c.node)! : nodeCount + 16 + c.offset;
  const tree = Buffer.alloc(nodeCount * 6);
  order.forEach((node, i) => {
    tree.writeUIntBE(recordOf(node.children[0]), i * 6, 3);
    tree.writeUIntBE(recordOf(node.children[1]), i * 6 + 3, 3);
  });
  const metadata = Buffer.concat([
    control(TYPE.map, 9),
    encodeValue('node_count'),
    uint(TYPE.uint32, nodeCount),
    encodeValue('record_size'),
    uint(TYPE.uint16, 24),
    encodeValue('ip_version'),
    uint(TYPE.uint16, 6),
    encodeValue('database_type'),
    encodeValue(o.databaseType),
    encodeValue('languages'),
    encodeValue(['en']),
    encodeValue('binary_format_major_version'),
    uint(TYPE.uint16, 2),
    encodeValue('binary_format_minor_version'),
    uint(TYPE.uint16, 0),
    encodeValue('build_epoch'),
    uint(TYPE.uint64, o.buildEpoch ?? 1_700_000_000),
    encodeValue('description'),
    encodeValue({ en: o.description ?? `${o.databaseType} test fixture` }),
  ]);
  return Buffer.concat([
    tree,
    Buffer.alloc(16),
    ...data,
    Buffer.from('ABCDEF4D61784D696E642E636F6D', 'hex'),
    metadata,
  ]);
}
