// Test plugin: a transform that never reads its batch and returns an empty
// one, so that what one instance's memory does across calls is the
// bindings' and the engine's alone (tests/src/bin/lang-memory.rs).
import { transform } from 'streamplug';

export const { setup, process } = transform({
  setup(config) {
    config.denyUnknown([]);
  },
  process() {},
});
