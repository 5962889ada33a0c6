//go:build wasip1

// __NAME__: a streamplug source. This example makes `count` JSON events and
// then finishes; replace Poll with reading from where your records come
// from. The API is in plugins/sdk-go.
package main

import (
	"encoding/binary"
	"fmt"
	"strconv"

	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/source"
)

type plugin struct {
	next, count uint64
	kind        string
}

func init() { source.Register(&plugin{}) }

// main is not called: the host calls the plugin through its exports.
func main() {}

// Setup is called once per instance. resume is the checkpoint to continue
// after (nil on a fresh start). An error stops the plugin with its message.
func (p *plugin) Setup(config streamplug.Config, resume []byte) error {
	if err := config.DenyUnknown("count", "kind"); err != nil { // a typo is an error
		return err
	}
	var err error
	if p.count, err = config.Uint("count", 10); err != nil {
		return err
	}
	p.kind = config.String("kind", "event")
	p.next = 0
	if resume != nil {
		if len(resume) != 8 {
			return fmt.Errorf("a checkpoint of %d bytes (expected 8)", len(resume))
		}
		p.next = binary.LittleEndian.Uint64(resume)
	}
	return nil
}

// Poll writes records until poll.Out.Full() (the host's budget). A source
// with nothing now sets poll.Status = source.Idle and poll.IdleMs instead of sleeping.
func (p *plugin) Poll(poll *source.Poll) error {
	for p.next < p.count && !poll.Out.Full() {
		seq := strconv.FormatUint(p.next, 10)
		poll.Out.Write(&streamplug.Record{
			Key:   []byte(fmt.Sprintf("key-%d", p.next%4)),
			Value: []byte(fmt.Sprintf(`{"seq":%s,"kind":%q}`, seq, p.kind)),
		})
		if err := poll.Out.Header("seq", []byte(seq)); err != nil {
			return err
		}
		p.next++
	}
	// Where the source has got to: handed to the instance that takes over.
	poll.Checkpoint = binary.LittleEndian.AppendUint64(nil, p.next)
	if p.next >= p.count {
		poll.Status = source.Finished
	}
	return nil
}
