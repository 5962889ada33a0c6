// The batch encoding (wit/ENCODING.md), implemented once for JavaScript.
// Records read from a batch hold subarrays of it (no copies). Error
// messages are the host's word for word (wit/test-vectors checks it).

const VERSION = 1;
const KEY = 0x01, VALUE = 0x02, TIMESTAMP = 0x04, PARTITION = 0x08, TOPIC = 0x10;
const KNOWN_FLAGS = 0x1f;
const HEADER_LEN = 5;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export class DecodeError extends Error {}

/** Reads the records of `batch` (a Uint8Array); throws DecodeError at the first rule broken. */
export function* readBatch(batch) {
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const len = batch.length;
  if (len === 0) {
    throw new DecodeError('batch header at byte 0: truncated batch header: needs 5 bytes, 0 left');
  }
  if (batch[0] !== VERSION) {
    throw new DecodeError(`batch header at byte 0: encoding version ${batch[0]} is not supported (expected ${VERSION})`);
  }
  if (len < HEADER_LEN) {
    throw new DecodeError(`batch header at byte 0: truncated batch header: needs 5 bytes, ${len} left`);
  }
  const count = view.getUint32(1, true);
  let pos = HEADER_LEN;
  let record = 0;
  const fail = (message, at = pos) => new DecodeError(`record ${record} at byte ${at}: ${message}`);
  const take = (n, field) => {
    const left = len - pos;
    if (n > left) throw fail(`truncated ${field}: needs ${n} bytes, ${left} left`);
    const start = pos;
    pos += n;
    return start;
  };
  const bytes32 = (field) => {
    const n = view.getUint32(take(4, field), true);
    const start = take(n, field);
    return batch.subarray(start, start + n);
  };
  const text16 = (lenField, field) => {
    const n = view.getUint16(take(2, lenField), true);
    const at = pos;
    const start = take(n, field);
    try {
      return utf8.decode(batch.subarray(start, start + n));
    } catch {
      throw fail(`${field} is not valid UTF-8`, at);
    }
  };
  for (; record < count; record++) {
    const start = pos;
    const flags = batch[take(1, 'flags')];
    if (flags & ~KNOWN_FLAGS) {
      throw fail(`reserved flag bits set (flags 0x${flags.toString(16).padStart(2, '0')})`);
    }
    const key = flags & KEY ? bytes32('key') : null;
    const value = flags & VALUE ? bytes32('value') : null;
    const timestamp = flags & TIMESTAMP ? view.getBigInt64(take(8, 'timestamp'), true) : null;
    const partition = flags & PARTITION ? view.getInt32(take(4, 'partition'), true) : null;
    const topic = flags & TOPIC ? text16('topic length', 'topic') : null;
    const headerCount = view.getUint16(take(2, 'header count'), true);
    const headers = [];
    for (let i = 0; i < headerCount; i++) {
      const name = text16('header name length', 'header name');
      headers.push([name, bytes32('header value')]);
    }
    yield { key, value, timestamp, partition, topic, headers, encoded: batch.subarray(start, pos) };
  }
  const left = len - pos;
  if (left) {
    record = count === 0 ? 0 : count - 1;
    throw fail(`${left} bytes follow the last record`);
  }
}

/** The value of a record's first header named `name`, or null. */
export function header(record, name) {
  const h = record.headers.find(([n]) => n === name);
  return h ? h[1] : null;
}

const toBytes = (v) => (typeof v === 'string' ? encoder.encode(v) : v);

/** Builds a batch. A source's writer carries the poll's budget: stop once `isFull()`. */
export class BatchWriter {
  constructor(maxRecords = 0xffffffff, maxBytes = Number.MAX_SAFE_INTEGER, capacity = 256) {
    this.buf = new Uint8Array(Math.max(capacity, HEADER_LEN));
    this.view = new DataView(this.buf.buffer);
    this.len = HEADER_LEN;
    this.buf[0] = VERSION;
    this.count = 0;
    this.lastStart = HEADER_LEN;
    this.maxRecords = maxRecords;
    this.maxBytes = maxBytes;
  }

  reserve(n) {
    if (this.buf.length - this.len >= n) return;
    let cap = this.buf.length * 2;
    while (cap - this.len < n) cap *= 2;
    const buf = new Uint8Array(cap);
    buf.set(this.buf.subarray(0, this.len));
    this.buf = buf;
    this.view = new DataView(buf.buffer);
  }

  isFull() {
    return this.count >= this.maxRecords || (this.count > 0 && this.len >= this.maxBytes);
  }

  withinBudget() {
    return this.count <= this.maxRecords && (this.count <= 1 || this.lastStart < this.maxBytes);
  }

  put(bytes) {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  u16(v) { this.reserve(2); this.view.setUint16(this.len, v, true); this.len += 2; }
  u32(v) { this.reserve(4); this.view.setUint32(this.len, v, true); this.len += 4; }

  /** Appends a record: key/value are Uint8Array, string (UTF-8) or null; timestamp a BigInt or number. */
  record({ key = null, value = null, timestamp = null, partition = null, topic = null, headers = [] } = {}) {
    this.lastStart = this.len;
    const flags = (key !== null ? KEY : 0) | (value !== null ? VALUE : 0)
      | (timestamp !== null ? TIMESTAMP : 0) | (partition !== null ? PARTITION : 0)
      | (topic !== null ? TOPIC : 0);
    this.reserve(1);
    this.buf[this.len++] = flags;
    for (const field of [key, value]) {
      if (field === null) continue;
      const b = toBytes(field);
      this.u32(b.length);
      this.put(b);
    }
    if (timestamp !== null) {
      this.reserve(8);
      this.view.setBigInt64(this.len, BigInt(timestamp), true);
      this.len += 8;
    }
    if (partition !== null) {
      this.reserve(4);
      this.view.setInt32(this.len, partition, true);
      this.len += 4;
    }
    if (topic !== null) {
      const t = encoder.encode(topic);
      this.u16(t.length);
      this.put(t);
    }
    this.u16(headers.length);
    for (const [name, v] of headers) {
      const n = encoder.encode(name);
      const b = toBytes(v);
      this.u16(n.length);
      this.put(n);
      this.u32(b.length);
      this.put(b);
    }
    this.count++;
  }

  /** Appends a record read from another batch, as it is (one copy). */
  push(record) {
    this.lastStart = this.len;
    this.put(record.encoded);
    this.count++;
  }

  /** The encoded batch. */
  finish() {
    this.view.setUint32(1, this.count, true);
    return this.buf.subarray(0, this.len);
  }
}
