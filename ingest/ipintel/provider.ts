/**
 * IP intelligence: what an address says about the client — its place (geo), its autonomous system
 * (`asn`, `as_org`) and its network kind — from the sources the operator configured: MaxMind-format
 * databases and a network list, each reloaded when its file changes. With none, the place comes
 * from geoip-lite's bundled data (zero configuration) and the rest is unknown. A small cache holds
 * hot addresses; it is emptied whenever a source is swapped.
 */
import type { Logger } from 'pino';
import type { ValuesOf } from '../../platform/settings.ts';
import { type Geo, geoipLite } from '../pipeline/geo.ts';
import { MmdbLookup, parseMmdb } from './mmdb.ts';
import { kindOfAnonymous, kindOfConnectionType, type NetworkKind } from './network-kind.ts';
import { type NetworkList, parseNetworkList } from './network-list.ts';
import { type Asn, asnOf, geoOfCity, NO_ASN } from './records.ts';
import type { IP_INTEL_SETTINGS } from './settings.ts';
import { WatchedFile } from './watched-file.ts';

export type IpIntelSettings = ValuesOf<typeof IP_INTEL_SETTINGS>;

/** What ingest records about an event's address. */
export interface IpFacts extends Geo, Asn {
  network_kind: NetworkKind;
}

/** The sources of one IpIntel; each may be absent. */
export interface IpSources {
  city?: MmdbLookup;
  asn?: MmdbLookup;
  anonymous?: MmdbLookup;
  connectionType?: MmdbLookup;
  networkList?: () => NetworkList;
  /** accuracy radius of a City record that places the address without one */
  unknownRadiusKm?: number;
}

export class IpIntel {
  readonly #s: IpSources;
  readonly #cacheSize: number;
  #cache = new Map<string, Readonly<IpFacts>>();
  readonly #closers: (() => void)[] = [];

  constructor(sources: IpSources = {}, cacheSize = 50_000) {
    this.#s = sources;
    this.#cacheSize = cacheSize;
  }

  /** The facts of an already-normalized address (never throws; unknown parts are '' and 0). */
  lookup(address: string): Readonly<IpFacts> {
    const hit = this.#cache.get(address);
    if (hit !== undefined) return hit;
    const facts = address === '' ? UNKNOWN : this.#find(address);
    if (this.#cache.size >= this.#cacheSize) this.#cache.clear();
    this.#cache.set(address, facts);
    return facts;
  }

  #find(address: string): Readonly<IpFacts> {
    const s = this.#s;
    const geo =
      s.city === undefined ? geoipLite(address) : geoOfCity(s.city.get(address), s.unknownRadiusKm ?? 0);
    const asn = s.asn === undefined ? NO_ASN : asnOf(s.asn.get(address));
    const network_kind =
      s.networkList?.().kindOf(address) ||
      kindOfAnonymous(s.anonymous?.get(address) ?? null) ||
      kindOfConnectionType(s.connectionType?.get(address) ?? null);
    return { ...geo, ...asn, network_kind };
  }

  /** Forgets the cached answers (a source changed). */
  clearCache(): void {
    this.#cache = new Map();
  }

  /** Something to run on close (stop watching a file). */
  onClose(close: () => void): void {
    this.#closers.push(close);
  }

  close(): void {
    for (const c of this.#closers.splice(0)) c();
  }
}

const UNKNOWN: Readonly<IpFacts> = Object.freeze({ ...geoipLite(''), ...NO_ASN, network_kind: '' });

/** A database of the settings, watched; warns when its type is not the kind the variable wants. */
function database(
  path: string,
  variable: string,
  expected: RegExp,
  intel: () => IpIntel,
  settings: IpIntelSettings,
  log: Logger,
): MmdbLookup {
  const file = new WatchedFile({
    path,
    what: `${variable}`,
    parse: (bytes) => {
      const reader = parseMmdb(bytes);
      if (!expected.test(reader.metadata.databaseType))
        log.warn(
          { file: path, databaseType: reader.metadata.databaseType },
          `${variable} names a ${reader.metadata.databaseType} database; expected one matching ${expected}: check the variable names the right file`,
        );
      return reader;
    },
    log,
    pollMs: settings.pollSeconds * 1000,
    onSwap: () => intel().clearCache(),
  }).watch();
  intel().onClose(() => file.close());
  return new MmdbLookup(() => file.current, path, log);
}

/** The IP intelligence the settings name; throws (naming the variable and the file) when a file cannot be read. */
export function openIpIntel(settings: IpIntelSettings, log: Logger): IpIntel {
  const sources: IpSources = { unknownRadiusKm: settings.unknownRadiusKm };
  const intel = new IpIntel(sources);
  const self = () => intel;
  const opened: string[] = [];
  try {
    const db = (path: string, variable: string, expected: RegExp) => {
      opened.push(variable);
      return database(path, variable, expected, self, settings, log);
    };
    if (settings.cityDb !== '')
      sources.city = db(settings.cityDb, 'TOKENWATCH_GEOIP_CITY_DB', /city|country|enterprise/i);
    if (settings.asnDb !== '') sources.asn = db(settings.asnDb, 'TOKENWATCH_GEOIP_ASN_DB', /asn|isp/i);
    if (settings.anonymousDb !== '')
      sources.anonymous = db(settings.anonymousDb, 'TOKENWATCH_GEOIP_ANONYMOUS_DB', /anonymous/i);
    if (settings.connectionTypeDb !== '')
      sources.connectionType = db(
        settings.connectionTypeDb,
        'TOKENWATCH_GEOIP_CONNECTION_TYPE_DB',
        /connection/i,
      );
    if (settings.networkKindsFile !== '') {
      opened.push('TOKENWATCH_NETWORK_KINDS_FILE');
      const list = new WatchedFile({
        path: settings.networkKindsFile,
        what: 'TOKENWATCH_NETWORK_KINDS_FILE',
        parse: (bytes) => parseNetworkList(bytes.toString('utf8')),
        log,
        pollMs: settings.pollSeconds * 1000,
        onSwap: () => intel.clearCache(),
      }).watch();
      intel.onClose(() => list.close());
      sources.networkList = () => list.current;
    }
  } catch (err) {
    intel.close();
    throw err;
  }
  log.info(
    {
      sources:
        opened.length === 0 ? ['geoip-lite'] : settings.cityDb === '' ? ['geoip-lite', ...opened] : opened,
    },
    'IP intelligence',
  );
  return intel;
}
