import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { createLogger } from '../observability/logger.js';
import { DEFAULTS, startOperator, type OperatorOptions } from '../controller/operator.js';
import { BUILT_IN_BACKENDS, type ConcreteBackend } from '../backends/registry.js';
import { parseDuration } from './duration.js';
import { CLOUDS, type CloudName } from '../endpoints/clouds.js';
import { usageError } from './errors.js';

const duration = (v: string) => {
  try {
    return parseDuration(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
};
const csv = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of at least 1');
  return n;
};
/** `--leader-elect`, `--leader-elect=false`, or the environment variable's `true`/`false`. */
const bool = (v: unknown) => {
  if (typeof v !== 'string' || v === 'true') return true;
  if (v === 'false') return false;
  throw new InvalidArgumentError('true or false');
};
const subscription = (v: string) => {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v))
    throw new InvalidArgumentError('a subscription id (a GUID)');
  return v.toLowerCase();
};
const fraction = (v: string) => {
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError('a fraction between 0 and 1, e.g. 0.5');
  return n;
};

/** `--service-tags` as given: the default until the first one, then every one in order. */
const DEFAULT_SERVICE_TAGS: readonly string[] = [...[DEFAULTS.serviceTags].flat()];
const collectServiceTags = (v: string, previous: readonly string[]) => {
  if (previous === DEFAULT_SERVICE_TAGS) return [v];
  if (previous.includes(v)) throw new InvalidArgumentError(`${v} is given twice`);
  return [...previous, v];
};

/** `acr-access run`: every flag also reads an ACR_ACCESS_* environment variable (Helm sets those). */
export function addRunCommand(program: Command): void {
  const env = (o: Option, name: string) => o.env(`ACR_ACCESS_${name}`);
  program
    .command('run')
    .description('Run the operator: keep every AcrAccess and ClusterAcrAccess reconciled')
    .addOption(
      env(
        new Option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)'),
        'KUBECONFIG',
      ),
    )
    .addOption(new Option('--context <name>', 'kubeconfig context'))
    .addOption(
      env(
        new Option('--namespace <ns>', "the operator's namespace (keeps the last good feed)").default(
          process.env.POD_NAMESPACE ?? 'acr-access-system',
        ),
        'NAMESPACE',
      ),
    )
    .addOption(
      env(
        new Option(
          '--service-tags <source>',
          'feed: embedded, file:<path>, configmap:<ns>/<name>[:<key>] or arm:<location> (needs --azure-subscription); repeatable: every source is read and per tag the highest change number wins',
        )
          .argParser(collectServiceTags)
          .default(DEFAULT_SERVICE_TAGS, DEFAULT_SERVICE_TAGS.join(',')),
        'SERVICE_TAGS',
      ),
    )
    .addOption(
      env(
        new Option(
          '--service-tags-cloud <cloud>',
          'the cloud the --service-tags sources publish; a feed for another is refused',
        )
          .choices(Object.keys(CLOUDS))
          .default(DEFAULTS.serviceTagsCloud),
        'SERVICE_TAGS_CLOUD',
      ),
    )
    .addOption(
      env(
        new Option(
          '--azure-subscription <id>',
          'turns on Azure Resource Manager: registries named by spec.registry.resourceId are discovered, and arm:<location> Service Tags are read in this subscription',
        ).argParser(subscription),
        'AZURE_SUBSCRIPTION',
      ),
    )
    .addOption(
      env(
        new Option(
          '--azure-cloud <cloud>',
          'the Azure cloud of Resource Manager and sign-in (endpoint, authority, scope)',
        )
          .choices(Object.keys(CLOUDS))
          .default('AzurePublicCloud'),
        'AZURE_CLOUD',
      ),
    )
    .addOption(
      env(
        new Option(
          '--refresh-interval <duration>',
          'how often a feed, expired DNS answers and registries discovered from ARM are read again',
        )
          .argParser(duration)
          .default(DEFAULTS.refreshIntervalMs, '1h'),
        'REFRESH_INTERVAL',
      ),
    )
    .addOption(
      env(
        new Option('--grace-period <duration>', 'how long a prefix that stopped being desired stays allowed')
          .argParser(duration)
          .default(DEFAULTS.graceMs, '7d'),
        'GRACE_PERIOD',
      ),
    )
    .addOption(
      env(
        new Option('--max-feed-shrink <fraction>', 'refuse a feed that lost more than this fraction of prefixes')
          .argParser(fraction)
          .default(DEFAULTS.maxFeedShrink),
        'MAX_FEED_SHRINK',
      ),
    )
    .addOption(
      env(
        new Option('--backends <names>', 'backends the operator may use at all (Auto picks among the served ones)')
          .argParser((v: string) => {
            const names = csv(v);
            const known = BUILT_IN_BACKENDS.map((b) => b.name as string);
            const bad = names.filter((n) => !known.includes(n));
            if (bad.length)
              throw new InvalidArgumentError(`unknown backend ${bad.join(', ')}; known: ${known.join(', ')}`);
            return names;
          })
          .default(DEFAULTS.backends, DEFAULTS.backends.join(',')),
        'BACKENDS',
      ),
    )
    .addOption(
      env(
        new Option('--allowed-registries <globs>', 'comma-separated login server patterns, e.g. *.azurecr.io')
          .argParser(csv)
          .default([], 'all'),
        'ALLOWED_REGISTRIES',
      ),
    )
    .addOption(
      env(
        new Option('--watch-namespaces <names>', 'comma-separated namespaces to watch')
          .argParser(csv)
          .default([], 'all'),
        'WATCH_NAMESPACES',
      ),
    )
    .addOption(
      env(
        new Option('--workers <n>', 'concurrent reconciles').argParser(positive).default(DEFAULTS.workers),
        'WORKERS',
      ),
    )
    .addOption(
      env(
        new Option('--resync <duration>', 'reconcile everything at least this often')
          .argParser(duration)
          .default(DEFAULTS.resyncMs, '10m'),
        'RESYNC',
      ),
    )
    .addOption(
      env(new Option('--dns <mode>', 'off, system, or comma-separated resolver addresses').default('system'), 'DNS'),
    )
    .addOption(
      env(
        new Option(
          '--leader-elect [bool]',
          'only the Lease holder reconciles (run several replicas); --leader-elect=false for one local process',
        )
          .argParser(bool)
          .default(true),
        'LEADER_ELECT',
      ),
    )
    .addOption(new Option('--no-leader-elect', 'same as --leader-elect=false'))
    .addOption(
      env(
        new Option('--leader-election-namespace <ns>', 'namespace of the Lease (default: --namespace)'),
        'LEADER_ELECTION_NAMESPACE',
      ),
    )
    .addOption(
      env(
        new Option('--leader-election-id <name>', 'name of the Lease').default('acr-access-operator'),
        'LEADER_ELECTION_ID',
      ),
    )
    .addOption(
      env(
        new Option('--health-address <host:port>', 'serves /healthz, /readyz and /metrics').default(':8081'),
        'HEALTH_ADDRESS',
      ),
    )
    .addOption(
      env(
        new Option('--log-level <level>', 'log level')
          .choices(['trace', 'debug', 'info', 'warn', 'error', 'silent'])
          .default('info'),
        'LOG_LEVEL',
      ),
    )
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const logger = createLogger(o.logLevel as 'info');
      const opts = runOptions(o, cmd);
      process.on('unhandledRejection', (err) => {
        logger.fatal({ err }, 'unhandled rejection');
        process.exit(1);
      });
      // Signals are handled from the first moment: during start-up no reconcile has begun, so leaving is safe.
      const signalled = new Promise<string>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      const first = await Promise.race([startOperator(opts, logger), signalled]);
      if (typeof first === 'string') {
        logger.info({ signal: first }, 'stopping during start-up; no reconcile had begun');
        logger.flush();
        process.exit(0);
      }
      const operator = first;
      const signal = await signalled;
      logger.info({ signal }, 'shutting down: finishing in-flight reconciles');
      const clean = await operator.stop(20_000).then(
        () => true,
        (err: unknown) => (logger.error({ err }, 'shutdown failed'), false),
      );
      logger.flush();
      // Idle keep-alive sockets may still hold the event loop; the work is done, so leave now.
      process.exit(clean ? 0 : 1);
    });
}

