//go:build wasip1

// passthrough: a test transform that copies every record as it is, to
// measure the Go SDK's own cost per record (tests/src/bin/lang-cost.rs).
package main

import (
	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/transform"
)

type passthrough struct{}

func init() { transform.Register(passthrough{}) }

func main() {}

func (passthrough) Setup(c streamplug.Config) error { return c.DenyUnknown("n") }

func (passthrough) Process(in *streamplug.Reader, out *streamplug.Writer) error {
	for rec := range in.All() {
		out.Push(rec)
	}
	return in.Err()
}
