/** Geo enrichment from geoip-lite's bundled GeoLite data, with a small cache for hot addresses. */
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

export class GeoLookup {
  readonly #cache = new Map<string, Geo>();
  readonly #cacheSize: number;

  constructor(cacheSize = 50_000) {
    this.#cacheSize = cacheSize;
  }

  /** Location of an already-normalized address; NO_GEO for private/reserved/unknown addresses. */
  lookup(address: string): Readonly<Geo> {
    const hit = this.#cache.get(address);
    if (hit !== undefined) return hit;
    const found = geoip.lookup(address);
    const geo: Geo =
      found === null
        ? NO_GEO
        : {
            country: found.country ?? '',
            region: found.region ?? '',
            city: found.city ?? '',
            lat: found.ll?.[0] ?? 0,
            lon: found.ll?.[1] ?? 0,
            radius_km: found.area ?? 0,
          };
    if (this.#cache.size >= this.#cacheSize) this.#cache.clear();
    this.#cache.set(address, geo);
    return geo;
  }
}
