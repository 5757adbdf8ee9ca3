/** The IP intelligence settings: the MaxMind-format databases and the network list the operator supplies. */
import { setting } from '../../platform/settings.ts';

const file = (env: string, doc: string) => setting.str(env, '', doc);

export const IP_INTEL_SETTINGS = {
  cityDb: file(
    'TOKENWATCH_GEOIP_CITY_DB',
    'path of a City (or Country) database in MaxMind format — GeoLite2/GeoIP2 City, DB-IP Lite City: places every address with it instead of the bundled geoip-lite data (also IPv6 cities) ([ingest](ingest.md#ip-intelligence))',
  ),
  asnDb: file(
    'TOKENWATCH_GEOIP_ASN_DB',
    'path of an ASN database in MaxMind format — GeoLite2/GeoIP2 ASN, GeoIP2 ISP, DB-IP Lite ASN: gives events `asn` and `as_org`',
  ),
  anonymousDb: file(
    'TOKENWATCH_GEOIP_ANONYMOUS_DB',
    'path of a GeoIP2 Anonymous IP database: network kinds `anonymizer` (VPN, public proxy, Tor exit), `residential` (residential proxy) and `hosting`',
  ),
  connectionTypeDb: file(
    'TOKENWATCH_GEOIP_CONNECTION_TYPE_DB',
    'path of a GeoIP2 Connection-Type database: network kinds `mobile` (`Cellular`) and `satellite` (`Satellite`)',
  ),
  networkKindsFile: file(
    'TOKENWATCH_NETWORK_KINDS_FILE',
    'path of a text file of `CIDR kind` lines (kind: hosting, anonymizer, mobile, residential, satellite): the operator’s own network kinds, ahead of any database',
  ),
  unknownRadiusKm: setting.int(
    'TOKENWATCH_GEOIP_UNKNOWN_RADIUS_KM',
    100,
    0,
    20_000,
    'accuracy radius (km) of a place from a City database that gives none (DB-IP Lite)',
  ),
  pollSeconds: setting.int(
    'TOKENWATCH_GEOIP_POLL_SECONDS',
    60,
    0,
    86_400,
    'how often the files above are checked for a new version besides the change events of their folders (0: change events only)',
  ),
};
