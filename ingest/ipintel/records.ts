/**
 * MaxMind-format records → tokenwatch's fields (pure). City: GeoLite2/GeoIP2 City and Country, and
 * DB-IP Lite City (no accuracy radius, subdivisions named but not coded). ASN: GeoLite2/GeoIP2 ASN,
 * GeoIP2 ISP and DB-IP Lite ASN (the same two fields).
 */
import type { Geo } from '../pipeline/geo.ts';
import { NO_GEO } from '../pipeline/geo.ts';

type Rec = Record<string, unknown>;

const obj = (v: unknown): Rec | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : undefined;
const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const finite = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;
const englishName = (v: unknown): string => text(obj(obj(v)?.['names'])?.['en']);

/**
 * The place of a City (or Country) record. `unknownRadiusKm`: the accuracy radius taken when the
 * record places the address but gives none (DB-IP). No location: lat, lon and radius 0.
 */
export function geoOfCity(r: Rec | null, unknownRadiusKm: number): Readonly<Geo> {
  if (r === null) return NO_GEO;
  const country = obj(r['country']) ?? obj(r['registered_country']);
  const region = Array.isArray(r['subdivisions']) ? obj(r['subdivisions'][0]) : undefined;
  const location = obj(r['location']);
  const lat = finite(location?.['latitude']);
  const lon = finite(location?.['longitude']);
  const placed = lat !== undefined && lon !== undefined && Math.abs(lat) <= 90 && Math.abs(lon) <= 180;
  const radius = finite(location?.['accuracy_radius']);
  return {
    country: text(country?.['iso_code']).slice(0, 2),
    region: text(region?.['iso_code']) || englishName(region),
    city: englishName(r['city']),
    lat: placed ? lat : 0,
    lon: placed ? lon : 0,
    radius_km: !placed
      ? 0
      : radius !== undefined && radius >= 0
        ? Math.min(Math.round(radius), 20_000)
        : unknownRadiusKm,
  };
}

export interface Asn {
  /** autonomous system number (0: unknown) */
  asn: number;
  /** the organisation that holds it ('' unknown) */
  as_org: string;
}
export const NO_ASN: Readonly<Asn> = Object.freeze({ asn: 0, as_org: '' });

/** The autonomous system of an ASN (or ISP) record. */
export function asnOf(r: Rec | null): Readonly<Asn> {
  if (r === null) return NO_ASN;
  const n = finite(r['autonomous_system_number']);
  return {
    asn: n !== undefined && Number.isInteger(n) && n > 0 && n < 2 ** 32 ? n : 0,
    as_org: text(r['autonomous_system_organization']).slice(0, 256),
  };
}
