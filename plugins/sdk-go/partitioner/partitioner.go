//go:build wasip1

// Package partitioner exports the `partitioner` world: a plugin registers
// its Partitioner in an init function.
package partitioner

import (
	"errors"
	"unsafe"

	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/internal/abi"
)

// Partitioner picks a partition for each record.
type Partitioner interface {
	// Setup is called once per instance; an error stops the plugin for good.
	Setup(config streamplug.Config) error
	// Partition is rec's partition of topic, below partitionCount (the host checks).
	Partition(topic string, partitionCount uint32, rec *streamplug.Record) (uint32, error)
}

var (
	plugin Partitioner
	ready  bool
	ret    abi.Result
	chosen []uint32
)

// Register makes p the plugin (call it from init).
func Register(p Partitioner) { plugin = p }

//go:wasmexport setup
func setup(ptr, n uint32) uint32 {
	defer abi.Leave()
	ready = false
	if plugin == nil {
		return ret.Err(errors.New("streamplug Go SDK: no partitioner registered (call partitioner.Register in init)"))
	}
	if err := plugin.Setup(streamplug.NewConfig(abi.Entries(ptr, n)...)); err != nil {
		return ret.Err(err)
	}
	ready = true
	return ret.Ok(nil, 0)
}

//go:wasmexport partition
func partition(topicPtr, topicLen, partitionCount, ptr, n uint32) uint32 {
	defer abi.Leave()
	if !ready {
		return ret.Err(errors.New("streamplug Go SDK: partition called before a successful setup"))
	}
	topic := abi.String(topicPtr, topicLen)
	in, err := streamplug.NewReader(abi.Bytes(ptr, n))
	if err != nil {
		return ret.Err(err)
	}
	chosen = chosen[:0]
	for rec := range in.All() {
		p, err := plugin.Partition(topic, partitionCount, rec)
		if err != nil {
			return ret.Err(err)
		}
		chosen = append(chosen, p)
	}
	if err := in.Err(); err != nil {
		return ret.Err(err)
	}
	if len(chosen) == 0 {
		return ret.Ok(nil, 0)
	}
	// list<u32>: little-endian words, as Go lays out a []uint32 on wasm.
	words := unsafe.Slice((*byte)(unsafe.Pointer(&chosen[0])), 4*len(chosen))
	return ret.Ok(words, len(chosen))
}
