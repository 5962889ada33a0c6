// Write streamplug plugins in JavaScript (built with componentize-js).
//
// A plugin module exports the functions of its world, made by this SDK:
//
//   import { transform, PluginError } from 'streamplug';
//   export const { setup, process } = transform({
//     setup(config) { config.denyUnknown([]); },
//     process(records, out) { for (const r of records) out.push(r); },
//   });
//
// Throw PluginError for a recoverable error: the call returns it as `err`
// (from setup it stops the plugin for good). Any other exception traps the
// instance, and the host restarts the plugin, as after a Rust panic.

import { log as hostLog } from 'streamplug:plugin/log@0.2.0';
import { BatchWriter, readBatch } from './codec.js';
import { Config, PluginError } from './config.js';

export { BatchWriter, DecodeError, header, readBatch } from './codec.js';
export { Config, PluginError } from './config.js';

/** Logs through the host: level is 'trace', 'debug', 'info', 'warn' or 'error'. */
export function log(level, message) {
  hostLog(level, String(message));
}

export const READY = { status: 'ready' };
export const FINISHED = { status: 'finished' };
/** Nothing more now: poll again in about `ms` milliseconds. */
export const idle = (ms = 0) => ({ status: 'idle', ms });

// componentize-js returns a thrown value with a `payload` as the call's
// `err`; anything else it throws on, which traps.
function recoverable(f) {
  try {
    return f();
  } catch (e) {
    if (e instanceof PluginError) throw { payload: e.message };
    throw e;
  }
}

function notReady(name) {
  return { payload: `streamplug JavaScript SDK: ${name} called before a successful setup` };
}

/** `plugin`: { setup(config), process(records, out) }. */
export function transform(plugin) {
  let ready = false;
  return {
    setup(config) {
      ready = false;
      recoverable(() => plugin.setup(new Config(config)));
      ready = true;
    },
    process(batch) {
      if (!ready) throw notReady('process');
      const out = new BatchWriter(undefined, undefined, batch.length);
      recoverable(() => plugin.process(readBatch(batch), out));
      return out.finish();
    },
  };
}

/** `plugin`: { setup(config), partition(topic, partitionCount, record) -> number }. */
export function partitioner(plugin) {
  let ready = false;
  return {
    setup(config) {
      ready = false;
      recoverable(() => plugin.setup(new Config(config)));
      ready = true;
    },
    partition(topic, partitionCount, batch) {
      if (!ready) throw notReady('partition');
      return recoverable(() => {
        const out = [];
        for (const r of readBatch(batch)) out.push(plugin.partition(topic, partitionCount, r));
        return new Uint32Array(out);
      });
    },
  };
}

/**
 * `plugin`: { setup(config, resume), poll(out) -> READY | idle(ms) | FINISHED,
 * checkpoint() -> Uint8Array | null, delivered({ committed, failed }) }.
 */
export function source(plugin) {
  let ready = false;
  let finished = false;
  return {
    setup(config, resumeFrom) {
      ready = false;
      finished = false;
      recoverable(() => plugin.setup(new Config(config), resumeFrom ?? null));
      ready = true;
    },
    pollRecords(maxRecords, maxBytes) {
      if (!ready) throw notReady('poll-records');
      if (finished) return { tag: 'finished' };
      const budget = maxBytes > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(maxBytes);
      const out = new BatchWriter(maxRecords, budget);
      const status = recoverable(() => plugin.poll(out)) ?? READY;
      finished = status.status === 'finished';
      if (out.count === 0) {
        return finished ? { tag: 'finished' } : { tag: 'idle', val: status.ms ?? 0 };
      }
      if (out.count > maxRecords) {
        throw { payload: `poll wrote ${out.count} records, more than the ${maxRecords} asked for` };
      }
      if (!out.withinBudget()) {
        throw {
          payload: `poll wrote ${out.len} bytes in ${out.count} records, over the budget of ${maxBytes} bytes by more than one record: stop writing once \`out.isFull()\``,
        };
      }
      const checkpoint = plugin.checkpoint ? plugin.checkpoint() : null;
      return { tag: 'records', val: { records: out.finish(), checkpoint: checkpoint ?? undefined } };
    },
    onDelivery(report) {
      if (ready && plugin.delivered) {
        plugin.delivered({ committed: report.committed ?? null, failed: report.failed });
      }
    },
  };
}
