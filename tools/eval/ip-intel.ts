/**
 * The hard eval's IP intelligence (`npm run eval -- --hard`): writes the simulated world's networks
 * (tools/simulator/networks.ts) as a GeoLite2-ASN-format .mmdb and a network-kinds file into a
 * folder, and names them in the variables tokenwatch reads (TOKENWATCH_GEOIP_ASN_DB,
 * TOKENWATCH_NETWORK_KINDS_FILE). Places still come from geoip-lite, as in the default eval.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type MmdbNetwork, writeMmdb } from '../../test/support/mmdb-writer.ts';
import { networkKindsText, simulatedNetworks } from '../simulator/networks.ts';

export interface EvalIpIntel {
  /** the tokenwatch variables naming the files */
  env: { TOKENWATCH_GEOIP_ASN_DB: string; TOKENWATCH_NETWORK_KINDS_FILE: string };
  networks: number;
  kinds: number;
}

/** Writes `simulated-asn.mmdb` and `simulated-network-kinds.txt` into `dir` (which must exist). */
export function writeEvalIpIntel(dir: string): EvalIpIntel {
  const networks = simulatedNetworks();
  const records = networks.map(
    (n): MmdbNetwork => ({
      cidr: n.cidr,
      record: { autonomous_system_number: n.asn, autonomous_system_organization: n.org },
    }),
  );
  const asnDb = join(dir, 'simulated-asn.mmdb');
  const kindsFile = join(dir, 'simulated-network-kinds.txt');
  writeFileSync(
    asnDb,
    writeMmdb(records, {
      databaseType: 'GeoLite2-ASN',
      description: 'the networks of the tokenwatch simulator (tools/simulator/networks.ts)',
    }),
  );
  writeFileSync(kindsFile, networkKindsText(networks));
  return {
    env: { TOKENWATCH_GEOIP_ASN_DB: asnDb, TOKENWATCH_NETWORK_KINDS_FILE: kindsFile },
    networks: networks.length,
    kinds: networks.filter((n) => n.kind !== '').length,
  };
}
