import { describe, expect, it } from 'vitest';
import { parseIp } from '../../../../platform/net/ip.ts';

describe('parseIp', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    [' 10.0.0.1 ', '10.0.0.1'],
    ['[1.2.3.4]', '1.2.3.4'],
  ])('IPv4 %j → %s', (input, address) => {
    expect(parseIp(input)).toStrictEqual({ address, family: 4 });
  });

  it.each([
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0DB8:0000:0001:0000:0000:0000:0000', '2001:db8:0:1::'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['FE80:0000::ABCD', 'fe80::abcd'],
  ])('IPv6 %j → RFC 5952 %s', (input, address) => {
    expect(parseIp(input)).toStrictEqual({ address, family: 6 });
  });

  it.each([
    ['[::1]', '::1'],
    ['[2001:DB8::0001]', '2001:db8::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['FE80::1%25', 'fe80::1'],
    ['[fe80::1%eth0]', 'fe80::1'],
  ])('brackets and zone ids: %j → %s', (input, address) => {
    expect(parseIp(input)).toStrictEqual({ address, family: 6 });
  });

  it.each([
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:1.2.3.4', '1.2.3.4'],
    ['::ffff:0102:0304', '1.2.3.4'],
    ['0:0:0:0:0:ffff:c0a8:0101', '192.168.1.1'],
    ['[::ffff:203.0.113.7]', '203.0.113.7'],
    ['::ffff:0:0', '0.0.0.0'],
  ])('IPv4-mapped %j → IPv4 %s', (input, address) => {
    expect(parseIp(input)).toStrictEqual({ address, family: 4 });
  });

  it('keeps the deprecated IPv4-compatible form as IPv6', () => {
    expect(parseIp('::1.2.3.4')).toStrictEqual({ address: '::102:304', family: 6 });
  });

  it.each([
    '999.1.1.1',
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4',
    'abc',
    '',
    '   ',
    '1.2.3.4:80',
    '[::1]:443',
    '2001:db8::1::2',
    '12345::1',
    'gggg::1',
    '1.2.3.4%eth0',
    '[1.2.3.4',
    'localhost',
  ])('invalid: %j', (input) => {
    expect(parseIp(input)).toBeUndefined();
  });
});
