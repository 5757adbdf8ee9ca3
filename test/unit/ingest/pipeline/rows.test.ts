import { describe, expect, it } from 'vitest';
import { IpIntel } from '../../../../ingest/ipintel/provider.ts';
import { REDACTED } from '../../../../ingest/pipeline/raw-token.ts';
import {
  type DeadLetterInput,
  refusedRowLetter,
  toDeadLetterRow,
  toEventRow,
} from '../../../../ingest/pipeline/rows.ts';
import type { NormalizedEvent } from '../../../../ingest/pipeline/validate.ts';
import { JWT } from '../../helpers.ts';

const geo = new IpIntel();
const RECEIVED = 1_772_366_400_987;

const minimal: NormalizedEvent = {
  event_id: 'e-1',
  type: 'revocation',
  time: 1_772_366_399_123,
  tenant: 'default',
  source: '',
  subject: '',
  ip: '',
  fields: {},
  extra: {},
};

describe('toEventRow', () => {
  it('maps every field of a full event, with geo for a public IP', () => {
    const row = toEventRow(
      {
        event_id: 'e-2',
        type: 'verification',
        time: 1_772_366_399_123,
        tenant: 'acme',
        source: 'gw',
        subject: 'user-1',
        ip: '85.214.132.117',
        fields: {
          client_id: 'web',
          session_id: 'sid',
          user_agent: 'curl/8',
          device_id: 'dev',
          outcome: 'accepted',
          reason: 'ok',
          jti: 'j',
          iss: 'https://issuer',
          aud: 'api',
          kid: 'k',
          alg: 'RS256',
          iat: 1_772_362_800,
          exp: 1_772_366_400,
          family_id: 'f',
          token_id: 't',
          new_token_id: 'n',
          access_jti: 'a',
          bound_key_kind: 'dpop',
          bound_key_thumbprint: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I',
          proof_key_thumbprint: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
          device_id_source: 'claim',
        },
        extra: { trace: { id: 'x' }, n: 1 },
      },
      geo,
      RECEIVED,
    );
    expect(row).toStrictEqual({
      event_id: 'e-2',
      type: 'verification',
      time: 1_772_366_399,
      time_ms: 1_772_366_399_123,
      received_at: 1_772_366_400,
      received_ms: RECEIVED,
      tenant: 'acme',
      source: 'gw',
      subject: 'user-1',
      client_id: 'web',
      session_id: 'sid',
      ip: '85.214.132.117',
      user_agent: 'curl/8',
      device_id: 'dev',
      outcome: 'accepted',
      reason: 'ok',
      jti: 'j',
      iss: 'https://issuer',
      aud: ['api'],
      kid: 'k',
      alg: 'RS256',
      iat: 1_772_362_800,
      exp: 1_772_366_400,
      family_id: 'f',
      token_id: 't',
      new_token_id: 'n',
      access_jti: 'a',
      country: 'DE',
      region: 'BE',
      city: 'Berlin',
      lat: expect.closeTo(52.52, 1),
      lon: expect.closeTo(13.4, 1),
      geo_radius_km: expect.any(Number),
      asn: 0,
      as_org: '',
      network_kind: '',
      extra: '{"trace":{"id":"x"},"n":1}',
      kafka_partition: 0,
      kafka_partitions: 0,
      reporter_id: '',
      reporter_role: '',
      reporter_door: '',
      bound_key_kind: 'dpop',
      bound_key_thumbprint: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I',
      proof_key_thumbprint: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
      device_id_source: 'claim',
    });
    expect(row.geo_radius_km).toBeGreaterThan(0);
  });

  it('fills absent fields with empty strings, zeros and an empty aud; no geo for a private IP', () => {
    const row = toEventRow({ ...minimal, ip: '10.0.0.1' }, geo, RECEIVED);
    expect(row).toStrictEqual({
      event_id: 'e-1',
      type: 'revocation',
      time: 1_772_366_399,
      time_ms: 1_772_366_399_123,
      received_at: 1_772_366_400,
      received_ms: RECEIVED,
      tenant: 'default',
      source: '',
      subject: '',
      client_id: '',
      session_id: '',
      ip: '10.0.0.1',
      user_agent: '',
      device_id: '',
      outcome: '',
      reason: '',
      jti: '',
      iss: '',
      aud: [],
      kid: '',
      alg: '',
      iat: 0,
      exp: 0,
      family_id: '',
      token_id: '',
      new_token_id: '',
      access_jti: '',
      country: '',
      region: '',
      city: '',
      lat: 0,
      lon: 0,
      geo_radius_km: 0,
      asn: 0,
      as_org: '',
      network_kind: '',
      extra: '',
      kafka_partition: 0,
      kafka_partitions: 0,
      reporter_id: '',
      reporter_role: '',
      reporter_door: '',
      bound_key_kind: '',
      bound_key_thumbprint: '',
      proof_key_thumbprint: '',
      device_id_source: '',
    });
  });

  it('keeps an aud array as is', () => {
    expect(toEventRow({ ...minimal, fields: { aud: ['a', 'b'] } }, geo, RECEIVED).aud).toStrictEqual([
      'a',
      'b',
    ]);
    expect(toEventRow({ ...minimal, fields: { aud: [] } }, geo, RECEIVED).aud).toStrictEqual([]);
  });

  it('has no geo without an IP', () => {
    const row = toEventRow(minimal, geo, RECEIVED);
    expect([row.country, row.city, row.lat, row.lon, row.geo_radius_km]).toStrictEqual(['', '', 0, 0, 0]);
  });

  it('answers the same location from its cache', () => {
    const lookup = new IpIntel({}, 1);
    const first = lookup.lookup('85.214.132.117');
    expect(lookup.lookup('85.214.132.117')).toBe(first);
    expect(lookup.lookup('10.0.0.1')).toStrictEqual({
      country: '',
      region: '',
      city: '',
      lat: 0,
      lon: 0,
      radius_km: 0,
      asn: 0,
      as_org: '',
      network_kind: '',
    });
    expect(lookup.lookup('85.214.132.117')).toStrictEqual(first);
  });
});

