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
});
