//go:build wasip1

// counter: a test source counting from 0 to `count`, `per_poll` records per
// poll, then one poll idle for `idle_ms`. Its checkpoint is the next number
// (8 bytes, little-endian); after a restart it continues from the one it is
// given. Every record: no key, the number in decimal as value, headers `seq`,
// `resumed-from` (the checkpoint this instance started from, or `none`) and
// `committed` (the newest committed checkpoint delivery feedback told of, or
// `none`). As plugins/sdk-c/tests/plugins/counter.c.
package main

import (
	"encoding/binary"
	"fmt"
	"strconv"

	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/source"
)

type counter struct {
	count, perPoll, next uint64
	idleMs               uint64
	resting              bool
	resumedFrom          string
	committed            string
}

func init() { source.Register(&counter{}) }

func main() {}

func (c *counter) Setup(config streamplug.Config, resume []byte) error {
	if err := config.DenyUnknown("count", "per_poll", "idle_ms"); err != nil {
		return err
	}
	var err error
	if c.count, err = config.Uint("count", 1000); err != nil {
		return err
	}
	if c.perPoll, err = config.Uint("per_poll", 100); err != nil {
		return err
	}
	if c.idleMs, err = config.Uint("idle_ms", 0); err != nil {
		return err
	}
	c.next, c.resting, c.resumedFrom, c.committed = 0, false, "none", "none"
	if resume != nil {
		if len(resume) != 8 {
			return fmt.Errorf("cannot resume from a %d-byte checkpoint (expected 8)", len(resume))
		}
		c.next = binary.LittleEndian.Uint64(resume)
		c.resumedFrom = strconv.FormatUint(c.next, 10)
		streamplug.Logf(streamplug.Info, "counter: resuming at %d", c.next)
	}
	return nil
}

func (c *counter) Poll(p *source.Poll) error {
	if c.resting && c.next < c.count {
		c.resting = false
		p.Status, p.IdleMs = source.Idle, uint32(c.idleMs)
		return nil
	}
	c.resting = true
	for i := uint64(0); i < c.perPoll && c.next < c.count && !p.Out.Full(); i, c.next = i+1, c.next+1 {
		digits := []byte(strconv.FormatUint(c.next, 10))
		p.Out.Write(&streamplug.Record{Value: digits})
		for _, h := range [][2]string{{"seq", string(digits)}, {"resumed-from", c.resumedFrom}, {"committed", c.committed}} {
			if err := p.Out.Header(h[0], []byte(h[1])); err != nil {
				return err
			}
		}
		if c.next > 0 && c.next%500 == 0 {
			streamplug.Logf(streamplug.Info, "counter: at %d", c.next)
		}
	}
	p.Checkpoint = binary.LittleEndian.AppendUint64(nil, c.next)
	if c.next >= c.count {
		p.Status = source.Finished
	}
	return nil
}

func (c *counter) Delivered(d source.Delivery) {
	if len(d.Committed) == 8 {
		c.committed = strconv.FormatUint(binary.LittleEndian.Uint64(d.Committed), 10)
	}
}
