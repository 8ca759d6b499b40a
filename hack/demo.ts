// npm run demo: starts the test control plane (real etcd, kube-apiserver, kube-controller-manager), runs the operator
// against it under its shipped RBAC, applies examples/, and prints the resulting objects and status.
import { dump } from 'js-yaml';
import { ControlPlane } from '../test/controlplane/controlplane.js';
import { TestDnsServer } from '../test/support/dns-server.js';
import { applyFiles, bindOperator, installProject } from '../test/support/install.js';
import { KubeClient } from '../src/kube/client.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { DEFAULTS, startOperator } from '../src/controller/operator.js';
import { createLogger } from '../src/observability/logger.js';

const say = (s: string) => console.log(`\n== ${s}`);
const plane = new ControlPlane((l) => console.log(l));
const info = await plane.start();
console.log(
  `control plane: kube-apiserver ${info.versions.kubeApiserver}, etcd v${info.versions.etcd}, kube-controller-manager ${info.versions.kubeControllerManager}`,
);
const admin = new KubeClient(loadKubeConfig({ kubeconfig: info.kubeconfigs.admin }), { fieldManager: 'demo' });
const dns = new TestDnsServer({
  // Stands in for the VNet's resolver: the registry has a private endpoint, so its names answer privately.
  'contoso.azurecr.io': { CNAME: 'contoso.privatelink.azurecr.io' },
  'contoso.privatelink.azurecr.io': { A: ['10.20.0.7'] },
  'contoso.eastus.data.azurecr.io': { A: ['10.20.0.8'] },
  'contoso.westeurope.data.azurecr.io': { A: ['10.20.0.9'] },
  'azurecr.io': { A: ['20.62.128.1'] },
  'mcr.microsoft.com': { A: ['204.79.197.219'] },
});
let stop = async () => {};
try {
  say('installing CRDs and RBAC; namespaces flux-system and team-a (labelled acr-access=contoso)');
  await installProject(admin);
  await new Promise((r) => setTimeout(r, 1500));
  admin.discovery.invalidate();
  for (const [name, labels] of [
    ['acr-access-system', {}],
    ['flux-system', {}],
    ['team-a', { 'acr-access': 'contoso' }],
  ] as const) {
    await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  }
  await bindOperator(admin, 'acr-access-system');

  say('starting the operator (embedded Service Tags snapshot; DNS through a local resolver)');
  const operator = await startOperator(
    { ...DEFAULTS, namespace: 'acr-access-system', dns: [await dns.start()], resyncMs: 30_000 },
    createLogger('warn'),
    loadKubeConfig({ kubeconfig: info.kubeconfigs.operator }),
  );
  stop = () => operator.stop();

  say('applying examples/acraccess.yaml and examples/clusteracraccess.yaml');
  await applyFiles(admin, ['examples/acraccess.yaml', 'examples/clusteracraccess.yaml']);
  await new Promise((r) => setTimeout(r, 500));
  await operator.manager.idle();
  await new Promise((r) => setTimeout(r, 500));
  await operator.manager.idle();

  say('kubectl get acraccess,clusteracraccess');
  const rows = [
    ...(await admin.list('acraccess.io/v1alpha1', 'AcrAccess')).items,
    ...(await admin.list('acraccess.io/v1alpha1', 'ClusterAcrAccess')).items,
  ].map((r) => {
    const s = r.status as
      | {
          conditions?: { type: string; status: string; reason: string }[];
          endpoints?: { loginServer?: string };
          addresses?: { prefixCount?: number };
        }
      | undefined;
    const ready = s?.conditions?.find((c) => c.type === 'Ready');
    return [
      r.kind,
      r.metadata.namespace ?? '-',
      r.metadata.name,
      `${ready?.status ?? '?'} (${ready?.reason ?? ''})`,
      s?.endpoints?.loginServer ?? '',
      String(s?.addresses?.prefixCount ?? ''),
    ];
  });
  for (const row of [['KIND', 'NAMESPACE', 'NAME', 'READY', 'REGISTRY', 'PREFIXES'], ...rows])
    console.log(row.map((c, i) => c.padEnd([18, 12, 10, 18, 22, 8][i]!)).join(' '));

  say('NetworkPolicies written by the operator');
  for (const np of (
    await admin.list('networking.k8s.io/v1', 'NetworkPolicy', {
      labelSelector: 'app.kubernetes.io/managed-by=acr-access-operator',
    })
  ).items) {
    const egress = (np.spec as { egress: { to: { ipBlock?: unknown }[] }[] }).egress;
    console.log(
      `${np.metadata.namespace}/${np.metadata.name}: ${egress[0]!.to.length} ipBlocks on TCP 443, DNS rule: ${egress.length > 1}, owner ${np.metadata.ownerReferences?.[0]?.kind}/${np.metadata.ownerReferences?.[0]?.name}`,
    );
  }

  say('status of AcrAccess flux-system/contoso');
  const contoso = await admin.get({
    apiVersion: 'acraccess.io/v1alpha1',
    kind: 'AcrAccess',
    namespace: 'flux-system',
    name: 'contoso',
  });
  console.log(dump(contoso?.status, { lineWidth: 140 }));
} finally {
  await stop();
  await dns.stop();
  await plane.stop();
}
