// The plugin's `config` table with typed access (the Rust SDK's messages).

export class PluginError extends Error {}

export class Config {
  constructor(entries) {
    this.entries = entries;
  }

  get(key, fallback = null) {
    const e = this.entries.find(([k]) => k === key);
    return e ? e[1] : fallback;
  }

  require(key) {
    const v = this.get(key);
    if (v === null) throw new PluginError(`config \`${key}\` is required`);
    return v;
  }

  int(key, fallback = 0) {
    const v = this.get(key);
    if (v === null) return fallback;
    if (!/^[+-]?\d+$/.test(v)) throw new PluginError(`config \`${key}\`: not an integer (got "${v}")`);
    return Number(v);
  }

  bool(key, fallback = false) {
    const v = this.get(key);
    if (v === null) return fallback;
    if (v !== 'true' && v !== 'false') {
      throw new PluginError(`config \`${key}\`: not \`true\` or \`false\` (got "${v}")`);
    }
    return v === 'true';
  }

  /** Throws on the first key not in `known`: catches typos. */
  denyUnknown(known) {
    for (const [k] of this.entries) {
      if (!known.includes(k)) {
        throw new PluginError(`config \`${k}\` is not a known setting (known: ${known.join(', ')})`);
      }
    }
  }
}
