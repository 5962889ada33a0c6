//go:build wasip1

// __NAME__: a streamplug transform. This example drops records whose value
// contains `drop_if`, adds a `tagged-by` header to the others, and passes
// tombstones through. The API is in plugins/sdk-go.
package main

import (
	"bytes"

	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/transform"
)

type plugin struct {
	dropIf []byte
	tag    []byte
}

func init() { transform.Register(&plugin{}) }

// main is not called: the host calls the plugin through its exports.
func main() {}

// Setup is called once per instance. An error stops the plugin with its message.
func (p *plugin) Setup(config streamplug.Config) error {
	if err := config.DenyUnknown("drop_if", "tag"); err != nil { // a typo is an error
		return err
	}
	if v, ok := config.Get("drop_if"); ok {
		p.dropIf = []byte(v)
	}
	p.tag = []byte(config.String("tag", "__NAME__"))
	return nil
}

// Process reads in (records point into the host's batch: copy what you keep) and writes to out.
func (p *plugin) Process(in *streamplug.Reader, out *streamplug.Writer) error {
	for rec := range in.All() {
		if rec.Value == nil {
			out.Push(rec)
			continue
		}
		if p.dropIf != nil && bytes.Contains(rec.Value, p.dropIf) {
			continue
		}
		out.Push(rec)
		if err := out.Header("tagged-by", p.tag); err != nil {
			return err
		}
	}
	return in.Err()
}
