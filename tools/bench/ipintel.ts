/**
 * The cost of IP intelligence per uncached address (`npm run bench:ipintel`, in process, no stack):
 * lookups/s of the operator's MaxMind-format databases — the City database alone, and City + ASN +
 * Anonymous IP + Connection-Type + a network list — beside geoip-lite's bundled data (the default)
 * on the same distinct IPv4 addresses, in the same run. The databases are generated
 * (test/support/mmdb-writer.ts): 100,000 /24 networks each, a tenth of them in the Anonymous IP and
 * Connection-Type ones. Rounds interleave the variants; ratio = variant / geoip-lite of its round.
 * Writes the "IP intelligence" section of tools/bench/RESULTS.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { IpIntel, openIpIntel } from '../../ingest/ipintel/provider.ts';
import { double, type MmdbNetwork, writeMmdb } from '../../test/support/mmdb-writer.ts';
import { machine, median, writeSection } from './support.ts';

const NETWORKS = 100_000;
const LOOKUPS = 100_000;
const ROUNDS = 5;

/** A pseudo-random generator (mulberry32), so each run looks the same addresses up. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const rnd = random(21);
/** Distinct public /24 networks (first octet 1–223, not 10, 127). */
const prefixes = new Set<number>();
while (prefixes.size < NETWORKS) {
  const first = 1 + Math.floor(rnd() * 223);
  if (first === 10 || first === 127) continue;
  prefixes.add((first << 16) | Math.floor(rnd() * 65_536));
}
const nets = [...prefixes].map((p) => `${p >>> 16}.${(p >>> 8) & 255}.${p & 255}`);
const cities = Array.from({ length: 1000 }, (_, i) => ({
  city: { geoname_id: i, names: { en: `City ${i}` } },
  country: { iso_code: 'XX', names: { en: 'X' } },
  location: { accuracy_radius: 20, latitude: double(rnd() * 120 - 60), longitude: double(rnd() * 340 - 170) },
  subdivisions: [{ iso_code: 'R', names: { en: 'Region' } }],
}));
const asns = Array.from({ length: 1000 }, (_, i) => ({
  autonomous_system_number: 1000 + i,
  autonomous_system_organization: `Org ${i}`,
}));
const networks = (record: (i: number) => MmdbNetwork['record'] | undefined) =>
  nets.flatMap((n, i) => {
    const r = record(i);
    return r === undefined ? [] : [{ cidr: `${n}.0/24`, record: r }];
  });

const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-bench-ipintel-'));
const file = (name: string, bytes: Buffer | string) => {
  writeFileSync(join(dir, name), bytes);
  return join(dir, name);
};
const t0 = performance.now();
const city = file(
  'city.mmdb',
  writeMmdb(
    networks((i) => cities[i % 1000]),
    { databaseType: 'GeoLite2-City' },
  ),
);
const asn = file(
  'asn.mmdb',
  writeMmdb(
    networks((i) => asns[i % 1000]),
    { databaseType: 'GeoLite2-ASN' },
  ),
);
const anonymous = file(
  'anonymous.mmdb',
  writeMmdb(
    networks((i) => (i % 10 === 0 ? { is_anonymous: true, is_anonymous_vpn: true } : undefined)),
    { databaseType: 'GeoIP2-Anonymous-IP' },
  ),
);
const connectionType = file(
  'connection-type.mmdb',
  writeMmdb(
    networks((i) => (i % 10 === 5 ? { connection_type: 'Cellular' } : undefined)),
    { databaseType: 'GeoIP2-Connection-Type' },
  ),
);
const list = file(
  'kinds.txt',
  nets
    .slice(0, 1000)
    .map((n) => `${n}.0/24 hosting`)
    .join('\n'),
);
console.log(`databases written in ${Math.round(performance.now() - t0)} ms`);

const addresses = Array.from({ length: LOOKUPS }, (_, i) => `${nets[i % NETWORKS]}.${1 + (i % 254)}`);
const settings = {
  cityDb: '',
  asnDb: '',
  anonymousDb: '',
  connectionTypeDb: '',
  networkKindsFile: '',
  unknownRadiusKm: 100,
  pollSeconds: 0,
};
const log = pino({ level: 'warn' });
const variants: { name: string; intel: () => IpIntel }[] = [
  { name: 'geoip-lite (default; baseline)', intel: () => new IpIntel() },
  { name: 'City database', intel: () => openIpIntel({ ...settings, cityDb: city }, log) },
  {
    name: 'City + ASN + Anonymous IP + Connection-Type + network list',
    intel: () =>
      openIpIntel(
        {
          ...settings,
          cityDb: city,
          asnDb: asn,
          anonymousDb: anonymous,
          connectionTypeDb: connectionType,
          networkKindsFile: list,
        },
        log,
      ),
  },
];

/** Lookups/s over the addresses, each looked up once (a fresh IpIntel: no cache hits). */
function measure(make: () => IpIntel): number {
  const intel = make();
  let placed = 0;
  const start = performance.now();
  for (const a of addresses) if (intel.lookup(a).lat !== 0) placed++;
  const rate = LOOKUPS / ((performance.now() - start) / 1000);
  intel.close();
  if (placed === 0) throw new Error('no address was placed: the bench is broken');
  return rate;
}

for (const v of variants) measure(v.intel); // warm-up
const rounds = Array.from({ length: ROUNDS }, (_, r) => {
  const rates = new Map<string, number>();
  for (let k = 0; k < variants.length; k++) {
    const v = variants[(k + r) % variants.length]!;
    rates.set(v.name, measure(v.intel));
  }
  return rates;
});
rmSync(dir, { recursive: true, force: true });

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const baseline = variants[0]!.name;
const rows = variants.map((v) => {
  const rates = rounds.map((r) => r.get(v.name)!);
  const ratios = rounds.map((r) => r.get(v.name)! / r.get(baseline)!);
  return `| ${v.name} | ${fmt(median(rates))} | ${median(ratios).toFixed(2)} | ${ratios.map((x) => x.toFixed(2)).join(', ')} | ${fmt(1e6 / median(rates))} |`;
});
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
const section = [
  '## IP intelligence',
  '',
  `\`npm run bench:ipintel\` on ${date} UTC; ${machine('in process')}.`,
  `Lookups/s of ${LOOKUPS.toLocaleString('en')} distinct IPv4 addresses (a fresh lookup per variant and round: no cache hits) in generated MaxMind-format databases of ${NETWORKS.toLocaleString('en')} /24 networks, ` +
    `beside geoip-lite's bundled data on the same addresses; ${ROUNDS} rounds, the order rotated; ratio = variant / geoip-lite of its round (median of rounds). ` +
    'Ingest caches 50,000 addresses, so a hot address pays none of this.',
  '',
  '| source | lookups/s (median) | ratio (median) | ratio per round | µs per lookup |',
  '|---|---:|---:|---|---:|',
  ...rows,
].join('\n');
console.log(section);
writeSection('IP intelligence', section);
