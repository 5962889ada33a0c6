//go:build wasip1

// panic_on_call: a test partitioner that places records by key length and
// panics at the n-th record an instance places (config `n`), to show a Go
// panic is contained and the plugin restarted. With n above the batch size,
// every instance makes progress before it panics.
package main

import (
	"fmt"

	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/partitioner"
)

type panicky struct {
	n, calls int64
}

func init() { partitioner.Register(&panicky{}) }

func main() {}

func (p *panicky) Setup(c streamplug.Config) error {
	if err := c.DenyUnknown("n"); err != nil {
		return err
	}
	var err error
	p.n, err = c.Int("n", 5)
	return err
}

func (p *panicky) Partition(topic string, count uint32, rec *streamplug.Record) (uint32, error) {
	p.calls++
	if p.calls == p.n {
		streamplug.Logf(streamplug.Warn, "panic-on-call: record %d, panicking as configured", p.calls)
		panic(fmt.Sprintf("panic-on-call: record %d", p.calls))
	}
	return uint32(len(rec.Key)) % count, nil
}
