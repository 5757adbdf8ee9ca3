/** IP address parsing and normalization (pure). */
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

export interface ParsedIp {
  /** canonical text: dotted quad for IPv4 (also for IPv4-mapped IPv6), RFC 5952 form for IPv6 */
  address: string;
  family: IpFamily;
}

/** Parses an IPv4/IPv6 address (zone ids stripped, IPv4-mapped IPv6 unwrapped); undefined when invalid. */
export function parseIp(input: string): ParsedIp | undefined {
  let text = input.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  if (isIPv4(text)) return { address: text, family: 4 };
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  if (!isIPv6(text)) return undefined;
  // The WHATWG URL parser serializes IPv6 in the RFC 5952 canonical (compressed, lower-case) form.
  const canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped) {
    const hi = Number.parseInt(mapped[1]!, 16);
    const lo = Number.parseInt(mapped[2]!, 16);
    return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: 4 };
  }
  return { address: canonical, family: 6 };
}
