import { describe, expect, it } from 'vitest';
import type { EventRow } from '../../../../ingest/pipeline/rows.ts';
import { EVENT_COLUMNS, encodeEventRowsTsv, tsvString, tsvStringArray } from '../../../../ingest/sink/tsv.ts';
import { featuresOf } from '../../../../platform/clickhouse/client.ts';
import { MIGRATIONS } from '../../../../platform/clickhouse/schema.ts';

const row: EventRow = {
  event_id: 'e\t1',
  type: 'verification',
  time: 1795368720,
  time_ms: 1795368720123,
  received_at: 1795368721,
  received_ms: 1795368721000,
  tenant: 'acme',
  source: 'gw',
  subject: 'a\\b',
  client_id: '',
  session_id: 's',
  ip: '85.214.132.117',
  user_agent: 'x\ny\r',
  device_id: 'd',
  outcome: 'accepted',
  reason: 'ok',
  jti: 'j',
  iss: 'i',
  aud: ["it's", 'a\\b'],
  kid: 'k',
  alg: 'EdDSA',
  iat: 1,
  exp: 2,
  family_id: '',
  token_id: '',
  new_token_id: '',
  access_jti: '',
  country: 'DE',
  region: 'BE',
  city: 'Berlin',
  lat: 52.5174,
  lon: 13.3985,
  geo_radius_km: 200,
  asn: 3320,
  as_org: 'Deutsche\tTelekom',
  network_kind: 'mobile',
  extra: '{"a":"\\t"}',
  kafka_partition: 3,
  kafka_partitions: 6,
  reporter_id: 'acme:abc',
  reporter_role: 'verifier',
  reporter_door: 'http',
  bound_key_kind: '',
  bound_key_thumbprint: '',
  proof_key_thumbprint: '',
  device_id_source: '',
};

describe('TabSeparated encoding', () => {
  it('escapes tab, newline, carriage return, NUL and backslash in strings', () => {
    expect(tsvString('plain')).toBe('plain');
    expect(tsvString('a\tb\nc\rd\\e\0f')).toBe('a\\tb\\nc\\rd\\\\e\\0f');
  });

  it('writes arrays as quoted literals', () => {
    expect(tsvStringArray([])).toBe('[]');
    expect(tsvStringArray(["it's", 'a\\b', 't\tn\n'])).toBe("['it\\'s','a\\\\b','t\\tn\\n']");
  });

  it('writes one line per row with every column, in EVENT_COLUMNS order', () => {
    const text = encodeEventRowsTsv([row, row]);
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    const fields = lines[0]!.split('\t');
    expect(fields).toHaveLength(EVENT_COLUMNS.length);
    expect(fields[EVENT_COLUMNS.indexOf('event_id')]).toBe('e\\t1');
    expect(fields[EVENT_COLUMNS.indexOf('user_agent')]).toBe('x\\ny\\r');
    expect(fields[EVENT_COLUMNS.indexOf('aud')]).toBe("['it\\'s','a\\\\b']");
    expect(fields[EVENT_COLUMNS.indexOf('time_ms')]).toBe('1795368720123');
    expect(fields[EVENT_COLUMNS.indexOf('lat')]).toBe('52.5174');
    expect(fields[EVENT_COLUMNS.indexOf('extra')]).toBe('{"a":"\\\\t"}');
    expect(fields[EVENT_COLUMNS.indexOf('reporter_role')]).toBe('verifier');
    expect(fields[EVENT_COLUMNS.indexOf('asn')]).toBe('3320');
    expect(fields[EVENT_COLUMNS.indexOf('as_org')]).toBe('Deutsche\\tTelekom');
    expect(fields[EVENT_COLUMNS.indexOf('network_kind')]).toBe('mobile');
  });

  it('names exactly the columns of the events table (created, then added)', () => {
    const o = { database: 'tw', cluster: '', retentionDays: 1 };
    const [ddl = '', ...later] = MIGRATIONS.flatMap((m) => m.statements(o, featuresOf('18.16.1')));
    const columns = [...ddl.matchAll(/^ {2}([a-z_]+) [A-Z]/gm)].map((m) => m[1]);
    // an ALTER of the events table may add several columns: `ADD COLUMN a …, ADD COLUMN b …`
    for (const s of later.filter((x) => x.startsWith('ALTER TABLE tw.events ')))
      for (const m of s.matchAll(/\bADD COLUMN ([a-z_]+) /g)) columns.push(m[1]);
    expect(columns).toEqual([...EVENT_COLUMNS]);
    const fields = encodeEventRowsTsv([row]).split('\t');
    expect(fields[EVENT_COLUMNS.indexOf('kafka_partition')]).toBe('3');
    expect(fields[EVENT_COLUMNS.indexOf('kafka_partitions')]).toBe('6');
  });
});
