// Unit tests of the JavaScript SDK, run natively with node by test.sh: the
// encoding against wit/ENCODING.md's example and the Rust codec's shared
// vectors (wit/test-vectors), and config access.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchWriter, DecodeError, header, readBatch } from '../codec.js';
import { Config, PluginError } from '../config.js';

const vectors = join(dirname(fileURLToPath(import.meta.url)), '../../../wit/test-vectors');
const hex = (b) => (b === null ? 'null' : Buffer.from(b).toString('hex'));
const text = (s) => Buffer.from(s, 'utf-8');

function describe(r) {
  const headers = r.headers.map(([n, v]) => `${hex(text(n))}=${hex(v)}`).join(',');
  return `key=${hex(r.key)} value=${hex(r.value)} timestamp=${r.timestamp ?? 'none'} `
    + `partition=${r.partition ?? 'none'} topic=${r.topic === null ? 'null' : hex(text(r.topic))} headers=[${headers}]\n`;
}

const example = new Uint8Array([0x01, 0x01, 0, 0, 0, 0x07, 0x01, 0, 0, 0, 0x6b, 0x02, 0, 0, 0, 0x76,
  0x31, 0xe8, 0x03, 0, 0, 0, 0, 0, 0, 0x01, 0, 0x03, 0, 0x73, 0x65, 0x71, 0x01, 0, 0, 0, 0x37]);

// wit/ENCODING.md's example
{
  const w = new BatchWriter(undefined, undefined, 8);
  w.record({ key: 'k', value: 'v1', timestamp: 1000n, headers: [['seq', '7']] });
  assert.deepEqual(w.finish(), example);
  const [r, ...rest] = [...readBatch(example)];
  assert.equal(rest.length, 0);
  assert.equal(hex(r.key), '6b');
  assert.equal(r.timestamp, 1000n);
  assert.equal(hex(header(r, 'seq')), '37');
  assert.equal(r.value.buffer, example.buffer, 'records are not copied');
}

// shared vectors
let valid = 0;
let invalid = 0;
for (const file of readdirSync(vectors).filter((f) => f.endsWith('.bin')).sort()) {
  const name = file.slice(0, -4);
  const data = new Uint8Array(readFileSync(join(vectors, file)));
  if (name.startsWith('bad-')) {
    invalid++;
    const expected = readFileSync(join(vectors, `${name}.err`), 'utf-8').trimEnd();
    assert.throws(() => [...readBatch(data)], (e) => e instanceof DecodeError && e.message === expected, name);
    continue;
  }
  valid++;
  const records = [...readBatch(data)];
  assert.equal(records.map(describe).join(''), readFileSync(join(vectors, `${name}.txt`), 'utf-8'), name);
  const byFields = new BatchWriter();
  const byPush = new BatchWriter();
  for (const r of records) {
    byFields.record(r);
    byPush.push(r);
  }
  assert.deepEqual(byFields.finish(), data, `${name} re-encoded from fields`);
  assert.deepEqual(byPush.finish(), data, `${name} re-encoded by push`);
}
assert.ok(valid >= 4 && invalid >= 5, `too few vectors: ${valid} valid, ${invalid} invalid`);

// budget
{
  const w = new BatchWriter(2, 20);
  assert.equal(w.isFull(), false);
  w.record({ value: 'x'.repeat(30) });
  assert.equal(w.isFull(), true);
}

// config
{
  const c = new Config([['count', '42'], ['on', 'true'], ['name', 'x']]);
  assert.equal(c.int('count'), 42);
  assert.equal(c.int('missing', 7), 7);
  assert.equal(c.bool('on'), true);
  assert.throws(() => c.int('name'), (e) => e instanceof PluginError && e.message === 'config `name`: not an integer (got "x")');
  assert.throws(() => c.require('topic'), { message: 'config `topic` is required' });
  assert.throws(() => c.denyUnknown(['count', 'on']), { message: 'config `name` is not a known setting (known: count, on)' });
  c.denyUnknown(['count', 'on', 'name']);
}

console.log(`sdk-js unit tests: ok (${valid} valid and ${invalid} invalid vectors)`);
