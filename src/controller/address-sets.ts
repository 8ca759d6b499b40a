import { buildAddressSet, type AddressSet } from '../addresses/address-set.js';

/**
 * Every resource naming the same registry and regions, sources and families gets the same address set from one
 * feed: it is built once per feed and shared (frozen) rather than rebuilt per resource, which was a third of all
 * allocation in a full sync. Not for DNS answers, which differ per resolution.
 */
export class AddressSetCache {
  private readonly byFeed = new WeakMap<object, Map<string, AddressSet>>();

  readonly get = (input: Parameters<typeof buildAddressSet>[0]): AddressSet => {
    let sets = this.byFeed.get(input.feed);
    if (!sets) this.byFeed.set(input.feed, (sets = new Map<string, AddressSet>()));
    const { feed: _, ...rest } = input;
    const key = JSON.stringify(rest);
    let set = sets.get(key);
    if (!set) {
      if (sets.size >= 1024) sets.clear();
      sets.set(key, (set = deepFreeze(buildAddressSet(input))));
    }
    return set;
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