/** The operator's options from `run`'s parsed flags; a contradiction between flags is a usage error. */
export function runOptions(o: Record<string, unknown>, cmd: Command): OperatorOptions {
  const dnsFlag = o.dns as string;
  const serviceTags = o.serviceTags as string[];
  const azureCloud = o.azureCloud as CloudName;
  let serviceTagsCloud = o.serviceTagsCloud as CloudName;
  if (serviceTags.some((s) => s.startsWith('arm:'))) {
    if (!o.azureSubscription) throw usageError('--service-tags arm:<location> needs --azure-subscription');
    // ARM serves the tags of its own cloud: --service-tags-cloud follows --azure-cloud unless set otherwise, and
    // every other source given beside it must be for that cloud too.
    if (cmd.getOptionValueSource('serviceTagsCloud') === 'default') serviceTagsCloud = azureCloud;
    else if (serviceTagsCloud !== azureCloud)
      throw usageError(
        `--service-tags arm: serves ${azureCloud}'s tags (--azure-cloud), not ${serviceTagsCloud} (--service-tags-cloud)`,
      );
  }
  return {
    ...DEFAULTS,
    namespace: o.namespace as string,
    serviceTags,
    serviceTagsCloud,
    ...(o.azureSubscription ? { azure: { cloud: azureCloud, subscriptionId: o.azureSubscription as string } } : {}),
    refreshIntervalMs: o.refreshInterval as number,
    graceMs: o.gracePeriod as number,
    maxFeedShrink: o.maxFeedShrink as number,
    allowedRegistries: o.allowedRegistries as string[],
    backends: o.backends as ConcreteBackend[],
    watchedNamespaces: o.watchNamespaces as string[],
    workers: o.workers as number,
    resyncMs: o.resync as number,
    dns: dnsFlag === 'off' || dnsFlag === 'system' ? dnsFlag : csv(dnsFlag),
    healthAddress: o.healthAddress as string,
    ...(o.leaderElect
      ? {
          leaderElection: {
            namespace: (o.leaderElectionNamespace as string | undefined) ?? (o.namespace as string),
            name: o.leaderElectionId as string,
          },
        }
      : {}),
    ...(o.kubeconfig ? { kubeconfig: o.kubeconfig as string } : {}),
    ...(o.context ? { context: o.context as string } : {}),
  };
}
