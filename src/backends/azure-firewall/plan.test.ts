import { describe, expect, it } from 'vitest';
import { nodeIntent } from '../../../test/support/arm/intents.js';
import { defaultRuleCollectionGroupName, planRuleCollectionGroup } from './plan.js';
import { canonical } from './sync.js';

const POLICY = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/hub';

describe('planRuleCollectionGroup', () => {
  it('allows HTTPS 443 to exactly the intent hosts in one application rule collection', () => {
    const plan = planRuleCollectionGroup(nodeIntent(['EastUS']), { resourceId: POLICY, priority: 400 }, [
      '10.240.0.0/16',
    ]);
    expect(plan.name).toBe(defaultRuleCollectionGroupName(nodeIntent().owner));
    expect(plan.group.priority).toBe(400);
    expect(plan.group.ruleCollections).toEqual([
      {
        ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
        name: 'acr-access-application',
        priority: 200,
        action: { type: 'Allow' },
        rules: [
          {
            ruleType: 'ApplicationRule',
            name: 'registry-hosts',
            description: 'acr-access-operator: ClusterAcrAccess/contoso',
            sourceAddresses: ['10.240.0.0/16'],
            protocols: [{ protocolType: 'Https', port: 443 }],
            targetFqdns: ['azurecr.io', 'contoso.azurecr.io', 'contoso.eastus.data.azurecr.io'],
          },
        ],
      },
    ]);
  });

  it('adds the MCR hosts when the intent has them, and the service tags as a network rule when asked', () => {
    const plan = planRuleCollectionGroup(
      nodeIntent(['EastUS'], { mcr: true }),
      { resourceId: POLICY, ruleCollectionGroup: 'acr', priority: 400 },
      undefined,
      { networkRules: true },
    );
    expect(plan.name).toBe('acr');
    const [network, app] = plan.group.ruleCollections as unknown as {
      name: string;
      rules: Record<string, unknown>[];
    }[];
    expect(network!.name).toBe('acr-access-network');
    expect(network!.rules[0]).toMatchObject({
      ruleType: 'NetworkRule',
      ipProtocols: ['TCP'],
      sourceAddresses: ['*'],
      destinationPorts: ['443'],
      destinationAddresses: [
        'AzureContainerRegistry.EastUS',
        'AzureFrontDoor.FirstParty',
        'MicrosoftContainerRegistry',
        'Storage.EastUS',
      ],
    });
    expect(app!.rules[0]!.targetFqdns).toContain('*.data.mcr.microsoft.com');
    expect(app!.rules[0]!.targetFqdns).toContain('mcr.microsoft.com');
  });

  it('is deterministic, and refuses a priority ARM does not accept', () => {
    const a = planRuleCollectionGroup(nodeIntent(['WestEurope', 'EastUS']), { resourceId: POLICY });
    const b = planRuleCollectionGroup(nodeIntent(['EastUS', 'WestEurope']), { resourceId: POLICY });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(() => planRuleCollectionGroup(nodeIntent(), { resourceId: POLICY, priority: 99 })).toThrow(RangeError);
  });
});

describe('canonical', () => {
  const plan = planRuleCollectionGroup(nodeIntent(['EastUS']), { resourceId: POLICY });

  it('equals a live group carrying read-only fields, ARM-filled empties and another order', () => {
    const [app] = plan.group.ruleCollections as unknown as { rules: Record<string, unknown>[] }[];
    const rule = app!.rules[0]!;
    const live = {
      ...plan.group,
      etag: 'W/"x"',
      size: '0.002 MB',
      provisioningState: 'Succeeded',
      ruleCollections: [
        {
          ...app,
          rules: [
            { ...rule, targetFqdns: [...(rule.targetFqdns as string[])].reverse(), fqdnTags: [], terminateTLS: false },
          ],
        },
      ],
    };
    expect(canonical(live as unknown as typeof plan.group)).toBe(canonical(plan.group));
  });

  it('differs when a host, a port or an added field differs', () => {
    const edit = (f: (r: Record<string, unknown>) => void) => {
      const g = structuredClone(plan.group);
      f((g.ruleCollections as unknown as { rules: Record<string, unknown>[] }[])[0]!.rules[0]!);
      return canonical(g);
    };
    const base = canonical(plan.group);
    expect(edit((r) => (r.targetFqdns = ['*']))).not.toBe(base);
    expect(edit((r) => (r.protocols = [{ protocolType: 'Http', port: 80 }]))).not.toBe(base);
    expect(edit((r) => (r.fqdnTags = ['AzureKubernetesService']))).not.toBe(base);
  });
});