describe('toDeadLetterRow', () => {
  const input: DeadLetterInput = {
    door: 'kafka',
    tenant: 'acme',
    origin: 'tokenwatch.events/2/41',
    letterId: 'kafka:tokenwatch.events/2/41',
    eventIndex: -1,
    error: { code: 'invalid_field', message: '/iat: Expected integer; got 1.5', field: '/iat' },
    payload: '{"event_id":"e-9","type":"verification","iat":1.5}',
    receivedMs: RECEIVED,
  };

  it('maps a dead letter, keeping the stable letter id and extracting event_id', () => {
    expect(toDeadLetterRow(input, 4096)).toStrictEqual({
      letter_id: 'kafka:tokenwatch.events/2/41',
      received_at: 1_772_366_400,
      received_ms: RECEIVED,
      door: 'kafka',
      tenant: 'acme',
      origin: 'tokenwatch.events/2/41',
      event_index: -1,
      event_id: 'e-9',
      code: 'invalid_field',
      message: '/iat: Expected integer; got 1.5',
      field: '/iat',
      payload: '{"event_id":"e-9","type":"verification","iat":1.5}',
      payload_bytes: 50,
      truncated: 0,
    });
  });

  it('makes a random letter id when none is given, and an empty field when the error has none', () => {
    const { letterId: _, ...rest } = input;
    const a = toDeadLetterRow({ ...rest, error: { code: 'malformed_json', message: 'x' } }, 4096);
    const b = toDeadLetterRow({ ...rest, error: { code: 'malformed_json', message: 'x' } }, 4096);
    expect(a.letter_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b.letter_id).not.toBe(a.letter_id);
    expect(a.field).toBe('');
  });

  it('leaves event_id empty when the payload has none (or it is not a plain string)', () => {
    expect(toDeadLetterRow({ ...input, payload: 'not json' }, 4096).event_id).toBe('');
    expect(toDeadLetterRow({ ...input, payload: '{"event_id":5}' }, 4096).event_id).toBe('');
    expect(toDeadLetterRow({ ...input, payload: '{"event_id" : "x-1"}' }, 4096).event_id).toBe('x-1');
  });

  it('truncates the payload to the byte limit and flags it', () => {
    const payload = `{"event_id":"e-1","pad":"${'x'.repeat(200)}"}`;
    const row = toDeadLetterRow({ ...input, payload }, 64);
    expect(row.payload).toBe(payload.slice(0, 64));
    expect(row.payload_bytes).toBe(Buffer.byteLength(payload));
    expect(row.truncated).toBe(1);
    expect(row.event_id).toBe('e-1');
  });

  it('does not flag a payload exactly at the limit', () => {
    const payload = 'y'.repeat(64);
    expect(toDeadLetterRow({ ...input, payload }, 64)).toMatchObject({
      payload,
      truncated: 0,
      payload_bytes: 64,
    });
  });

  // Regression (fixed): the payload is cut at a byte offset that can split a multi-byte UTF-8 character; decoding
  // then appends U+FFFD (3 bytes), so the stored payload exceeds maxPayloadBytes and ends in garbage,
  // although the comment says "Truncate on a character boundary".
  it('truncates on a UTF-8 character boundary, within the byte limit', () => {
    const row = toDeadLetterRow({ ...input, payload: `abcd${'é'.repeat(10)}` }, 5);
    expect(row.payload).toBe('abcd');
    expect(Buffer.byteLength(row.payload)).toBeLessThanOrEqual(5);
    expect(row.truncated).toBe(1);
  });

  it('redacts raw tokens in payload, message and event_id', () => {
    const short = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.'; // alg none: fits the 128-char event_id
    const payload = `{"event_id":"${short}","note":"Bearer ${JWT}"}`;
    const row = toDeadLetterRow(
      {
        ...input,
        payload,
        error: { code: 'raw_token', message: `found ${JWT} here`, field: '/note' },
      },
      4096,
    );
    expect(row.payload).toBe(`{"event_id":"${REDACTED}","note":"Bearer ${REDACTED}"}`);
    expect(row.message).toBe(`found ${REDACTED} here`);
    expect(row.event_id).toBe(REDACTED);
    expect(row.payload_bytes).toBe(Buffer.byteLength(payload));
    expect(row.truncated).toBe(0);
  });

  it('judges truncation on the redacted size', () => {
    const payload = `{"t":"${JWT}"}`;
    expect(Buffer.byteLength(payload)).toBeGreaterThan(64);
    const row = toDeadLetterRow({ ...input, payload }, 64);
    expect(row).toMatchObject({
      payload: `{"t":"${REDACTED}"}`,
      truncated: 0,
      payload_bytes: Buffer.byteLength(payload),
    });
  });

  it('never leaks a token cut by truncation', () => {
    const payload = `${'a'.repeat(50)}${JWT}`;
    const row = toDeadLetterRow({ ...input, payload }, 60);
    expect(row.payload).toBe(`${'a'.repeat(50)}${REDACTED.slice(0, 10)}`);
    expect(row.payload).not.toContain('eyJ');
    expect(row.truncated).toBe(1);
  });
});

