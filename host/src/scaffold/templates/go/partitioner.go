//go:build wasip1

// __NAME__: a streamplug partitioner. This example places records by a hash
// of their key (FNV-1a: the same key always goes to the same partition), and
// records without a key round-robin. The API is in plugins/sdk-go.
package main

import (
	"errors"
	"hash/fnv"

	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/partitioner"
)

type plugin struct {
	next uint32
}

func init() { partitioner.Register(&plugin{}) }

// main is not called: the host calls the plugin through its exports.
func main() {}

// Setup is called once per instance. An error stops the plugin with its message.
func (p *plugin) Setup(config streamplug.Config) error {
	p.next = 0
	return config.DenyUnknown() // no settings: any key is a typo
}

// Partition is the record's partition, below partitionCount (the host checks).
func (p *plugin) Partition(topic string, partitionCount uint32, rec *streamplug.Record) (uint32, error) {
	if partitionCount == 0 {
		return 0, errors.New("a topic without partitions")
	}
	if rec.Key == nil {
		p.next++
		return (p.next - 1) % partitionCount, nil
	}
	h := fnv.New64a()
	h.Write(rec.Key)
	return uint32(h.Sum64() % uint64(partitionCount)), nil
}
