import { Command, InvalidArgumentError, Option } from 'commander';
import { text } from 'node:stream/consumers';
import { RenderError, render } from './render.js';
import { addRunCommand } from './run.js';

const list = (value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)];

export function buildCli(io: { out: (s: string) => void; err: (s: string) => void }): Command {
  const program = new Command('acr-access')
    .description('Keeps Azure Container Registry pulls working behind locked-down egress')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command('render')
    .description('Print the policies planned for AcrAccess/ClusterAcrAccess documents, without a cluster')
    .requiredOption(
      '-f, --filename <file>',
      'YAML file with AcrAccess/ClusterAcrAccess documents (- for stdin; repeatable)',
      list,
    )
    .option('--service-tags <file>', 'Service Tags weekly JSON file (default: the embedded snapshot)')
    .addOption(new Option('--backend <name>', 'what to plan').choices(['networkpolicy']).default('networkpolicy'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .option(
      '--dns <mode>',
      'resolve endpoint hosts through DNS: off or system',
      (v) => {
        if (v !== 'off' && v !== 'system') throw new InvalidArgumentError('off or system');
        return v;
      },
      'off',
    )
    .option(
      '--dns-server <address>',
      'DNS server to resolve through (host or host:port; repeatable); implies DNS on',
      list,
    )
    .option('-n, --namespace <name>', 'namespaces a ClusterAcrAccess applies to (repeatable)', list)
    .action(
      async (o: {
        filename: string[];
        serviceTags?: string;
        backend: 'networkpolicy';
        output: 'yaml' | 'json';
        dns: 'off' | 'system';
        dnsServer?: string[];
        namespace?: string[];
      }) => {
        const result = await render({
          files: o.filename,
          backend: o.backend,
          output: o.output,
          dns: o.dnsServer?.length ? o.dnsServer : o.dns,
          namespaces: o.namespace ?? [],
          ...(o.serviceTags ? { serviceTags: o.serviceTags } : {}),
          readStdin: () => text(process.stdin),
        });
        for (const note of result.notes) io.err(`${note}\n`);
        io.out(result.text);
      },
    );
  addRunCommand(program);
  return program;
}

/** Runs the CLI; returns the exit code instead of exiting, so it can be tested in-process. */
export async function main(
  argv: string[],
  io = { out: (s: string) => void process.stdout.write(s), err: (s: string) => void process.stderr.write(s) },
): Promise<number> {
  const program = buildCli(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof RenderError) {
      io.err(`error: ${err.message}\n`);
      return 1;
    }
    const code = (err as { exitCode?: number; code?: string }).exitCode;
    if (typeof code === 'number') return code;
    io.err(`error: ${(err as Error).message}\n`);
    return 1;
  }
}
