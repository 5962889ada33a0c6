//go:build wasip1

package partitioner

import (
	"errors"
	"testing"

	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/internal/abitest"
)

// byKeyLength places a record by its key's length; topic "refused" is an error.
type byKeyLength struct{ topics []string }

var plugin0 = &byKeyLength{}

func init() { Register(plugin0) }

func (*byKeyLength) Setup(c streamplug.Config) error { return c.DenyUnknown() }

func (p *byKeyLength) Partition(topic string, count uint32, rec *streamplug.Record) (uint32, error) {
	p.topics = append(p.topics, topic)
	if topic == "refused" {
		return 0, errors.New("topic refused")
	}
	return uint32(len(rec.Key)+len(rec.Value)) % count, nil
}

func TestPartitionOfEverySharedVector(t *testing.T) {
	if _, ok, msg := abitest.Result(t, setup(abitest.LowerConfig()), 0); !ok {
		t.Fatal(msg)
	}
	for _, v := range abitest.AllVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			plugin0.topics = nil
			tp, tn := abitest.Lower([]byte("orders-ü"))
			bp, bn := abitest.Lower(v.Batch)
			words, ok, msg := abitest.Result(t, partition(tp, tn, 7, bp, bn), 4)
			if v.Err != "" {
				if ok || msg != v.Err {
					t.Fatalf("ok=%v error\n%s\nwant\n%s", ok, msg, v.Err)
				}
				return
			}
			if !ok {
				t.Fatal(msg)
			}
			r, err := streamplug.NewReader(v.Batch)
			if err != nil {
				t.Fatal(err)
			}
			if len(words) != 4*r.Count() {
				t.Fatalf("%d bytes of partitions for %d records", len(words), r.Count())
			}
			i := 0
			for rec := range r.All() {
				want := uint32(len(rec.Key)+len(rec.Value)) % 7
				got := uint32(words[4*i]) | uint32(words[4*i+1])<<8 | uint32(words[4*i+2])<<16 | uint32(words[4*i+3])<<24
				if got != want {
					t.Fatalf("record %d: partition %d, want %d", i, got, want)
				}
				if plugin0.topics[i] != "orders-ü" {
					t.Fatalf("record %d: topic %q", i, plugin0.topics[i])
				}
				i++
			}
		})
	}
}

func TestAPartitionErrorIsTheCallsErr(t *testing.T) {
	if _, ok, msg := abitest.Result(t, setup(abitest.LowerConfig()), 0); !ok {
		t.Fatal(msg)
	}
	w := streamplug.NewWriter(0)
	w.Write(&streamplug.Record{Key: []byte("k")})
	tp, tn := abitest.Lower([]byte("refused"))
	bp, bn := abitest.Lower(w.Bytes())
	if _, ok, msg := abitest.Result(t, partition(tp, tn, 3, bp, bn), 4); ok || msg != "topic refused" {
		t.Fatalf("ok=%v %q", ok, msg)
	}
}
