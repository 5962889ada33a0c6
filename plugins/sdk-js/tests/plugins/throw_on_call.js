// Test plugin: a pass-through transform that throws a TypeError (not a
// PluginError) on the `n`th process call of each instance (config `n`,
// default 3): the call traps, and the host restarts the plugin and gives the
// new instance the same batch.
import { log, transform } from 'streamplug';

let n = 3;
let calls = 0;

export const { setup, process } = transform({
  setup(config) {
    config.denyUnknown(['n']);
    n = config.int('n', 3);
    calls = 0;
  },
  process(records, out) {
    calls += 1;
    if (calls === n) {
      log('warn', `throw-on-call: call ${calls}, throwing as configured`);
      throw new TypeError('throw-on-call: as configured');
    }
    for (const r of records) out.push(r);
  },
});
