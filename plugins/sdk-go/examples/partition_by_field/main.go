//go:build wasip1

// partition_by_field places JSON records by one field of their value, so that
// records about the same thing (a user, a tenant) share a partition whatever
// their key; some values can be pinned to a partition of their own. See README.md.
package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/partitioner"
)

type byField struct {
	field   string
	pins    map[string]uint32
	missing int64 // partition of records without the field; -1: an error
}

func init() { partitioner.Register(&byField{}) }

// main is not called: the host calls the exports.
func main() {}

func (p *byField) Setup(c streamplug.Config) error {
	if err := c.DenyUnknown("field", "pin", "missing"); err != nil {
		return err
	}
	field, err := c.Require("field")
	if err != nil {
		return err
	}
	p.field = field
	if p.missing, err = c.Int("missing", -1); err != nil {
		return err
	}
	p.pins = map[string]uint32{}
	// pin = "vip=0,audit=1"
	if pins := c.String("pin", ""); pins != "" {
		for _, pair := range strings.Split(pins, ",") {
			value, part, ok := strings.Cut(strings.TrimSpace(pair), "=")
			n, err := strconv.ParseUint(part, 10, 32)
			if !ok || err != nil {
				return fmt.Errorf("config `pin`: %q is not VALUE=PARTITION", pair)
			}
			p.pins[value] = uint32(n)
		}
	}
	streamplug.Logf(streamplug.Info, "partitioning by field `%s`, %d pinned values", p.field, len(p.pins))
	return nil
}

func (p *byField) Partition(topic string, count uint32, rec *streamplug.Record) (uint32, error) {
	value, ok := p.fieldOf(rec.Value)
	if !ok {
		if p.missing < 0 {
			return 0, fmt.Errorf("a record of `%s` has no field `%s` (set `missing` to place such records)", topic, p.field)
		}
		return uint32(p.missing) % count, nil
	}
	if pinned, ok := p.pins[value]; ok {
		if pinned >= count {
			return 0, fmt.Errorf("`%s` is pinned to partition %d, but `%s` has %d partitions", value, pinned, topic, count)
		}
		return pinned, nil
	}
	h := fnv.New32a()
	h.Write([]byte(value))
	return h.Sum32() % count, nil
}

// fieldOf is the field's value as text: a string's contents, or a number's
// (or true/false's) JSON text.
func (p *byField) fieldOf(value []byte) (string, bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(value, &fields) != nil {
		return "", false
	}
	raw, ok := fields[p.field]
	if !ok || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return string(raw), true
}
