// __NAME__: a streamplug source. This example makes `count` JSON events and
// then finishes; replace `poll` with reading from where your records come
// from. The SDK is plugins/sdk-js of the streamplug checkout.
import { FINISHED, READY, source } from 'streamplug';

let next = 0;
let count = 10;
let kind = 'event';

export const { setup, pollRecords, onDelivery } = source({
  // `resume` is the checkpoint to continue after (null on a fresh start).
  setup(config, resume) {
    config.denyUnknown(['count', 'kind']); // a typo is an error
    count = config.int('count', 10);
    kind = config.get('kind', 'event');
    next = resume ? Number(new DataView(resume.buffer, resume.byteOffset, 8).getBigUint64(0, true)) : 0;
  },
  poll(out) {
    while (next < count && !out.isFull()) {
      const seq = String(next);
      out.record({ key: `key-${next % 4}`, value: `{"seq":${seq},"kind":"${kind}"}`, headers: [['seq', seq]] });
      next += 1;
    }
    return next >= count ? FINISHED : READY;
  },
  // Where the source has got to: handed to the instance that takes over.
  checkpoint() {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(next), true);
    return b;
  },
});
