// Several --service-tags sources on a real API server: ARM (the fake, through the real SDK) beside a weekly file,
// merged per tag by change number, read once per refresh for the whole operator.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect } from 'vitest';
import { coverStrings } from '../../src/addresses/cidr.js';
import type { Operator, OperatorOptions } from '../../src/controller/operator.js';
import { LastGoodFeedStore } from '../../src/controller/feeds.js';
import type { KubeClient } from '../../src/kube/client.js';
import { acrAccess, cidrsOf, condition, getAcrAccess, npRef, waitReady } from '../support/acraccess.js';
import { clientFor, eventually, test } from '../support/cluster.js';
import { deriveFeed, realFeed, tagPrefixes, type FeedDoc } from '../support/feeds.js';
import { bindOperatorNamespace, installOperatorPrerequisites, startTestOperator } from '../support/operator.js';
import { SUBSCRIPTION, serviceTagsBody, startFakeArm, type FakeArmHarness } from '../support/arm/index.js';

const base = realFeed();
const ACR = 'AzureContainerRegistry.EastUS';
const STORAGE = 'Storage.EastUS';
const NAMES = ['one', 'two', 'three'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let arm: FakeArmHarness;
let dir: string;
let operator: Operator | undefined;
beforeAll(async () => {
  await installOperatorPrerequisites(clientFor('admin'));
  arm = await startFakeArm();
  dir = await mkdtemp(path.join(os.tmpdir(), 'combined-tags-'));
});
afterEach(async () => {
  arm.fake.clearFaults();
  await operator?.stop();
  operator = undefined;
});
afterAll(async () => {
  await arm?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function writeFeed(name: string, doc: FeedDoc): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify(doc));
  return file;
}

async function start(namespace: string, overrides: Partial<OperatorOptions>): Promise<Operator> {
  await bindOperatorNamespace(clientFor('admin'), namespace);
  return startTestOperator(namespace, { azure: arm.settings(), ...overrides });
}

/** resourceVersions of the policies and of the persisted last good feed: unchanged means nothing was written. */
async function versions(admin: KubeClient, namespace: string): Promise<(string | undefined)[]> {
  const store = new LastGoodFeedStore(admin, namespace);
  const cm = await admin.get({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace,
    name: store.nameFor('AzurePublicCloud'),
  });
  const nps = await Promise.all(NAMES.map((n) => admin.get(npRef(namespace, `acr-access-${n}`))));
  return [cm?.metadata.resourceVersion, ...nps.map((np) => np?.metadata.resourceVersion)];
}

describe('--service-tags arm:<location> beside file:<path>', () => {
  test(
    "per tag the higher change number wins (ARM's for one tag, the file's for the other); ARM is read once per refresh for several resources; unchanged writes nothing",
    { timeout: 240_000 },
    async ({ namespace, admin }) => {
      // The file is the newer feed overall and has the newer Storage.EastUS; ARM lags it but has a newer ACR tag.
      const fileDoc = deriveFeed(base, base.changeNumber + 4, { add: { [STORAGE]: ['20.150.250.0/24'] } });
      const armDoc = deriveFeed(base, base.changeNumber + 2, { add: { [ACR]: ['20.62.250.0/24'] } });
      const file = await writeFeed(`${namespace}.json`, fileDoc);
      arm.fake.putServiceTags(SUBSCRIPTION, 'northeurope', serviceTagsBody(armDoc, SUBSCRIPTION));
      const calls = () => arm.fake.count(/locations\/northeurope\/serviceTags$/i, 200);

      operator = await start(namespace, {
        serviceTags: ['arm:northeurope', `file:${file}`],
        refreshIntervalMs: 1000,
        resyncMs: 1500,
      });
      for (const n of NAMES) await admin.apply(acrAccess(namespace, n));
      const ready = [];
      for (const n of NAMES) ready.push(await waitReady(admin, namespace, n, 'True', 90_000));

      const expected = coverStrings([...tagPrefixes(armDoc, ACR), ...tagPrefixes(fileDoc, STORAGE)]);
      expect(expected).toContain('20.62.250.0/24');
      expect(expected).toContain('20.150.250.0/24');
      for (const n of NAMES) expect(cidrsOf(await admin.get(npRef(namespace, `acr-access-${n}`))), n).toEqual(expected);
      expect(ready[0]!.status?.addresses).toMatchObject({
        serviceTagsChangeNumber: fileDoc.changeNumber,
        feedSource: `arm:northeurope+file:${file}`,
      });
      expect(condition(ready[0], 'Degraded')?.status).not.toBe('True');

      // Resources are reconciled again (resync) and the feed refreshed every second: ARM is called per refresh,
      // not per resource or reconcile, and with nothing new nothing is written.
      const before = await versions(admin, namespace);
      expect(before.every((v) => v !== undefined)).toBe(true);
      const [c0, t0] = [calls(), Date.now()];
      await sleep(6000);
      const [c1, elapsed] = [calls(), Date.now() - t0];
      expect(c1 - c0).toBeGreaterThanOrEqual(2);
      expect(c1 - c0).toBeLessThanOrEqual(Math.floor(elapsed / 1000) + 1);
      expect(await versions(admin, namespace)).toEqual(before);

      // ARM moves on: its newer tag is taken by every resource at the next refresh.
      const armNext = deriveFeed(armDoc, fileDoc.changeNumber + 1, { add: { [ACR]: ['20.62.251.0/24'] } });
      arm.fake.putServiceTags(SUBSCRIPTION, 'northeurope', serviceTagsBody(armNext, SUBSCRIPTION));
      const next = coverStrings([...tagPrefixes(armNext, ACR), ...tagPrefixes(fileDoc, STORAGE)]);
      for (const n of NAMES)
        await eventually(
          `${n} follows ARM's newer tag`,
          async () => {
            const np = await admin.get(npRef(namespace, `acr-access-${n}`));
            return cidrsOf(np).join() === next.join();
          },
          60_000,
        );
      const moved = await getAcrAccess(admin, namespace, 'one');
      expect(moved?.status?.addresses?.serviceTagsChangeNumber).toBe(armNext.changeNumber);
    },
  );

  test(
    'ARM failing: the feed in use stays and nothing is written; the file alone keeps the operator going',
    { timeout: 240_000 },
    async ({ namespace, admin }) => {
      const fileDoc = deriveFeed(base, base.changeNumber + 4, { add: { [STORAGE]: ['20.150.250.0/24'] } });
      const armDoc = deriveFeed(base, base.changeNumber + 2, { add: { [ACR]: ['20.62.250.0/24'] } });
      const file = await writeFeed(`${namespace}.json`, fileDoc);
      arm.fake.putServiceTags(SUBSCRIPTION, 'swedencentral', serviceTagsBody(armDoc, SUBSCRIPTION));
      const tagsPath = /locations\/swedencentral\/serviceTags$/i;

      operator = await start(namespace, {
        serviceTags: [`file:${file}`, 'arm:swedencentral'],
        refreshIntervalMs: 1000,
      });
      for (const n of NAMES) await admin.apply(acrAccess(namespace, n));
      for (const n of NAMES) await waitReady(admin, namespace, n, 'True', 90_000);
      const expected = coverStrings([...tagPrefixes(armDoc, ACR), ...tagPrefixes(fileDoc, STORAGE)]);
      expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-one')))).toEqual(expected);

      const before = await versions(admin, namespace);
      arm.fake.inject({ path: tagsPath, status: 500, times: 100_000 });
      const failed = () => arm.fake.count(tagsPath, 500);
      await eventually('ARM refused a few refreshes', async () => failed() >= 6, 60_000);
      expect(await versions(admin, namespace)).toEqual(before);
      expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-one')))).toEqual(expected);

      // A resource created during the outage gets the feed in use.
      await admin.apply(acrAccess(namespace, 'late'));
      await waitReady(admin, namespace, 'late', 'True', 90_000);
      expect(cidrsOf(await admin.get(npRef(namespace, 'acr-access-late')))).toEqual(expected);
    },
  );
});
