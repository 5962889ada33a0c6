// route: reshapes JSON values and routes each record by one of its fields.
//
// config:
//   route_field  (required) the top-level field whose value picks the topic
//   routes       `value=topic,...`: where records with that value go (each
//                topic must be in the plugin's `topics`)
//   unrouted     `keep` (default: the pipeline's topic) or `drop`
//   fields       `a,b,...`: the fields kept in the new value, in this order
//                (default: all, as they were)
//   key_field    a field whose value (as text) becomes the record's key
// Every record passed on gets a header `routed-by` with the field's value.
// A value that is not a JSON object is an error naming the record.
import { PluginError, header, log, transform } from 'streamplug';

let routeField;
let routes;
let dropUnrouted;
let fields;
let keyField;
const decoder = new TextDecoder();

function parseRoutes(text) {
  const map = new Map();
  for (const pair of text.split(',').filter((p) => p.trim() !== '')) {
    const at = pair.indexOf('=');
    if (at <= 0 || at === pair.length - 1) {
      throw new PluginError(`config \`routes\`: expected value=topic pairs (got "${pair}")`);
    }
    map.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  }
  return map;
}

export const { setup, process } = transform({
  setup(config) {
    config.denyUnknown(['route_field', 'routes', 'unrouted', 'fields', 'key_field']);
    routeField = config.require('route_field');
    routes = parseRoutes(config.get('routes', ''));
    const unrouted = config.get('unrouted', 'keep');
    if (unrouted !== 'keep' && unrouted !== 'drop') {
      throw new PluginError(`config \`unrouted\`: \`keep\` or \`drop\` (got "${unrouted}")`);
    }
    dropUnrouted = unrouted === 'drop';
    fields = config.get('fields') ? config.get('fields').split(',').map((f) => f.trim()) : null;
    keyField = config.get('key_field');
    log('info', `routing by \`${routeField}\` to ${routes.size} topics`);
  },

  process(records, out) {
    for (const r of records) {
      let doc;
      try {
        doc = JSON.parse(decoder.decode(r.value ?? new Uint8Array()));
      } catch (e) {
        const seq = header(r, 'seq');
        throw new PluginError(`a value is not JSON${seq ? ` (seq ${decoder.decode(seq)})` : ''}: ${e.message}`);
      }
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
        throw new PluginError('a value is not a JSON object');
      }
      const by = doc[routeField] === undefined ? '' : String(doc[routeField]);
      const topic = routes.get(by) ?? null;
      if (topic === null && dropUnrouted) continue;
      let value = doc;
      if (fields) {
        value = {};
        for (const f of fields) if (f in doc) value[f] = doc[f];
      }
      const key = keyField && doc[keyField] !== undefined ? String(doc[keyField]) : r.key;
      out.record({
        key,
        value: JSON.stringify(value),
        timestamp: r.timestamp,
        partition: r.partition,
        topic: topic ?? r.topic,
        headers: [...r.headers, ['routed-by', by]],
      });
    }
  },
});
