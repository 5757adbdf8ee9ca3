/**
 * Places of addresses from geoip-lite's bundled data (a 2019 GeoLite2 snapshot by MaxMind, CC BY-SA
 * 4.0: see NOTICE): the zero-configuration source of ../ipintel/provider.ts. IPv4 cities only.
 */
import geoip from 'geoip-lite';

export interface Geo {
  country: string;
  region: string;
  city: string;
  lat: number;
  lon: number;
  /** accuracy radius in km; 0 when the address has no location */
  radius_km: number;
}

export const NO_GEO: Readonly<Geo> = Object.freeze({
  country: '',
  region: '',
  city: '',
  lat: 0,
  lon: 0,
  radius_km: 0,
});

/** The place geoip-lite's bundled data gives an already-normalized address (NO_GEO when none). */
export function geoipLite(address: string): Readonly<Geo> {
  const found = address === '' ? null : geoip.lookup(address);
  if (found === null) return NO_GEO;
  return {
    country: found.country ?? '',
    region: found.region ?? '',
    city: found.city ?? '',
    lat: found.ll?.[0] ?? 0,
    lon: found.ll?.[1] ?? 0,
    radius_km: found.area ?? 0,
  };
}
