import { registerHooks } from 'node:module';
import type { KubeConfig as KubeConfigType } from '@kubernetes/client-node';

/**
 * client-node's KubeConfig module imports `./gen/index.js` for two small helpers (createConfiguration,
 * ServerConfiguration), and that index loads every generated model and API class: some 45 MiB of RSS an operator
 * that only needs kubeconfig and auth never uses. This resolve hook hands that one import, from that one module, a
 * two-line stand-in exporting just those helpers. The rest of client-node is untouched, and nothing imports its
 * package index (client.ts and reflector.ts import the narrow modules they use).
 */
registerHooks?.({
  resolve(specifier, context, next) {
    const parent = context.parentURL;
    if (specifier !== './gen/index.js' || !parent?.endsWith('/@kubernetes/client-node/dist/config.js'))
      return next(specifier, context);
    const at = (p: string) => JSON.stringify(new URL(p, parent).href);
    const source = `export { createConfiguration } from ${at('./gen/configuration.js')}; export { ServerConfiguration } from ${at('./gen/servers.js')};`;
    return { url: `data:text/javascript,${encodeURIComponent(source)}`, shortCircuit: true };
  },
});
const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
export { KubeConfig };
export type KubeConfig = KubeConfigType;

export interface KubeConfigOptions {
  /** Path to a kubeconfig file; without it: $KUBECONFIG, ~/.kube/config, then the in-cluster service account. */
  kubeconfig?: string;
  context?: string;
}

export function loadKubeConfig(opts: KubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod');
  }
  return kc;
}
