// __NAME__: a streamplug partitioner. This example places records by a hash
// of their key (FNV-1a: the same key always goes to the same partition), and
// records without a key round-robin.
import { PluginError, partitioner } from 'streamplug';

let next = 0;

function fnv1a(bytes) {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}

export const { setup, partition } = partitioner({
  setup(config) {
    config.denyUnknown([]); // no settings: any key is a typo
    next = 0;
  },
  partition(topic, partitionCount, record) {
    if (partitionCount === 0) throw new PluginError('a topic without partitions');
    if (record.key !== null) return Number(fnv1a(record.key) % BigInt(partitionCount));
    next += 1;
    return (next - 1) % partitionCount;
  },
});
