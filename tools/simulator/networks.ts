/**
 * The autonomous systems of the simulated world (pure): every address the simulator uses, in a
 * network with the AS a GeoLite2-ASN database would give it, and the network kind an operator's
 * list would say — hosting for the consumer-VPN and Private Relay exits (Vultr) and the cloud proxy
 * (Zscaler), satellite for the in-flight Wi-Fi provider. The home ISPs and carriers are the real
 * incumbents of each country (one fixed-line and one mobile AS per country), given to the /24 of
 * each listed address; what a real database says of those exact addresses may differ: the point is
 * that each network has one plausible AS, as real traffic does. `npm run eval -- --hard` writes them
 * as an .mmdb and a network-kinds file for tokenwatch (tools/eval/ip-intel.ts).
 */
import { INFLIGHT_CIDR, MISPLACED_LINES } from './hard-places.ts';
import { ATTACKER_CITIES, CITIES, VPN_EGRESS_CIDR } from './places.ts';

export interface SimulatedNetwork {
  cidr: string;
  asn: number;
  org: string;
  /** what the operator's network-kinds file says of it ('' nothing) */
  kind: '' | 'hosting' | 'satellite';
}

type As = readonly [asn: number, org: string];

/** Each country's incumbent fixed-line ISP and a mobile carrier. */
const COUNTRY_AS: Record<string, { fixed: As; mobile: As }> = {
  DE: { fixed: [3320, 'Deutsche Telekom AG'], mobile: [3209, 'Vodafone GmbH'] },
  GB: { fixed: [2856, 'British Telecommunications PLC'], mobile: [25135, 'Vodafone Limited'] },
  FR: { fixed: [3215, 'Orange S.A.'], mobile: [51207, 'Free Mobile SAS'] },
  ES: { fixed: [3352, 'Telefonica de Espana S.A.U.'], mobile: [12430, 'Vodafone Espana S.A.U.'] },
  NL: { fixed: [1136, 'KPN B.V.'], mobile: [33915, 'Vodafone Libertel B.V.'] },
  SE: { fixed: [3301, 'Telia Company AB'], mobile: [1257, 'Tele2 Sverige AB'] },
  PL: { fixed: [5617, 'Orange Polska Spolka Akcyjna'], mobile: [12912, 'T-Mobile Polska S.A.'] },
  IT: { fixed: [3269, 'Telecom Italia S.p.A.'], mobile: [30722, 'Vodafone Italia S.p.A.'] },
  US: { fixed: [7922, 'Comcast Cable Communications, LLC'], mobile: [21928, 'T-Mobile USA, Inc.'] },
  CA: { fixed: [577, 'Bell Canada'], mobile: [812, 'Rogers Communications Canada Inc.'] },
  MX: { fixed: [8151, 'UNINET'], mobile: [28403, 'Radiomovil Dipsa, S.A. de C.V.'] },
  BR: { fixed: [28573, 'Claro NXT Telecomunicacoes Ltda'], mobile: [26599, 'TELEFONICA BRASIL S.A'] },
  JP: { fixed: [4713, 'NTT Communications Corporation'], mobile: [2516, 'KDDI Corporation'] },
  KR: { fixed: [4766, 'Korea Telecom'], mobile: [9644, 'SK Telecom'] },
  SG: { fixed: [9506, 'Singtel Fibre Broadband'], mobile: [4773, 'MobileOne Ltd.'] },
  IN: { fixed: [24560, 'Bharti Airtel Ltd.'], mobile: [55836, 'Reliance Jio Infocomm Limited'] },
  AU: { fixed: [1221, 'Telstra Corporation Ltd'], mobile: [4804, 'Microplex PTY LTD'] },
  ZA: { fixed: [5713, 'Telkom SA Ltd.'], mobile: [29975, 'Vodacom'] },
  NG: { fixed: [37282, 'MAINONE'], mobile: [29465, 'MTN NIGERIA Communication limited'] },
  RU: { fixed: [12389, 'Rostelecom'], mobile: [8359, 'MTS PJSC'] },
  CN: { fixed: [4808, 'China Unicom Beijing Province Network'], mobile: [9808, 'China Mobile'] },
  VN: { fixed: [7552, 'Viettel Group'], mobile: [45899, 'VNPT Corp'] },
  RO: { fixed: [8708, 'RCS & RDS SA'], mobile: [12302, 'Vodafone Romania S.A.'] },
  UA: { fixed: [6849, 'JSC Ukrtelecom'], mobile: [15895, 'Kyivstar PJSC'] },
};

export const VULTR: As = [20473, 'The Constant Company, LLC'];
export const ZSCALER: As = [53813, 'ZSCALER, INC.'];
/** Made up (a private-use AS number): the in-flight Wi-Fi provider of INFLIGHT_EXITS. */
export const INFLIGHT_PROVIDER: As = [64600, 'AeroLink Inflight Connectivity (simulated)'];
/** Made up (a private-use AS number): the company whose corporate VPN egress is allowlisted. */
const CORPORATE: As = [64700, 'Example Corp (simulated corporate network)'];
/** The real holder of the ranges geoip-lite misplaces (registered in Europe). */
const MISPLACED_HOLDER: As = [9009, 'M247 Europe SRL'];

const net = (cidr: string, [asn, org]: As, kind: SimulatedNetwork['kind'] = ''): SimulatedNetwork => ({
  cidr,
  asn,
  org,
  kind,
});
const slash24 = (ip: string) => `${ip.slice(0, ip.lastIndexOf('.'))}.0/24`;

/** Every network of the simulated world, each /24 once (the first address listed decides its AS). */
export function simulatedNetworks(): SimulatedNetwork[] {
  const wide = [
    net('45.32.0.0/16', VULTR, 'hosting'),
    net('45.76.0.0/16', VULTR, 'hosting'),
    net('165.225.0.0/16', ZSCALER, 'hosting'),
    net(INFLIGHT_CIDR, INFLIGHT_PROVIDER, 'satellite'),
    net(VPN_EGRESS_CIDR, CORPORATE),
  ];
  const byBlock = new Map<string, SimulatedNetwork>();
  const add = (ip: string, as: As) => {
    const block = slash24(ip);
    if (!byBlock.has(block)) byBlock.set(block, net(block, as));
  };
  for (const city of [...CITIES, ...ATTACKER_CITIES]) {
    const as = COUNTRY_AS[city.country];
    if (as === undefined)
      throw new Error(`no AS for ${city.country} (${city.name}): add one to tools/simulator/networks.ts`);
    for (const ip of city.fixed) add(ip, as.fixed);
    for (const ip of city.mobile) add(ip, as.mobile);
  }
  for (const line of MISPLACED_LINES) add(line.ip, MISPLACED_HOLDER);
  return [...wide, ...byBlock.values()];
}

/** The network-kinds file (`CIDR kind` lines) of the networks that have a kind. */
export function networkKindsText(networks: readonly SimulatedNetwork[]): string {
  const lines = networks.filter((n) => n.kind !== '').map((n) => `${n.cidr} ${n.kind}`);
  return `# the simulated world's network kinds (tools/simulator/networks.ts)\n${lines.join('\n')}\n`;
}
