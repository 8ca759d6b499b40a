/**
 * The `acr-access` command. Start-up is kept light: `render` is imported when it runs, and `run` (which pulls in
 * @kubernetes/client-node, ~1.5 s) only when `run` is asked for, so `--help`, `--version` and `render` never load it.
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { Command, CommanderError, Option } from 'commander';
import { CliError, EXIT, EXIT_CODES_HELP, usageError } from './errors.js';
import {
  BACKEND_NAMES,
  OUTPUT_FORMATS,
  feedChoice,
  list,
  namespaceList,
  parseDnsServers,
  type DnsChoice,
  type FeedChoice,
  type OutputFormat,
  type RenderBackend,
} from './flags.js';

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  stdin?: Readable;
}

/** The version in package.json, read at run time: importing the JSON would need an import attribute and a copy in dist/. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const RUN_DESCRIPTION = 'Run the operator: keep every AcrAccess and ClusterAcrAccess reconciled';

function baseProgram(io: CliIo): Command {
  return new Command('acr-access')
    .description('Keeps Azure Container Registry pulls working behind locked-down egress')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .addHelpText('after', `\n${EXIT_CODES_HELP}`);
}

interface RenderFlags {
  filename: string[];
  serviceTags?: FeedChoice[];
  backend: RenderBackend;
  output: OutputFormat;
  dns?: string;
  dnsServer?: string[];
  namespace?: string[];
  allowedRegistries?: string[];
  watchNamespaces?: string[];
}

function addRenderCommand(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('render')
    .description('Print the objects the operator would write for AcrAccess/ClusterAcrAccess documents, offline')
    .requiredOption(
      '-f, --filename <path>',
      'file, directory (recursive: .yaml, .yml, .json) or - for stdin; repeatable. Other kinds are skipped',
      list,
    )
    .option(
      '--service-tags <source>',
      'feed: embedded (the snapshot) or file:<path> (a weekly ServiceTags_*.json); repeatable, one per cloud',
      feedChoice,
    )
    .addOption(
      new Option('--backend <name>', 'the backend the cluster is taken to serve besides Kubernetes NetworkPolicy')
        .choices(Object.keys(BACKEND_NAMES))
        .default('networkpolicy'),
    )
    .addOption(
      new Option('-o, --output <format>', 'yaml, json (a v1 List), name, or table (where each prefix came from)')
        .choices(OUTPUT_FORMATS)
        .default('yaml'),
    )
    .option('--dns <mode>', 'off, system, or comma-separated resolvers (IP[:port] or host[:port]) (default: off)')
    .addOption(new Option('--dns-server <address>', 'a resolver; same as --dns <address> (repeatable)').argParser(list))
    .option('-n, --namespace <name>', 'namespaces a ClusterAcrAccess selects (repeatable)', namespaceList)
    .option('--allowed-registries <globs>', 'as in run: login-server patterns, e.g. *.azurecr.io (default: all)', list)
    .option('--watch-namespaces <names>', 'as in run: namespaces the operator watches (default: all)', namespaceList)
    .addHelpText('after', `\n${EXIT_CODES_HELP}`)
    .action(async (o: RenderFlags) => {
      const { render } = await import('./render.js');
      const result = await render({
        files: o.filename,
        backend: o.backend,
        output: o.output,
        dns: await dnsChoice(o),
        namespaces: o.namespace ?? [],
        ...(o.serviceTags ? { serviceTags: o.serviceTags } : {}),
        allowedRegistries: o.allowedRegistries ?? [],
        watchedNamespaces: o.watchNamespaces ?? [],
        stdin: io.stdin ?? process.stdin,
        write: io.out,
      });
      for (const note of result.notes) io.err(`${note}\n`);
      setExit(result.exitCode);
    });
}

/** `--dns off|system|<servers>` as in run; `--dns-server` adds servers and cannot be combined with off/system. */
async function dnsChoice(o: RenderFlags): Promise<DnsChoice> {
  const mode = o.dns?.trim();
  const servers = [...(mode && mode !== 'off' && mode !== 'system' ? list(mode) : []), ...(o.dnsServer ?? [])];
  if (servers.length === 0) return mode === 'system' ? 'system' : 'off';
  if (mode === 'off' || mode === 'system') throw usageError(`--dns ${mode} cannot be combined with --dns-server`);
  return parseDnsServers(servers, o.dnsServer?.length ? '--dns-server' : '--dns');
}

export function buildCli(
  io: CliIo,
  argv: readonly string[] = [],
  setExit: (code: number) => void = () => {},
  withRun?: (program: Command) => void,
): Command {
  const program = baseProgram(io);
  addRenderCommand(program, io, setExit);
  if (withRun) {
    withRun(program);
    return program;
  }
  // A stand-in that loads the real `run` command on demand and parses the command line again with it; it takes any
  // options (the real command checks them), and `run --help` reaches the real help the same way.
  program
    .command('run')
    .description(RUN_DESCRIPTION)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async () => {
      const { addRunCommand } = await import('./run.js');
      await buildCli(io, argv, setExit, addRunCommand).parseAsync([...argv], { from: 'user' });
    });
  return program;
}

/** Runs the CLI; returns the exit code instead of exiting, so it can be tested in-process. */
export async function main(
  argv: string[],
  io: CliIo = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) },
): Promise<number> {
  let exitCode: number = EXIT.ok;
  // `help run` prints the help of the command object itself, so the stand-in must not be the one asked.
  const run = argv[0] === 'help' && argv[1] === 'run' ? (await import('./run.js')).addRunCommand : undefined;
  const program = buildCli(io, argv, (code) => (exitCode = code), run);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`error: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof CommanderError) {
      // Help and version end parsing with exit code 0; everything else commander reports is a usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    io.err(`error: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
}
