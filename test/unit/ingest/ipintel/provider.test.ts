/**
 * IP intelligence on generated MaxMind-format fixtures (GeoLite2 City and ASN, DB-IP Lite City,
 * GeoIP2 Anonymous IP and Connection-Type layouts), IPv4 and IPv6; the operator's network list;
 * reloads (a new file answers, a broken one keeps the old and says so); and hostile addresses.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { IpIntel, type IpIntelSettings, openIpIntel } from '../../../../ingest/ipintel/provider.ts';
import { asnDb, asnRecord, cityDb, FIXTURE, writeFixtureDbs } from '../../../support/ip-fixtures.ts';

const dbs = writeFixtureDbs();
afterAll(() => rmSync(dbs.dir, { recursive: true, force: true }));

const NONE: IpIntelSettings = {
  cityDb: '',
  asnDb: '',
  anonymousDb: '',
  connectionTypeDb: '',
  networkKindsFile: '',
  unknownRadiusKm: 100,
  pollSeconds: 0,
};
const ALL: IpIntelSettings = {
  ...NONE,
  cityDb: dbs.city,
  asnDb: dbs.asn,
  anonymousDb: dbs.anonymous,
  connectionTypeDb: dbs.connectionType,
};

/** A logger whose lines the test reads. */
function capturedLog() {
  const lines: { level: number; msg: string; file?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { log, lines, errors: () => lines.filter((l) => l.level >= 50) };
}

const until = async (what: string, ok: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('IpIntel from MaxMind-format databases', () => {
  const captured = capturedLog();
  const intel = openIpIntel(ALL, captured.log);
  afterAll(() => intel.close());

  it('places IPv4 and IPv6 addresses with a GeoLite2 City database', () => {
    for (const ip of [FIXTURE.london.ip, FIXTURE.london.ipv6])
      expect(intel.lookup(ip), ip).toMatchObject({
        country: 'GB',
        region: 'ENG',
        city: 'London',
        lat: 51.5142,
        lon: -0.0931,
        radius_km: 10,
        asn: 20_712,
        as_org: 'Andrews & Arnold Ltd',
        network_kind: '',
      });
  });

  it('reads DB-IP Lite City records: the subdivision by name, the configured radius', () => {
    expect(intel.lookup(FIXTURE.tokyo.ip)).toMatchObject({
      country: 'JP',
      region: 'Tokyo',
      city: 'Shinjuku',
      lat: 35.6938,
      lon: 139.7034,
      radius_km: 100,
    });
  });

  it('says the network kind: Cellular is mobile, VPN anonymizer, residential proxy, hosting', () => {
    for (const ip of [FIXTURE.carrier.ip, FIXTURE.carrier.ipv6])
      expect(intel.lookup(ip), ip).toMatchObject({ country: 'AU', asn: 1221, network_kind: 'mobile' });
    for (const ip of [FIXTURE.vpn.ip, FIXTURE.vpn.ipv6])
      expect(intel.lookup(ip), ip).toMatchObject({ asn: 60_068, network_kind: 'anonymizer' });
    expect(intel.lookup(FIXTURE.residentialProxy.ip).network_kind).toBe('residential');
    expect(intel.lookup(FIXTURE.hosting.ip)).toMatchObject({
      asn: 4_200_000_001,
      as_org: 'Big Cloud',
      network_kind: 'hosting',
    });
  });

  it('knows nothing of addresses outside the databases (no geoip-lite mixed in)', () => {
    for (const ip of ['85.214.132.117', '2001:db8::1', '10.0.0.1', ''])
      expect(intel.lookup(ip), ip).toStrictEqual({
        country: '',
        region: '',
        city: '',
        lat: 0,
        lon: 0,
        radius_km: 0,
        asn: 0,
        as_org: '',
        network_kind: '',
      });
  });

  it('never throws, whatever the address (answers are unknown for non-addresses)', () => {
    const address = fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 64 }));
    fc.assert(
      fc.property(address, (ip) => {
        const facts = intel.lookup(ip);
        expect(facts.asn).toBeGreaterThanOrEqual(0);
        expect(['', 'hosting', 'anonymizer', 'mobile', 'residential']).toContain(facts.network_kind);
      }),
      { numRuns: 2000 },
    );
    // sound databases: nothing to report, not even for text that is no address
    expect(captured.errors()).toEqual([]);
  });
});

describe('a database with a damaged record', () => {
  it('answers unknown for it, never throws, and logs the file once', () => {
    const bytes = Buffer.from(cityDb());
    const treeBytes = bytes.lastIndexOf(Buffer.from('ABCDEF4D61784D696E642E636F6D', 'hex'));
    // the first record of the data section (London's) overwritten with control bytes that do not decode
    const dataAt = bytes.indexOf(Buffer.alloc(16)) + 16;
    expect(dataAt).toBeLessThan(treeBytes);
    for (let i = 0; i < 40; i++) bytes[dataAt + i] = [0xff, 0x3f, 0x20, 0xe0][i % 4]!;
    const path = join(dbs.dir, 'damaged.mmdb');
    writeFileSync(path, bytes);
    const { log, errors } = capturedLog();
    const intel = openIpIntel({ ...NONE, cityDb: path }, log);
    const address = fc.oneof(fc.constant(FIXTURE.london.ip), fc.ipV4(), fc.ipV6());
    fc.assert(
      fc.property(address, (ip) => {
        intel.lookup(ip);
      }),
      { numRuns: 500 },
    );
    expect(intel.lookup(FIXTURE.london.ip).city).toBe('');
    expect(errors()).toHaveLength(1);
    expect(errors()[0]).toMatchObject({ file: path });
    intel.close();
  });
});

