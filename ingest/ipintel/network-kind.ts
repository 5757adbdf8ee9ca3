/**
 * Network kinds: what kind of network an address belongs to, where the data says it — from a
 * GeoIP2 Anonymous IP record, a GeoIP2 Connection-Type record, or the operator's own list. Pure.
 */

/** `''`: not known (no source says it, or the address is an ordinary line). */
/**
 * `satellite`: a satellite link (in-flight Wi-Fi, maritime, remote sites) — its addresses are placed
 * where the ground station is, not the client, so they say nothing about where the client was.
 */
export const NETWORK_KINDS = ['hosting', 'anonymizer', 'mobile', 'residential', 'satellite'] as const;
export type NetworkKind = (typeof NETWORK_KINDS)[number] | '';

export const isNetworkKind = (v: string): v is (typeof NETWORK_KINDS)[number] =>
  (NETWORK_KINDS as readonly string[]).includes(v);

const flag = (r: Record<string, unknown>, name: string) => r[name] === true;

/**
 * The kind a GeoIP2 Anonymous IP record says: a VPN, public proxy or Tor exit is `anonymizer`; a
 * residential proxy (traffic relayed through someone's home line) is `residential`; a hosting or
 * cloud provider is `hosting`; `is_anonymous` alone is `anonymizer`.
 */
export function kindOfAnonymous(r: Record<string, unknown> | null): NetworkKind {
  if (r === null) return '';
  if (flag(r, 'is_anonymous_vpn') || flag(r, 'is_public_proxy') || flag(r, 'is_tor_exit_node'))
    return 'anonymizer';
  if (flag(r, 'is_residential_proxy')) return 'residential';
  if (flag(r, 'is_hosting_provider')) return 'hosting';
  if (flag(r, 'is_anonymous')) return 'anonymizer';
  return '';
}

/**
 * The kind a GeoIP2 Connection-Type record says: `Cellular` is `mobile`, `Satellite` is `satellite`;
 * other types (Cable/DSL, Corporate, Dialup) are not a kind.
 */
export function kindOfConnectionType(r: Record<string, unknown> | null): NetworkKind {
  if (r === null) return '';
  if (r['connection_type'] === 'Cellular') return 'mobile';
  if (r['connection_type'] === 'Satellite') return 'satellite';
  return '';
}
