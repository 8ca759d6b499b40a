/**
 * Splits an ordered list into consecutive chunks whose serialized size stays within a byte budget, so no single
 * Kubernetes object (or Azure rule) grows past what the API accepts. Order is kept, so the same input always gives
 * the same chunks.
 */
export function shardByBytes<T>(items: readonly T[], sizeOf: (item: T) => number, budgetBytes: number): T[][] {
  if (budgetBytes <= 0) throw new RangeError('the byte budget must be positive');
  const shards: T[][] = [];
  let current: T[] = [];
  let used = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (size > budgetBytes)
      throw new RangeError(`one item needs ${size} bytes, more than the budget of ${budgetBytes}`);
    if (used + size > budgetBytes && current.length > 0) {
      shards.push(current);
      current = [];
      used = 0;
    }
    current.push(item);
    used += size;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

/** Bytes a string takes inside a JSON document (quotes and a separator included). */
export function jsonStringBytes(s: string): number {
  return Buffer.byteLength(JSON.stringify(s)) + 1;
}
