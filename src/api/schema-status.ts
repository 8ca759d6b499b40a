/** The status schema of both kinds: what the operator observed and did, and its ledger of what it wrote. */
import { bool, enumOf, int, list, obj, str } from './schema-helpers.js';

/** Things no longer desired that stay allowed until their grace period ends: what, since when, until when. */
const retiringList = (
  description: string,
  key: string,
  keyDescription: string,
  keyOptions: Record<string, unknown> = {},
) =>
  list(
    description,
    obj(
      `A retiring ${key}.`,
      {
        [key]: str(keyDescription, keyOptions),
        since: str('When it stopped being desired.', { format: 'date-time' }),
        until: str('When it is removed.', { format: 'date-time' }),
      },
      { required: [key, 'since', 'until'] },
    ),
  );

const condition = obj(
  'A condition in the metav1.Condition shape.',
  {
    type: str(
      'Condition type: Ready, Reconciling, Stalled, EndpointsResolved, AddressesResolved, PoliciesApplied or Degraded.',
      { maxLength: 316 },
    ),
    status: enumOf('True, False or Unknown.', ['True', 'False', 'Unknown']),
    observedGeneration: int('The generation this condition was computed from.', { minimum: 0 }),
    lastTransitionTime: str('When the status last changed.', { format: 'date-time' }),
    reason: str('One CamelCase word saying why.', { maxLength: 1024 }),
    message: str('What a person needs to know.', { maxLength: 32768 }),
  },
  { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] },
);

const objectRef = obj(
  'An object this resource manages.',
  {
    apiVersion: str('API version.'),
    kind: str('Kind.'),
    namespace: str('Namespace; empty for cluster-scoped objects.'),
    name: str('Name.'),
  },
  { required: ['apiVersion', 'kind', 'name'] },
);

export const statusSchema = obj('What the operator observed and did.', {
  observedGeneration: int('The spec generation the status describes.', { minimum: 0 }),
  conditions: list('Current state, kstatus-compatible (Ready, Reconciling, Stalled) plus details.', condition, {
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
    maxItems: 16,
  }),
  endpoints: obj('Registry endpoints in use.', {
    loginServer: str('Login server.'),
    dataEndpoints: list('Dedicated data endpoints.', { type: 'string' }),
    storage: list('Storage host patterns used for layer downloads without dedicated data endpoints.', {
      type: 'string',
    }),
    regions: list('Home and replica regions.', { type: 'string' }),
    otherHosts: list('Other hosts allowed (certificate host, MCR).', { type: 'string' }),
    retiring: retiringList(
      'Hosts no longer desired (a replica or data endpoint dropped) that stay allowed until their grace period ends.',
      'host',
      'The host name.',
    ),
    publicNetworkAccess: str(
      "The registry's public network access as Azure Resource Manager reports it (registries named by resourceId).",
    ),
    privateEndpoints: int('Approved private endpoint connections of the registry (registries named by resourceId).', {
      minimum: 0,
    }),
    notInUse: list(
      'Optional hosts DNS says do not exist (e.g. dedicated data endpoints of a registry that has none): not in use, not a failure.',
      { type: 'string' },
    ),
  }),
  addresses: obj('Addresses in use.', {
    serviceTagsChangeNumber: int('changeNumber of the Service Tags feed in use.'),
    feedSource: str('Where the feed came from.'),
    prefixCount: int('Prefixes allowed, all families.'),
    ipv4Prefixes: int('IPv4 prefixes allowed.'),
    ipv6Prefixes: int('IPv6 prefixes allowed.'),
    retiring: retiringList(
      'Prefixes that left the feed and are still allowed until their grace period ends.',
      'prefix',
      'The prefix.',
    ),
    feedPublished: str('Publication date of the Service Tags feed in use, as its file name gives it (YYYY-MM-DD).'),
    feedAcceptedTime: str('When the operator accepted the feed in use (its changeNumber).', { format: 'date-time' }),
  }),
  planes: obj(
    'Which planes are covered. Pod: in-cluster registry clients. Node: kubelet image pulls, which pod policies never cover.',
    {
      pod: enumOf('Pod plane coverage.', ['Enforced', 'Audited', 'NotCovered']),
      node: enumOf('Node plane coverage.', ['Enforced', 'Audited', 'NotCovered']),
    },
  ),
  objects: list('Objects in force for this resource.', objectRef),
  backends: list(
    'Every backend the operator knows: the planes it would cover for this resource, whether it was chosen, and why (or why not).',
    obj(
      'One backend.',
      {
        name: str('NetworkPolicy, Cilium or Calico.'),
        planes: list('Planes it covers for this resource.', { type: 'string' }),
        chosen: bool('Whether its objects are written for this resource.'),
        reason: str('Why it was chosen or not (served by the cluster, named in spec.backends, plane not asked for).'),
      },
      { required: ['name', 'chosen', 'reason'] },
    ),
  ),
  applied: obj(
    "The operator's ledger of what it last wrote. Make-before-break compares against it, never against live objects, which others can edit.",
    {
      prefixes: list('Prefixes the operator last wrote, all families.', { type: 'string', maxLength: 43 }),
      hosts: list('Host names the operator last allowed (FQDN rules).', { type: 'string', maxLength: 253 }),
      tags: list('Service tags the operator last allowed in Azure-side rules.', { type: 'string', maxLength: 128 }),
      azure: obj(
        'Azure objects that hold rules of this resource. Azure rules carry no owner reference, so this is how the operator knows what is its own: only these are updated or removed.',
        {
          networkSecurityGroups: list('Network security groups holding rules of this resource.', {
            type: 'string',
            maxLength: 1024,
          }),
          ruleCollectionGroups: list('Firewall policy rule collection groups this resource created (ARM ids).', {
            type: 'string',
            maxLength: 1024,
          }),
          registryIpRules: list(
            "Registry IP rules this resource added. Rules that were there before are never counted as the operator's.",
            obj(
              'The rules added to one registry.',
              {
                registryId: str('ARM id of the registry.', { maxLength: 1024 }),
                values: list('IP rule values (IPv4 CIDRs).', { type: 'string', maxLength: 43 }),
              },
              { required: ['registryId'] },
            ),
          ),
        },
      ),
    },
  ),
  azure: obj('The Azure-side targets of spec.azure and what the last reconcile did to each.', {
    targets: list(
      'One entry per Azure object the resource writes to.',
      obj(
        'An Azure target.',
        {
          kind: enumOf('What it is.', ['NetworkSecurityGroup', 'FirewallPolicy', 'RegistryFirewall']),
          resourceId: str('ARM id of the object written (NSG, rule collection group, registry).', { maxLength: 1024 }),
          state: enumOf(
            'Enforced: up to date. Audited: computed only (Audit mode). Pending: a write is still running in Azure. Failed: the last write failed and what was there stays.',
            ['Enforced', 'Audited', 'Pending', 'Failed'],
          ),
          reason: str('Why, in one CamelCase word.', { maxLength: 128 }),
          message: str('What was done or what failed.', { maxLength: 4096 }),
        },
        { required: ['kind', 'resourceId', 'state'] },
      ),
    ),
    retiringTags: retiringList(
      'Service tags no longer desired (a replica dropped) that stay allowed in Azure-side rules until their grace period ends.',
      'tag',
      'The service tag.',
    ),
    retiringEgressIPs: retiringList(
      'Cluster egress addresses no longer found (an outbound IP replaced) that stay in the registry IP rules until their grace period ends.',
      'address',
      'The IPv4 address or prefix.',
      { maxLength: 43 },
    ),
  }),
});
