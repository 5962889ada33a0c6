// __NAME__: a streamplug transform. This example drops records whose value
// contains `drop_if`, adds a `tagged-by` header to the others, and passes
// tombstones through. The SDK is plugins/sdk-js of the streamplug checkout.
import { transform } from 'streamplug';

let dropIf = null;
let tag = '__NAME__';
const decoder = new TextDecoder();

export const { setup, process } = transform({
  setup(config) {
    config.denyUnknown(['drop_if', 'tag']); // a typo is an error
    dropIf = config.get('drop_if');
    tag = config.get('tag', '__NAME__');
  },
  process(records, out) {
    for (const r of records) {
      if (r.value === null) {
        out.push(r);
        continue;
      }
      if (dropIf !== null && decoder.decode(r.value).includes(dropIf)) continue;
      out.record({ ...r, headers: [...r.headers, ['tagged-by', tag]] });
    }
  },
});