describe('hostile dead letters', () => {
  const base: DeadLetterInput = {
    door: 'http',
    tenant: 'acme',
    origin: '127.0.0.1',
    eventIndex: 0,
    error: { code: 'oversized', message: 'too big' },
    payload: '',
    receivedMs: RECEIVED,
  };

  it('cuts a 200 KB payload before redacting it, and keeps every field well-formed', () => {
    const payload = `"${'ey'.repeat(100_000)}\ud83d`;
    const row = toDeadLetterRow(
      { ...base, payload, tenant: `t\ud800`, error: { code: 'x' as never, message: `m\udc00` } },
      1024,
    );
    expect(Buffer.byteLength(row.payload)).toBeLessThanOrEqual(1024);
    expect(row.truncated).toBe(1);
    expect(row.payload_bytes).toBe(Buffer.byteLength(payload));
    for (const v of Object.values(row)) if (typeof v === 'string') expect(v.isWellFormed()).toBe(true);
  });
});

describe('refusedRowLetter', () => {
  it('records a row another table refused: its table, id, tenant and the server message', () => {
    const row = { detection_id: 'd-1', tenant: 'acme', subject: 'a\ud800', evidence: '{}' };
    const letter = refusedRowLetter(
      'tw.detections',
      { row, message: 'Code: 27, Cannot parse input' },
      RECEIVED,
    );
    expect(letter).toMatchObject({
      letter_id: 'rejected:detections:acme:d-1',
      door: 'clickhouse',
      code: 'insert_rejected',
      origin: 'clickhouse insert into detections',
      tenant: 'acme',
      event_id: '',
      message: 'ClickHouse refused the row: Code: 27, Cannot parse input',
      truncated: 0,
    });
    expect(JSON.parse(letter.payload)).toStrictEqual({ ...row, subject: 'a\ufffd' });
  });
});
