import { describe, expect, it } from 'vitest';
import { isPrefix, parsePrefix } from './prefix.js';

// isPrefix takes fast paths that build nothing; parsePrefix is the reference. They must agree on every input.
const accepts = (text: string) => {
  try {
    parsePrefix(text);
    return true;
  } catch {
    return false;
  }
};

const CASES = [
  ...['', '/', '/24', '1.2.3.4', '1.2.3.4/', '1.2.3.4/0', '1.2.3.4/32', '1.2.3.4/33', '1.2.3.4/024', '1.2.3.4/0024'],
  ...['01.2.3.4/8', '1.2.3/8', '1.2.3.4.5/8', '256.1.1.1/8', '1..2.3/8', '1.2.3.4/2:', '1.2.3.4/a', ' 1.2.3.4/8'],
  ...['1.2.3.4/8 ', '1.2.3.4//8', '1.2.3.4/8/8', '1234.1.1.1/8', 'a.b.c.d/8', '1.2.3.4:80/8'],
  ...['::', '::/0', '::/', '::1/128', '::1/129', ':::', ':::/8', '::ffff:1.2.3.4/128', '::ffff:1.2.3/128', '1::'],
  ...['1::/64', '1:::/64', '1::2::3/64', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8/128', '1:2:3:4:5:6:7:8:9/128'],
  ...['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7', '::1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7', '1:/8', ':1/8'],
  ...['2603:1000:4::10c/126', '2603:1000:4::10C/126', '2603:1000:4::10g/126', '12345::/16', '2001:db8::/3:2'],
  ...['2001:db8::/32/1', '2001:db8:/32', 'fe80::/10', 'FE80::/10', 'fe80::%eth0/64', '2001:db8::1.2.3.4/96', 'abc/24'],
  ...['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '::/01', '::/1280', '2001:db8::/-1', '２.２.２.２/8'],
  // The edges of the fast paths for the feeds' forms (isPlainIPv4Prefix, isPlainIPv6Prefix).
  ...[
    '0.0.0.0/0',
    '255.255.255.255/32',
    '1.2.3.256/8',
    '1.2.3.4/05',
    '1.2.3.04/8',
    '1.2.3./8',
    '.1.2.3/8',
    '1.2.3.4/8/8',
  ],
  ...[
    '/8',
    '1/8',
    '1.2.3.4/3.',
    '1.2.3.4/ 8',
    '1.2.3.4/32x',
    '1.2.3.4/3/2',
    '1.2.3.45/',
    '12.34.56.789/24',
    '1.2.3.4/100',
  ],
  ...[
    '::/128',
    '::/129',
    '1::2:/8',
    '1:2:3:4:5:6:7:/64',
    '1:::2/64',
    ':1::/64',
    'fFfF::/16',
    '::ffff:1.2.3.4/128',
    '1::/0',
  ],
  ...['1:2:3:4:5:6:7:8/129', '1:2:3:4:5:6:7:8::/64', '::1:2:3:4:5:6:7:8/128', '12345:1::/64', '1:2345::/64', '::g/64'],
  ...['2603:1000:4::10c/126', '2603:1000:4::10c//126', '2603:1000:4::10c/1260', '2603:1000:4::10c/', '2603:/16', '::/'],
];

describe('isPrefix', () => {
  it.each(CASES)('agrees with parsePrefix on %j', (text) => {
    expect(isPrefix(text)).toBe(accepts(text));
  });

  it('agrees with parsePrefix on random strings over the prefix alphabet', () => {
    const alphabet = '0123456789abcdefABG.:/';
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 50_000; n++) {
      let text = '';
      const length = 1 + Math.floor(random() * 22);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      if (isPrefix(text) !== accepts(text)) expect.fail(`isPrefix(${JSON.stringify(text)}) disagrees with parsePrefix`);
    }
  });

  it('agrees with parsePrefix on random near-prefixes (parts and groups of every size, any length)', () => {
    let seed = 54321;
    const random = (n: number) => Math.floor(((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * n);
    const digits = (n: number, alphabet: string) =>
      Array.from({ length: n }, () => alphabet[random(alphabet.length)]).join('');
    for (let n = 0; n < 50_000; n++) {
      let text: string;
      if (random(2) === 0) {
        text = Array.from({ length: 3 + random(3) }, () => digits(random(5), '0123456789')).join('.');
      } else {
        const groups = Array.from({ length: 1 + random(9) }, () => digits(random(6), '0123456789abcdefABCDEF'));
        if (random(2) === 0) groups.splice(random(groups.length + 1), 0, '');
        text = groups.join(':');
        if (text.startsWith(':') && !text.startsWith('::')) text = ':' + text;
        if (text.endsWith(':') && !text.endsWith('::')) text += ':';
      }
      if (random(8) !== 0) text += `/${random(140)}`;
      if (isPrefix(text) !== accepts(text)) expect.fail(`isPrefix(${JSON.stringify(text)}) disagrees with parsePrefix`);
    }
  });
});
