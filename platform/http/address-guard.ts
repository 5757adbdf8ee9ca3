/**
 * Which addresses tokenwatch may send HTTP requests to. Alert webhook URLs come from configuration
 * that many people edit; a URL pointing at a cloud metadata service or a link-local address would
 * turn a webhook into a way to read credentials (SSRF). Those are refused unless an operator lists
 * them explicitly. The check runs on every resolved address at connect time, so a hostname that
 * resolves somewhere else later (DNS rebinding) is caught too.
 */
import type { BlockList } from 'node:net';
import { parseIp } from '../net/ip.ts';
import { cidrList, inList } from '../net/network.ts';

/** Link-local ranges (where cloud metadata services live) and known metadata addresses. */
const REFUSED = cidrList([
  '169.254.0.0/16', // IPv4 link-local, incl. 169.254.169.254 (AWS, GCP, Azure, OpenStack metadata)
  'fe80::/10', // IPv6 link-local
  'fd00:ec2::254', // AWS metadata over IPv6
  '100.100.100.200', // Alibaba Cloud metadata
  '0.0.0.0/8', // "this network": reaches the local host on many systems
  '::', // unspecified
]);

export class AddressGuard {
  private readonly allowed: BlockList;

  /** `allowedCidrs`: refused ranges the operator allows anyway (e.g. a relay on a link-local address). */
  constructor(allowedCidrs: readonly string[] = []) {
    this.allowed = cidrList(allowedCidrs);
  }

  /** Why `address` (an IP literal) is refused, or undefined when it may be used. */
  refusal(address: string): string | undefined {
    const ip = parseIp(address);
    if (ip === undefined) return `${JSON.stringify(address)} is not an IP address`;
    if (!inList(REFUSED, ip.address) || inList(this.allowed, ip.address)) return undefined;
    return (
      `address ${ip.address} is link-local or a cloud metadata address; ` +
      'list it in TOKENWATCH_WEBHOOK_ALLOWED_CIDRS to allow it'
    );
  }
}
