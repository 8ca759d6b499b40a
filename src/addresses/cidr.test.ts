import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { containingPrefix, cover, coverStrings, formatPrefix, parsePrefix } from './cidr.js';
import { requiredUpstreamFile } from '../../test/fixtures/upstream.js';

describe('parsePrefix / formatPrefix', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['20.42.66.5/24', '20.42.66.0/24'],
    ['1.2.3.4', '1.2.3.4/32'],
    ['2603:1030:210:d::680/122', '2603:1030:210:d::680/122'],
    ['2603:1030:0210:000d:0000:0000:0000:0680/122', '2603:1030:210:d::680/122'],
    ['::/0', '::/0'],
    ['::ffff:1.2.3.4/128', '::ffff:102:304/128'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['2001:0:0:1::/64', '2001:0:0:1::/64'],
    ['FE80::1/10', 'fe80::/10'],
  ])('%s → %s', (input, output) => {
    expect(formatPrefix(parsePrefix(input))).toBe(output);
  });

  it.each([
    '1.2.3/24',
    '256.0.0.0/8',
    '1.2.3.4/33',
    '1.2.3.4/',
    '1.2.3.4/ab',
    '2001:db8::1::/64',
    'gg::/8',
    '',
    '1.2.3.4/-1',
    '12345::/16',
  ])('rejects %j', (bad) => {
    expect(() => parsePrefix(bad)).toThrow();
  });
});

describe('cover', () => {
  it('merges siblings, drops contained prefixes and keeps families apart', () => {
    expect(
      coverStrings([
        '10.0.1.0/24',
        '10.0.0.0/24',
        '10.0.0.128/25',
        '2001:db8::/33',
        '2001:db8:8000::/33',
        '10.0.2.0/24',
      ]),
    ).toEqual(['10.0.0.0/23', '10.0.2.0/24', '2001:db8::/32']);
  });

  it('cuts a merged unaligned range into the fewest blocks', () => {
    expect(coverStrings(['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/30', '10.0.0.8/32'])).toEqual([
      '10.0.0.1/32',
      '10.0.0.2/31',
      '10.0.0.4/30',
      '10.0.0.8/32',
    ]);
    expect(coverStrings(['0.0.0.0/1', '128.0.0.0/1'])).toEqual(['0.0.0.0/0']);
  });

  it('finds the prefix that contains another', () => {
    const covered = cover(['10.0.0.0/23', '192.168.0.0/16', '2001:db8::/32'].map(parsePrefix));
    expect(formatPrefix(containingPrefix(covered, parsePrefix('10.0.1.128/25'))!)).toBe('10.0.0.0/23');
    expect(formatPrefix(containingPrefix(covered, parsePrefix('2001:db8:1::/48'))!)).toBe('2001:db8::/32');
    expect(containingPrefix(covered, parsePrefix('10.0.2.0/24'))).toBeUndefined();
    expect(containingPrefix(covered, parsePrefix('10.0.0.0/22'))).toBeUndefined();
  });
});

function python(): string | undefined {
  for (const bin of ['python3', 'python']) {
    try {
      execFileSync(bin, ['-c', 'import ipaddress'], { stdio: 'ignore' });
      return bin;
    } catch {
      // try the next name
    }
  }
  return undefined;
}

const ORACLE = `
import ipaddress, json, sys
data = json.load(sys.stdin)
out = []
for family in (4, 6):
    nets = [ipaddress.ip_network(p, strict=False) for p in data if ipaddress.ip_network(p, strict=False).version == family]
    out += [str(n) for n in ipaddress.collapse_addresses(nets)]
print(json.dumps(out))
`;

describe('cover against Python ipaddress.collapse_addresses on the real feed', () => {
  const py = python();
  const feedFile = requiredUpstreamFile('servicetags/ServiceTags_Public_20251103.json');
  if (!py && process.env.CI === 'true') throw new Error('CI=true but python3 (the cover oracle) is not installed');
  if (!py || !feedFile)
    console.warn(
      `cover oracle test skipped: ${!py ? 'python3 not installed' : 'shared/upstream not found beside the repository'}`,
    );

  it.skipIf(!py || !feedFile)(
    'gives exactly the same cover for ACR+Storage tags and for the whole feed',
    () => {
      const feed = JSON.parse(readFileSync(feedFile!, 'utf8')) as {
        values: { name: string; properties: { addressPrefixes: string[] } }[];
      };
      const registry = feed.values
        .filter((v) => /^(AzureContainerRegistry|Storage)(\.|$)/.test(v.name))
        .flatMap((v) => v.properties.addressPrefixes);
      const everything = feed.values.flatMap((v) => v.properties.addressPrefixes);
      for (const input of [registry, everything]) {
        const expected = JSON.parse(
          execFileSync(py!, ['-c', ORACLE], { input: JSON.stringify(input), maxBuffer: 1 << 28 }).toString(),
        ) as string[];
        const actual = coverStrings(input);
        expect(actual.length).toBe(expected.length);
        expect(actual).toEqual(expected);
      }
      expect(everything.length).toBeGreaterThan(90_000);
      // Python collapses 95,823 prefixes in about a second idle; on a loaded 2-core machine it can take many more.
    },
    60_000,
  );
});
