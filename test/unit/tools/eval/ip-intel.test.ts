/**
 * The hard eval's IP intelligence (tools/eval/ip-intel.ts over tools/simulator/networks.ts), read
 * back through tokenwatch's own provider: every address the simulator uses has one AS; the VPN and
 * Private Relay exits are Vultr and the cloud proxy Zscaler, both `hosting`; the in-flight exits
 * are one satellite provider's; home lines and carriers have no kind. And the learning history's
 * rows (tools/eval/history-writer.ts), made by ingest's own code, carry what those files say.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openIpIntel } from '../../../../ingest/ipintel/provider.ts';
import { IP_INTEL_SETTINGS } from '../../../../ingest/ipintel/settings.ts';
import { readTable } from '../../../../platform/settings.ts';
import { HISTORY_EVENT_PREFIX, historyRows } from '../../../../tools/eval/history-writer.ts';
import { writeEvalIpIntel } from '../../../../tools/eval/ip-intel.ts';
import {
  CLOUD_PROXY_EXITS,
  HOSTING_EXITS,
  INFLIGHT_EXITS,
  MISPLACED_LINES,
} from '../../../../tools/simulator/hard-places.ts';
import type { Sighting } from '../../../../tools/simulator/history.ts';
import { simulatedNetworks } from '../../../../tools/simulator/networks.ts';
import { ATTACKER_CITIES, CITIES, VPN_EGRESS_IPS } from '../../../../tools/simulator/places.ts';

const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-eval-ip-intel-'));
const written = writeEvalIpIntel(dir);
const intel = openIpIntel(readTable(IP_INTEL_SETTINGS, written.env, []), pino({ level: 'silent' }));
afterAll(() => {
  intel.close();
  rmSync(dir, { recursive: true, force: true });
});

const lines = [...CITIES, ...ATTACKER_CITIES].flatMap((c) => [...c.fixed, ...c.mobile]);

describe('the eval’s IP intelligence', () => {
  it('gives every address of the simulated world an AS', () => {
    const all = [
      ...lines,
      ...VPN_EGRESS_IPS,
      ...[...HOSTING_EXITS, ...CLOUD_PROXY_EXITS, ...INFLIGHT_EXITS, ...MISPLACED_LINES].map((e) => e.ip),
    ];
    const unknown = all.filter((ip) => intel.lookup(ip).asn === 0 || intel.lookup(ip).as_org === '');
    expect(unknown).toStrictEqual([]);
    expect(intel.lookup('8.8.8.8').asn).toBe(0);
  });

  it('says hosting for the VPN, Relay and proxy exits, satellite for in-flight Wi-Fi, nothing for lines', () => {
    const facts = (ips: readonly { ip: string }[]) =>
      new Set(ips.map((e) => `${intel.lookup(e.ip).asn} ${intel.lookup(e.ip).network_kind}`));
    expect(facts(HOSTING_EXITS)).toStrictEqual(new Set(['20473 hosting']));
    expect(facts(CLOUD_PROXY_EXITS)).toStrictEqual(new Set(['53813 hosting']));
    expect(facts(INFLIGHT_EXITS)).toStrictEqual(new Set(['64600 satellite']));
    expect(lines.filter((ip) => intel.lookup(ip).network_kind !== '')).toStrictEqual([]);
    expect(intel.lookup(CITIES[0]!.fixed[0]!)).toMatchObject({ asn: 3320, as_org: 'Deutsche Telekom AG' });
  });

  it('holds each network once', () => {
    const cidrs = simulatedNetworks().map((n) => n.cidr);
    expect(new Set(cidrs).size).toBe(cidrs.length);
    expect(written.networks).toBe(cidrs.length);
    expect(written.kinds).toBe(4);
  });

  it('the history’s rows, made by ingest, carry the AS and kind of their address', () => {
    const at = Date.now() - 13 * 86_400_000; // older than the door would take
    const sightings: Sighting[] = [HOSTING_EXITS[0]!.ip, INFLIGHT_EXITS[0]!.ip, CITIES[0]!.fixed[0]!].map(
      (ip, i) => ({
        timeMs: at + i,
        tenant: 'acme',
        subject: 'user-00001',
        source: 'api-gateway',
        deviceId: 'user-00001-laptop',
        userAgent: 'Mozilla/5.0',
        ip,
      }),
    );
    const rows = historyRows(sightings, intel);
    expect(
      rows.map((r) => [r.type, r.outcome, r.reason, r.subject, r.ip, r.asn, r.network_kind, r.time_ms]),
    ).toStrictEqual([
      ['verification', 'accepted', 'ok', 'user-00001', HOSTING_EXITS[0]!.ip, 20473, 'hosting', at],
      ['verification', 'accepted', 'ok', 'user-00001', INFLIGHT_EXITS[0]!.ip, 64600, 'satellite', at + 1],
      ['verification', 'accepted', 'ok', 'user-00001', CITIES[0]!.fixed[0]!, 3320, '', at + 2],
    ]);
    expect(
      rows.every((r) => r.event_id.startsWith(HISTORY_EVENT_PREFIX) && r.device_id_source === 'header'),
    ).toBe(true);
    expect(rows[0]!.city).toBe(HOSTING_EXITS[0]!.city);
    expect(() => historyRows([{ ...sightings[0]!, ip: 'not an address' }], intel)).toThrow(
      /not a valid event/,
    );
  });
});
