// `acr-access run --service-tags`, repeatable, parsed by the real command into the operator's options, and
// parseFeedSource turning them into one source (several: a CombinedServiceTagSource). No cluster needed.
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { CombinedServiceTagSource } from '../../src/addresses/combined-source.js';
import { ArmServiceTagSource } from '../../src/addresses/arm-source.js';
import { ConfigMapSource, EmbeddedSnapshotSource, FileSource } from '../../src/addresses/sources.js';
import { addRunCommand, runOptions } from '../../src/cli/run.js';
import { DEFAULTS, parseFeedSource, type OperatorOptions } from '../../src/controller/operator.js';
import type { KubeClient } from '../../src/kube/client.js';

const SUB = '00000000-0000-0000-0000-000000000001';

/** `acr-access run <argv>` parsed by the real command; its action replaced so that nothing starts. */
function parse(argv: string[]): OperatorOptions {
  const program = new Command();
  addRunCommand(program);
  const run = program.commands.find((c) => c.name() === 'run')!;
  run.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  let options: OperatorOptions | undefined;
  run.action((o: Record<string, unknown>, cmd: Command) => void (options = runOptions(o, cmd)));
  program.parse(['run', ...argv], { from: 'user' });
  return options!;
}
const failure = (argv: string[]) => {
  try {
    parse(argv);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
};

const saved = process.env.ACR_ACCESS_SERVICE_TAGS;
afterEach(() => {
  if (saved === undefined) delete process.env.ACR_ACCESS_SERVICE_TAGS;
  else process.env.ACR_ACCESS_SERVICE_TAGS = saved;
});

describe('--service-tags', () => {
  it('defaults to embedded; one value is a list of one; repeated, every value in order', () => {
    delete process.env.ACR_ACCESS_SERVICE_TAGS;
    expect(parse([]).serviceTags).toEqual(['embedded']);
    expect(parse(['--service-tags', 'file:/feeds/a.json']).serviceTags).toEqual(['file:/feeds/a.json']);
    expect(
      parse(['--service-tags', 'configmap:ns/tags', '--service-tags=file:/feeds/a.json', '--service-tags', 'embedded'])
        .serviceTags,
    ).toEqual(['configmap:ns/tags', 'file:/feeds/a.json', 'embedded']);
    // Parsing twice does not carry values over (the default list is never appended to).
    expect(parse(['--service-tags', 'embedded']).serviceTags).toEqual(['embedded']);
    expect([DEFAULTS.serviceTags].flat()).toEqual(['embedded']);
  });

  it('reads one source from ACR_ACCESS_SERVICE_TAGS; a flag wins over it', () => {
    process.env.ACR_ACCESS_SERVICE_TAGS = 'configmap:ns/tags';
    expect(parse([]).serviceTags).toEqual(['configmap:ns/tags']);
    expect(parse(['--service-tags', 'embedded']).serviceTags).toEqual(['embedded']);
  });

  it('refuses a source given twice', () => {
    delete process.env.ACR_ACCESS_SERVICE_TAGS;
    expect(failure(['--service-tags', 'embedded', '--service-tags', 'embedded'])).toMatch(
      /option '--service-tags <source>' argument 'embedded' is invalid. embedded is given twice/,
    );
  });

  it('arm: beside other sources: needs --azure-subscription, and all follow --azure-cloud', () => {
    delete process.env.ACR_ACCESS_SERVICE_TAGS;
    expect(failure(['--service-tags', 'embedded', '--service-tags', 'arm:eastus'])).toBe(
      '--service-tags arm:<location> needs --azure-subscription',
    );
    const china = parse([
      '--service-tags=configmap:ns/tags',
      '--service-tags=arm:chinaeast2',
      `--azure-subscription=${SUB}`,
      '--azure-cloud=AzureChinaCloud',
    ]);
    expect(china).toMatchObject({
      serviceTags: ['configmap:ns/tags', 'arm:chinaeast2'],
      serviceTagsCloud: 'AzureChinaCloud',
      azure: { cloud: 'AzureChinaCloud', subscriptionId: SUB },
    });
    expect(
      failure([
        '--service-tags=file:/feeds/public.json',
        '--service-tags=arm:chinaeast2',
        `--azure-subscription=${SUB}`,
        '--azure-cloud=AzureChinaCloud',
        '--service-tags-cloud=AzurePublicCloud',
      ]),
    ).toBe(
      "--service-tags arm: serves AzureChinaCloud's tags (--azure-cloud), not AzurePublicCloud (--service-tags-cloud)",
    );
    // Without arm:, the sources' cloud is --service-tags-cloud.
    expect(
      parse(['--service-tags=file:/a.json', '--service-tags=embedded', '--service-tags-cloud=AzureUSGovernment'])
        .serviceTagsCloud,
    ).toBe('AzureUSGovernment');
  });

  it('is shown as repeatable, default embedded, in run --help', () => {
    const program = new Command();
    addRunCommand(program);
    const help = program.commands
      .find((c) => c.name() === 'run')!
      .helpInformation()
      .replace(/\s+/g, ' ');
    expect(help).toMatch(
      /--service-tags <source> .* repeatable: .* \(default: embedded, env: ACR_ACCESS_SERVICE_TAGS\)/,
    );
  });
});

describe('parseFeedSource', () => {
  const client = {} as KubeClient;
  const azure = {
    serviceTagSource: (location: string) =>
      new ArmServiceTagSource({ list: () => Promise.reject(new Error()) }, location, SUB),
  };

  it('one source, as a string or a list of one: that source itself, as before', () => {
    expect(parseFeedSource('embedded', client)).toEqual({});
    expect(parseFeedSource(['embedded'], client)).toEqual({});
    expect(parseFeedSource(['file:/a.json'], client).source).toBeInstanceOf(FileSource);
    expect(parseFeedSource(['arm:eastus'], client, azure).source).toBeInstanceOf(ArmServiceTagSource);
    expect(parseFeedSource(['configmap:ns/tags:x.json'], client)).toMatchObject({
      source: expect.any(ConfigMapSource) as unknown,
      configMap: { namespace: 'ns', name: 'tags' },
    });
  });

  it('several: one combined source, embedded as the configured cloud snapshot, the ConfigMap watched', () => {
    const { source, configMap } = parseFeedSource(['arm:eastus', 'configmap:ns/tags', 'embedded'], client, azure, {
      cloud: 'AzureUSGovernment',
    });
    expect(source).toBeInstanceOf(CombinedServiceTagSource);
    const combined = source as CombinedServiceTagSource;
    expect(combined.sources.map((s) => s.name)).toEqual(['arm:eastus', 'configmap:ns/tags', 'embedded']);
    expect(combined.sources[0]!.source).toBeInstanceOf(ArmServiceTagSource);
    expect(combined.sources[1]!.source).toBeInstanceOf(ConfigMapSource);
    expect(combined.sources[2]!.source).toEqual(new EmbeddedSnapshotSource('AzureUSGovernment'));
    expect(configMap).toEqual({ namespace: 'ns', name: 'tags' });
    expect(combined.description).toBe('Service Tags combined per tag from arm:eastus, configmap:ns/tags, embedded');
  });

  it('several: each is checked as alone; none, twice, or arm: without Azure are errors', () => {
    expect(() => parseFeedSource(['embedded', 'feed.json'], client)).toThrow(
      '--service-tags must be embedded, file:<path>, configmap:<namespace>/<name>[:<key>] or arm:<location>, not feed.json',
    );
    expect(() => parseFeedSource(['embedded', 'arm:eastus'], client)).toThrow('needs Azure Resource Manager');
    expect(() => parseFeedSource(['file:/a', 'file:/a'], client)).toThrow('--service-tags file:/a is given twice');
    expect(() => parseFeedSource([], client)).toThrow('--service-tags needs at least one source');
  });
});