describe('IpIntel without databases', () => {
  it('places with geoip-lite and knows no ASN or network kind', () => {
    const intel = openIpIntel(NONE, pino({ level: 'silent' }));
    expect(intel.lookup('85.214.132.117')).toMatchObject({
      country: 'DE',
      asn: 0,
      as_org: '',
      network_kind: '',
    });
    expect(new IpIntel().lookup('85.214.132.117')).toStrictEqual(intel.lookup('85.214.132.117'));
  });
});

describe('the operator’s network list', () => {
  it('names kinds ahead of the databases, IPv4 and IPv6', () => {
    const path = join(dbs.dir, 'kinds.txt');
    writeFileSync(
      path,
      `# corporate egress\n${FIXTURE.vpn.ip}/32 hosting\n2a02:8010::/32  mobile # carrier\n\n`,
    );
    const intel = openIpIntel({ ...ALL, networkKindsFile: path }, pino({ level: 'silent' }));
    expect(intel.lookup(FIXTURE.vpn.ip).network_kind).toBe('hosting');
    expect(intel.lookup(FIXTURE.london.ipv6).network_kind).toBe('mobile');
    expect(intel.lookup(FIXTURE.london.ip).network_kind).toBe('');
    intel.close();
  });

  it('refuses a bad line, naming the file, the line and what a line must be', () => {
    const path = join(dbs.dir, 'bad-kinds.txt');
    writeFileSync(path, '10.0.0.0/8 hosting\n10.1.0.0/16 vpn\n');
    expect(() => openIpIntel({ ...NONE, networkKindsFile: path }, pino({ level: 'silent' }))).toThrow(
      `TOKENWATCH_NETWORK_KINDS_FILE ${path} cannot be read: line 2 "10.1.0.0/16 vpn": expected \`CIDR kind\` with kind one of hosting, anonymizer, mobile, residential, satellite`,
    );
  });
});

describe('reloading', () => {
  it('refuses to start on a file that is not a MaxMind database, naming the variable and the file', () => {
    const path = join(dbs.dir, 'not.mmdb');
    writeFileSync(path, 'hello');
    expect(() => openIpIntel({ ...NONE, asnDb: path }, pino({ level: 'silent' }))).toThrow(
      `TOKENWATCH_GEOIP_ASN_DB ${path} cannot be read: not a MaxMind DB file (no metadata marker)`,
    );
    expect(() =>
      openIpIntel({ ...NONE, asnDb: join(dbs.dir, 'missing.mmdb') }, pino({ level: 'silent' })),
    ).toThrow(/TOKENWATCH_GEOIP_ASN_DB .*missing\.mmdb cannot be read: ENOENT/);
  });

  it('answers from a replaced file; a broken replacement keeps the old answers and logs the file', async () => {
    const dir = writeFixtureDbs('tokenwatch-reload-');
    const { log, errors } = capturedLog();
    const intel = openIpIntel({ ...NONE, asnDb: dir.asn, cityDb: dir.city }, log);
    try {
      expect(intel.lookup(FIXTURE.london.ip).asn).toBe(20_712);
      // a new version, written aside and renamed over the old (the way to replace it)
      writeFileSync(
        `${dir.asn}.new`,
        asnDb([{ cidr: '81.2.69.0/24', record: asnRecord(65_001, 'Renamed Ltd') }]),
      );
      renameSync(`${dir.asn}.new`, dir.asn);
      await until('the new ASN database', () => intel.lookup(FIXTURE.london.ip).asn === 65_001);
      expect(intel.lookup(FIXTURE.london.ip).as_org).toBe('Renamed Ltd');
      expect(intel.lookup(FIXTURE.carrier.ip).asn).toBe(0);

      // a truncated City database: refused, the old one answers, an error names the file
      writeFileSync(dir.city, cityDb().subarray(0, 200));
      await until('the error', () => errors().length > 0);
      expect(errors()[0]).toMatchObject({ file: dir.city });
      expect(errors()[0]!.msg).toContain(`TOKENWATCH_GEOIP_CITY_DB ${dir.city} changed but cannot be read`);
      expect(errors()[0]!.msg).toContain('the version read before stays in use');
      expect(intel.lookup(FIXTURE.london.ipv6).city).toBe('London');

      // a database whose tree points outside its data: refused as well
      const broken = Buffer.from(cityDb());
      broken.writeUIntBE(0xfffff0, 0, 3);
      writeFileSync(dir.city, broken);
      await until('the second error', () => errors().length > 1);
      expect(errors()[1]!.msg).toContain('points outside the data section');
      expect(intel.lookup('81.2.69.1').city).toBe('London');

      // and a good one again is taken
      writeFileSync(
        dir.city,
        cityDb([{ cidr: '81.2.69.0/24', record: { city: { names: { en: 'Leeds' } } } }]),
      );
      await until('the repaired City database', () => intel.lookup('81.2.69.1').city === 'Leeds');
    } finally {
      intel.close();
      rmSync(dir.dir, { recursive: true, force: true });
    }
  });
});
