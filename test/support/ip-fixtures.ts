/**
 * Small MaxMind-format databases for tests, in the record layouts of the real ones (GeoLite2 City
 * and ASN, DB-IP Lite City, GeoIP2 Anonymous IP and Connection-Type), written at test time with
 * ./mmdb-writer.ts into a folder of the test's own.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { double, type MmdbNetwork, writeMmdb } from './mmdb-writer.ts';

/** A GeoLite2/GeoIP2 City record. */
export const geoLite2City = (o: {
  country: string;
  region: string;
  city: string;
  lat: number;
  lon: number;
  radiusKm: number;
}) => ({
  city: { geoname_id: 1, names: { en: o.city, de: `${o.city} (de)` } },
  continent: { code: 'EU', geoname_id: 2, names: { en: 'Europe' } },
  country: { geoname_id: 3, iso_code: o.country, names: { en: o.country } },
  location: {
    accuracy_radius: o.radiusKm,
    latitude: double(o.lat),
    longitude: double(o.lon),
    time_zone: 'Europe/London',
  },
  registered_country: { geoname_id: 3, iso_code: o.country, names: { en: o.country } },
  subdivisions: [{ geoname_id: 4, iso_code: o.region, names: { en: `${o.region} (name)` } }],
});

/** A DB-IP Lite City record: no accuracy radius, subdivisions named but not coded. */
export const dbipCity = (o: { country: string; region: string; city: string; lat: number; lon: number }) => ({
  city: { names: { en: o.city } },
  continent: { code: 'AS', geoname_id: 6_255_147, names: { en: 'Asia' } },
  country: { iso_code: o.country, is_in_european_union: false, names: { en: o.country } },
  location: { latitude: double(o.lat), longitude: double(o.lon) },
  subdivisions: [{ names: { en: o.region } }],
});

export const asnRecord = (asn: number, org: string) => ({
  autonomous_system_number: asn,
  autonomous_system_organization: org,
});

const LONDON = geoLite2City({
  country: 'GB',
  region: 'ENG',
  city: 'London',
  lat: 51.5142,
  lon: -0.0931,
  radiusKm: 10,
});
const TOKYO = dbipCity({ country: 'JP', region: 'Tokyo', city: 'Shinjuku', lat: 35.6938, lon: 139.7034 });
const SYDNEY = geoLite2City({
  country: 'AU',
  region: 'NSW',
  city: 'Sydney',
  lat: -33.8688,
  lon: 151.209,
  radiusKm: 200,
});

/** The fixture networks: addresses in them and what the databases say about them. */
export const FIXTURE = {
  london: { ip: '81.2.69.142', ipv6: '2a02:8010::1' },
  tokyo: { ip: '2001:218:1::5' },
  /** a carrier: City, ASN and Connection-Type `Cellular` */
  carrier: { ip: '1.128.0.7', ipv6: '2001:8004:1::1' },
  /** a VPN exit of a hosting provider */
  vpn: { ip: '5.2.64.9', ipv6: '2a0d:5600::9' },
  /** a residential proxy */
  residentialProxy: { ip: '24.60.1.1' },
  /** a cloud provider */
  hosting: { ip: '3.5.140.2' },
};

export const CITY_NETWORKS: MmdbNetwork[] = [
  { cidr: '81.2.69.0/24', record: LONDON },
  { cidr: '2a02:8010::/32', record: LONDON },
  { cidr: '2001:218::/32', record: TOKYO },
  { cidr: '1.128.0.0/11', record: SYDNEY },
  { cidr: '2001:8004::/32', record: SYDNEY },
];
export const ASN_NETWORKS: MmdbNetwork[] = [
  { cidr: '81.2.69.0/24', record: asnRecord(20_712, 'Andrews & Arnold Ltd') },
  { cidr: '2a02:8010::/32', record: asnRecord(20_712, 'Andrews & Arnold Ltd') },
  { cidr: '1.128.0.0/11', record: asnRecord(1221, 'Telstra Limited') },
  { cidr: '2001:8004::/32', record: asnRecord(1221, 'Telstra Limited') },
  { cidr: '5.2.64.0/20', record: asnRecord(60_068, 'Datacamp Limited') },
  { cidr: '2a0d:5600::/29', record: asnRecord(60_068, 'Datacamp Limited') },
  { cidr: '3.5.140.0/22', record: asnRecord(4_200_000_001, 'Big Cloud') },
];
export const ANONYMOUS_NETWORKS: MmdbNetwork[] = [
  { cidr: '5.2.64.0/20', record: { is_anonymous: true, is_anonymous_vpn: true, is_hosting_provider: true } },
  { cidr: '2a0d:5600::/29', record: { is_anonymous: true, is_anonymous_vpn: true } },
  { cidr: '24.60.0.0/16', record: { is_anonymous: true, is_residential_proxy: true } },
  { cidr: '3.5.140.0/22', record: { is_anonymous: true, is_hosting_provider: true } },
];
export const CONNECTION_TYPE_NETWORKS: MmdbNetwork[] = [
  { cidr: '1.128.0.0/11', record: { connection_type: 'Cellular' } },
  { cidr: '2001:8004::/32', record: { connection_type: 'Cellular' } },
  { cidr: '81.2.69.0/24', record: { connection_type: 'Cable/DSL' } },
];

export const cityDb = (networks = CITY_NETWORKS) => writeMmdb(networks, { databaseType: 'GeoLite2-City' });
export const asnDb = (networks = ASN_NETWORKS) => writeMmdb(networks, { databaseType: 'GeoLite2-ASN' });
export const anonymousDb = () => writeMmdb(ANONYMOUS_NETWORKS, { databaseType: 'GeoIP2-Anonymous-IP' });
export const connectionTypeDb = () =>
  writeMmdb(CONNECTION_TYPE_NETWORKS, { databaseType: 'GeoIP2-Connection-Type' });

/** The four databases written into a new folder; their paths. */
export function writeFixtureDbs(prefix = 'tokenwatch-ipintel-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = (name: string, bytes: Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  return {
    dir,
    city: file('GeoLite2-City.mmdb', cityDb()),
    asn: file('GeoLite2-ASN.mmdb', asnDb()),
    anonymous: file('GeoIP2-Anonymous-IP.mmdb', anonymousDb()),
    connectionType: file('GeoIP2-Connection-Type.mmdb', connectionTypeDb()),
  };
}
