/**
 * Addresses of the hard benign cases (`npm run eval -- --hard`), each where geoip-lite really places
 * it (found the way tools/simulator/places.ts explains: scanning with geoip-lite's own lookup;
 * test/unit/tools/simulator/hard-places.test.ts checks they still land there): consumer-VPN exits
 * on hosting networks (Vultr 45.32/45.76), a cloud proxy's egress (Zscaler 165.225), an in-flight
 * Wi-Fi provider's satellite ground stations (196.18), and ranges registered in Europe that
 * geoip-lite places on other continents.
 */

/** An egress address and the place geoip-lite puts it. */
export interface Exit {
  ip: string;
  city: string;
  /** ISO 3166 country code */
  country: string;
  lat: number;
  lon: number;
}

const exit = (ip: string, city: string, country: string, lat: number, lon: number): Exit => ({
  ip,
  city,
  country,
  lat,
  lon,
});

/** Hosting networks a consumer VPN (or Private Relay) egresses from; none allowlisted. */
export const HOSTING_EXITS: readonly Exit[] = [
  exit('45.32.0.1', 'Amsterdam', 'NL', 52.35, 4.9167),
  exit('45.76.84.1', 'Frankfurt am Main', 'DE', 50.1103, 8.7147),
  exit('45.76.133.1', 'London', 'GB', 51.5128, -0.0638),
  exit('45.32.147.1', 'Aubervilliers', 'FR', 48.9163, 2.3869),
  exit('45.76.0.1', 'Piscataway', 'US', 40.5511, -74.4606),
  exit('45.32.161.1', 'Miami', 'US', 25.8119, -80.2318),
  exit('45.76.56.1', 'Dallas', 'US', 32.7889, -96.8021),
  exit('45.32.133.1', 'San Jose', 'US', 37.3387, -121.8914),
  exit('45.76.245.1', 'Seattle', 'US', 47.6144, -122.3447),
  exit('45.32.14.1', 'Heiwajima', 'JP', 35.5826, 139.7459),
  exit('45.32.98.1', 'Singapore', 'SG', 1.3012, 103.7863),
  exit('45.76.112.1', 'Alexandria', 'AU', -33.9256, 151.1906),
];

/** A cloud security proxy's egress points (Zscaler-like): the company's traffic leaves through one. */
export const CLOUD_PROXY_EXITS: readonly Exit[] = [
  exit('165.225.28.1', 'Amsterdam', 'NL', 52.35, 4.9167),
  exit('165.225.70.1', 'Zurich', 'CH', 47.3664, 8.5546),
  exit('165.225.77.1', 'Paris', 'FR', 48.8543, 2.3527),
  exit('165.225.133.1', 'Ashburn', 'US', 39.0481, -77.4728),
  exit('165.225.147.1', 'San Francisco', 'US', 37.7976, -122.3994),
  exit('165.225.112.1', 'Singapore', 'SG', 1.2996, 103.8549),
  exit('165.225.105.1', 'Bengaluru', 'IN', 12.9719, 77.5937),
  exit('165.225.98.1', 'Dandenong', 'AU', -37.9852, 145.2112),
];

/** The in-flight Wi-Fi provider's network (tools/simulator/networks.ts gives it its AS and kind `satellite`). */
export const INFLIGHT_CIDR = '196.18.0.0/16';

/**
 * In-flight Wi-Fi egress: real in-flight Wi-Fi leaves through the provider's own satellite network,
 * whose addresses geo databases place at its ground stations — on every continent the airline flies
 * over, not where the plane is. Addresses of one /16 (INFLIGHT_CIDR) that geoip-lite places on five
 * continents (found by scanning each /16 for /24s placed in the Americas, Europe/Africa and Asia).
 */
export const INFLIGHT_EXITS: readonly Exit[] = [
  exit('196.18.0.1', 'Frankfurt am Main', 'DE', 50.1188, 8.6843),
  exit('196.18.112.1', 'London', 'GB', 51.5164, -0.093),
  exit('196.18.104.1', 'Madrid', 'ES', 40.4171, -3.6839),
  exit('196.18.4.1', 'Los Angeles', 'US', 34.0544, -118.244),
  exit('196.18.16.1', 'Miami', 'US', 25.7741, -80.1817),
  exit('196.18.198.1', 'São Paulo', 'BR', -23.5747, -46.6409),
  exit('196.18.8.1', 'Tokyo', 'JP', 35.6882, 139.7532),
  exit('196.18.206.1', 'Kuala Lumpur', 'MY', 3.1667, 101.7),
  exit('196.18.106.1', 'Sydney', 'AU', -33.8591, 151.2002),
];

/**
 * Ranges registered in Europe that geoip-lite places far away (the database is wrong about them):
 * a home line on one of them looks like the other side of the world.
 */
export const MISPLACED_LINES: readonly Exit[] = [
  exit('185.153.182.1', 'Los Angeles', 'US', 34.0584, -118.278),
  exit('37.120.154.1', 'Tokyo', 'JP', 35.6212, 139.747),
  exit('37.120.147.1', 'Las Vegas', 'US', 36.1685, -115.1164),
  exit('185.153.84.1', 'Beirut', 'LB', 33.874, 35.5089),
];
