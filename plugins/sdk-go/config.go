package streamplug

import (
	"fmt"
	"strconv"
	"strings"
)

// Config is the plugin's `config` table from the host's TOML file.
type Config struct {
	keys, values []string
}

// NewConfig makes a Config from key/value pairs (tests; the SDK makes the host's).
func NewConfig(pairs ...[2]string) Config {
	var c Config
	for _, p := range pairs {
		c.keys = append(c.keys, p[0])
		c.values = append(c.values, p[1])
	}
	return c
}

// Get is the value of key, if set.
func (c Config) Get(key string) (string, bool) {
	for i, k := range c.keys {
		if k == key {
			return c.values[i], true
		}
	}
	return "", false
}

// String is the value of key, or fallback if it is not set.
func (c Config) String(key, fallback string) string {
	if v, ok := c.Get(key); ok {
		return v
	}
	return fallback
}

// Require is the value of key, or an error naming it if it is not set.
func (c Config) Require(key string) (string, error) {
	if v, ok := c.Get(key); ok {
		return v, nil
	}
	return "", fmt.Errorf("config `%s` is required", key)
}

func invalid(key, what, value string) error {
	return fmt.Errorf("config `%s`: %s (got %q)", key, what, value)
}

// Int is key as a 64-bit integer, fallback if it is not set.
func (c Config) Int(key string, fallback int64) (int64, error) {
	v, ok := c.Get(key)
	if !ok {
		return fallback, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if strings.Contains(err.Error(), "range") {
			return 0, invalid(key, "out of range for a 64-bit integer", v)
		}
		return 0, invalid(key, "not an integer", v)
	}
	return n, nil
}

// Uint is key as a non-negative 64-bit integer, fallback if it is not set.
func (c Config) Uint(key string, fallback uint64) (uint64, error) {
	v, ok := c.Get(key)
	if !ok {
		return fallback, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		if strings.Contains(err.Error(), "range") {
			return 0, invalid(key, "out of range for a 64-bit integer", v)
		}
		return 0, invalid(key, "not a non-negative integer", v)
	}
	return n, nil
}

// Float is key as a number, fallback if it is not set.
func (c Config) Float(key string, fallback float64) (float64, error) {
	v, ok := c.Get(key)
	if !ok {
		return fallback, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, invalid(key, "not a number", v)
	}
	return f, nil
}

// Bool is key as `true` or `false`, fallback if it is not set.
func (c Config) Bool(key string, fallback bool) (bool, error) {
	v, ok := c.Get(key)
	switch {
	case !ok:
		return fallback, nil
	case v == "true":
		return true, nil
	case v == "false":
		return false, nil
	}
	return false, invalid(key, "not `true` or `false`", v)
}

// DenyUnknown fails on the first key not in known: catches typos.
func (c Config) DenyUnknown(known ...string) error {
	for _, k := range c.keys {
		found := false
		for _, want := range known {
			found = found || want == k
		}
		if !found {
			return fmt.Errorf("config `%s` is not a known setting (known: %s)", k, strings.Join(known, ", "))
		}
	}
	return nil
}
