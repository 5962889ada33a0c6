"""The plugin's `config` table, with typed access (the Rust SDK's messages)."""

from .errors import Error


class Config:
    def __init__(self, entries):
        self._entries = list(entries)

    def get(self, key, default=None):
        for k, v in self._entries:
            if k == key:
                return v
        return default

    def __contains__(self, key):
        return self.get(key) is not None

    def __iter__(self):
        return iter(self._entries)

    def require(self, key):
        v = self.get(key)
        if v is None:
            raise Error(f"config `{key}` is required")
        return v

    def _parse(self, key, default, parse, what):
        v = self.get(key)
        if v is None:
            return default
        try:
            return parse(v)
        except ValueError:
            raise Error(f'config `{key}`: {what} (got "{v}")') from None

    def int(self, key, default=0):
        return self._parse(key, default, lambda v: int(v, 10), "not an integer")

    def float(self, key, default=0.0):
        return self._parse(key, default, float, "not a number")

    def bool(self, key, default=False):
        def parse(v):
            if v in ("true", "false"):
                return v == "true"
            raise ValueError(v)
        return self._parse(key, default, parse, "not `true` or `false`")

    def deny_unknown(self, known):
        """Fails on the first key not in `known`: catches typos."""
        for k, _ in self._entries:
            if k not in known:
                raise Error(f"config `{k}` is not a known setting (known: {', '.join(known)})")
