/**
 * MaxMind DB files (.mmdb: MaxMind GeoLite2/GeoIP2, DB-IP Lite and others in the format) read with
 * the `maxmind` package, checked whole before use: the format version, the search tree's records
 * (every one must point inside the file) and a few probe lookups. A lookup never throws: a record
 * that cannot be decoded reads as none, and the first such failure of a file is logged.
 */
import { isIP } from 'node:net';
import { Reader, type Response } from 'maxmind';
import type { Logger } from 'pino';

export type MmdbRecord = Record<string, unknown>;

const METADATA_MARKER = Buffer.from('ABCDEF4D61784D696E642E636F6D', 'hex');
const PROBES = ['1.1.1.1', '8.8.8.8', '2001:4860:4860::8888', '2a00:1450::1'];

/** The record of the node's left (0) or right (1) branch. */
function recordAt(db: Buffer, recordSize: number, node: number, side: 0 | 1): number {
  if (recordSize === 24) return db.readUIntBE(node * 6 + side * 3, 3);
  if (recordSize === 32) return db.readUInt32BE(node * 8 + side * 4);
  const at = node * 7;
  return side === 0
    ? ((db[at + 3]! & 0xf0) << 20) | db.readUIntBE(at, 3)
    : ((db[at + 3]! & 0x0f) << 24) | db.readUIntBE(at + 4, 3);
}

/** Decoded records by offset, at most `max` (emptied when full): many addresses share a record. */
class RecordCache {
  readonly #max: number;
  #map = new Map<string | number, unknown>();
  constructor(max: number) {
    this.#max = max;
  }
  get(key: string | number): unknown {
    return this.#map.get(key);
  }
  set(key: string | number, value: unknown): void {
    if (this.#map.size >= this.#max) this.#map = new Map();
    this.#map.set(key, value);
  }
}

/** A parsed, checked database; throws saying what is wrong with it. */
export function parseMmdb(bytes: Buffer): Reader<Response> {
  const metadataAt = bytes.lastIndexOf(METADATA_MARKER);
  if (metadataAt === -1) throw new Error('not a MaxMind DB file (no metadata marker)');
  const reader = new Reader<Response>(bytes, { cache: new RecordCache(10_000) });
  const m = reader.metadata;
  if (m.binaryFormatMajorVersion !== 2)
    throw new Error(`MaxMind DB format version ${m.binaryFormatMajorVersion} (only 2 is read)`);
  if (m.ipVersion !== 4 && m.ipVersion !== 6) throw new Error(`ip_version ${m.ipVersion} (4 or 6 expected)`);
  const dataAt = m.searchTreeSize + 16;
  if (!Number.isInteger(m.nodeCount) || m.nodeCount < 1 || dataAt > metadataAt)
    throw new Error(
      `its search tree (${m.nodeCount} nodes) does not fit in the file (${bytes.length} bytes)`,
    );
  const limit = m.nodeCount + 16 + (metadataAt - dataAt);
  for (let node = 0; node < m.nodeCount; node++)
    for (const side of [0, 1] as const) {
      const r = recordAt(bytes, m.recordSize, node, side);
      if (r > m.nodeCount && (r < m.nodeCount + 16 || r >= limit))
        throw new Error(`node ${node} points outside the data section (record ${r})`);
    }
  for (const ip of PROBES) if (m.ipVersion === 6 || !ip.includes(':')) reader.get(ip);
  return reader;
}

/** Lookups in one database (the current reader is asked for each time: it may be swapped). */
export class MmdbLookup {
  readonly #reader: () => Reader<Response>;
  readonly #path: string;
  readonly #log: Logger;
  #failedReader: Reader<Response> | undefined;

  constructor(reader: () => Reader<Response>, path: string, log: Logger) {
    this.#reader = reader;
    this.#path = path;
    this.#log = log;
  }

  /** The record of an already-normalized address; null when the database has none or cannot decode it. */
  get(address: string): MmdbRecord | null {
    const family = isIP(address);
    const reader = this.#reader();
    if (family === 0 || (family === 6 && reader.metadata.ipVersion === 4)) return null;
    try {
      const r = reader.get(address) as unknown;
      return typeof r === 'object' && r !== null && !Array.isArray(r) ? (r as MmdbRecord) : null;
    } catch (err) {
      if (this.#failedReader !== reader) {
        this.#failedReader = reader;
        this.#log.error(
          { file: this.#path, ip: address, err: (err as Error).message },
          `${this.#path}: a record cannot be decoded (the file is damaged?); such addresses get no data from it`,
        );
      }
      return null;
    }
  }

  get databaseType(): string {
    return this.#reader().metadata.databaseType;
  }
}
