//go:build wasip1

// Package transform exports the `transform` world: a plugin registers its
// Transform in an init function.
package transform

import (
	"errors"

	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/internal/abi"
)

// Transform maps a batch to a batch.
type Transform interface {
	// Setup is called once per instance; an error stops the plugin for good.
	Setup(config streamplug.Config) error
	// Process reads in (records point into the host's batch, valid during
	// the call) and writes to out (empty).
	Process(in *streamplug.Reader, out *streamplug.Writer) error
}

var (
	plugin Transform
	ready  bool
	ret    abi.Result
	out    = streamplug.NewWriter(4096)
)

// Register makes t the plugin (call it from init).
func Register(t Transform) { plugin = t }

//go:wasmexport setup
func setup(ptr, n uint32) uint32 {
	defer abi.Leave()
	ready = false
	if plugin == nil {
		return ret.Err(errors.New("streamplug Go SDK: no transform registered (call transform.Register in init)"))
	}
	if err := plugin.Setup(streamplug.NewConfig(abi.Entries(ptr, n)...)); err != nil {
		return ret.Err(err)
	}
	ready = true
	return ret.Ok(nil, 0)
}

//go:wasmexport process
func process(ptr, n uint32) uint32 {
	defer abi.Leave()
	if !ready {
		return ret.Err(errors.New("streamplug Go SDK: process called before a successful setup"))
	}
	in, err := streamplug.NewReader(abi.Bytes(ptr, n))
	if err != nil {
		return ret.Err(err)
	}
	out.Reset(int(n))
	if err := plugin.Process(in, out); err != nil {
		return ret.Err(err)
	}
	if err := in.Err(); err != nil {
		return ret.Err(err)
	}
	b := out.Bytes()
	return ret.Ok(b, len(b))
}
