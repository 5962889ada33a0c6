//go:build wasip1

package source

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/internal/abitest"
)

// replay writes the records of a shared vector, as many as the budget
// allows, or does what `next` says.
type replay struct {
	resume    []byte
	records   []byte // a batch whose records each poll writes
	next      Status
	idleMs    uint32
	fail      error
	check     []byte
	delivered []Delivery
}

var plugin0 = &replay{}

func init() { Register(plugin0) }

func (r *replay) Setup(c streamplug.Config, resume []byte) error {
	r.resume = resume
	return c.DenyUnknown()
}

func (r *replay) Poll(p *Poll) error {
	if r.fail != nil {
		return r.fail
	}
	p.Status, p.IdleMs, p.Checkpoint = r.next, r.idleMs, r.check
	if r.records == nil {
		return nil
	}
	in, err := streamplug.NewReader(r.records)
	if err != nil {
		return err
	}
	for rec := range in.All() {
		if p.Out.Full() {
			break
		}
		p.Out.Write(rec)
		for n, v := range rec.Headers() {
			if err := p.Out.Header(n, v); err != nil {
				return err
			}
		}
	}
	return in.Err()
}

func (r *replay) Delivered(d Delivery) { r.delivered = append(r.delivered, d) }

func vector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(abitest.Vectors, name+".bin"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// start runs setup with no checkpoint (resume nil) or one.
func start(t *testing.T, resume []byte) {
	t.Helper()
	*plugin0 = replay{}
	cp, cn := abitest.LowerConfig()
	var has, rp, rn uint32
	if resume != nil {
		has = 1
		rp, rn = abitest.Lower(resume)
	}
	if _, ok, msg := abitest.Result(t, setup(cp, cn, has, rp, rn), 0); !ok {
		t.Fatal(msg)
	}
}

// The return area of result<poll-result, string> (canonical ABI, align 4):
// 0 result discriminant; 4 poll-result discriminant (or the err string's
// pointer); 8 records pointer, idle milliseconds (or the err string's
// length); 12 records length; 16 option discriminant; 20 and 24 the
// checkpoint's pointer and length.
type polled struct {
	kind       uint8
	idleMs     uint32
	records    []byte
	checkpoint []byte // nil: none
}

func lift(t *testing.T, addr uint32) (polled, string) {
	t.Helper()
	if addr%4 != 0 {
		t.Fatalf("return area at %#x", addr)
	}
	switch abitest.U8(addr) {
	case 1:
		return polled{}, string(abitest.Bytes(abitest.U32(addr+4), abitest.U32(addr+8)))
	case 0:
	default:
		t.Fatalf("result discriminant %d", abitest.U8(addr))
	}
	p := polled{kind: abitest.U8(addr + 4)}
	switch p.kind {
	case 0:
		p.records = abitest.Bytes(abitest.U32(addr+8), abitest.U32(addr+12))
		switch abitest.U8(addr + 16) {
		case 0:
		case 1:
			p.checkpoint = abitest.Bytes(abitest.U32(addr+20), abitest.U32(addr+24))
		default:
			t.Fatalf("option discriminant %d", abitest.U8(addr+16))
		}
	case 1:
		p.idleMs = abitest.U32(addr + 8)
	case 2:
	default:
		t.Fatalf("poll-result discriminant %d", p.kind)
	}
	return p, ""
}

func TestSetupLiftsTheCheckpoint(t *testing.T) {
	start(t, nil)
	if plugin0.resume != nil {
		t.Fatalf("fresh start resumed from %q", plugin0.resume)
	}
	start(t, []byte("offset=42"))
	if string(plugin0.resume) != "offset=42" {
		t.Fatalf("resumed from %q", plugin0.resume)
	}
	start(t, []byte{})
	if plugin0.resume == nil || len(plugin0.resume) != 0 {
		t.Fatalf("an empty checkpoint is not none: %v", plugin0.resume)
	}
}

func TestPollLowersRecordsAndCheckpoint(t *testing.T) {
	for _, name := range []string{"example", "mixed", "many"} {
		t.Run(name, func(t *testing.T) {
			start(t, nil)
			plugin0.records = vector(t, name)
			plugin0.check = []byte("line " + name)
			p, msg := lift(t, pollRecords(1<<20, 1<<40))
			if msg != "" || p.kind != 0 {
				t.Fatalf("kind %d, err %q", p.kind, msg)
			}
			if !bytes.Equal(p.records, plugin0.records) {
				t.Fatalf("records\n%x\nwant\n%x", p.records, plugin0.records)
			}
			if string(p.checkpoint) != "line "+name {
				t.Fatalf("checkpoint %q", p.checkpoint)
			}
			plugin0.check = nil
			if p, _ = lift(t, pollRecords(1<<20, 1<<40)); p.checkpoint != nil {
				t.Fatalf("a poll without a checkpoint returned %q", p.checkpoint)
			}
		})
	}
}

func TestPollKeepsToTheRecordBudget(t *testing.T) {
	start(t, nil)
	plugin0.records = vector(t, "many")
	p, msg := lift(t, pollRecords(3, 1<<40))
	r, err := streamplug.NewReader(p.records)
	if msg != "" || err != nil || r.Count() != 3 {
		t.Fatalf("%q %v %d records", msg, err, r.Count())
	}
}

func TestIdleFinishedAndErrors(t *testing.T) {
	start(t, nil)
	plugin0.next, plugin0.idleMs = Idle, 250
	if p, msg := lift(t, pollRecords(10, 1000)); msg != "" || p.kind != 1 || p.idleMs != 250 {
		t.Fatalf("idle: %+v %q", p, msg)
	}
	plugin0.fail = errors.New("the file is gone")
	if _, msg := lift(t, pollRecords(10, 1000)); msg != "the file is gone" {
		t.Fatalf("error: %q", msg)
	}
	plugin0.fail = nil
	plugin0.next = Finished
	if p, msg := lift(t, pollRecords(10, 1000)); msg != "" || p.kind != 2 {
		t.Fatalf("finished: %+v %q", p, msg)
	}
	// Finished for good, whatever the plugin would say.
	plugin0.next = Ready
	if p, _ := lift(t, pollRecords(10, 1000)); p.kind != 2 {
		t.Fatalf("after finished: %+v", p)
	}
}

func TestOnDeliveryLiftsTheReport(t *testing.T) {
	start(t, nil)
	cp, cn := abitest.Lower([]byte("row 99"))
	// list<tuple<string, u64>>: 16-byte elements, align 8: pointer, length, count at 8.
	causes := []struct {
		cause string
		n     uint64
	}{{"msg_size_too_large", 5_000_000_000}, {"timed out", 3}, {"timed out", 4}}
	list := abitest.HostAlloc(16*uint32(len(causes)), 8)
	for i, c := range causes {
		sp, sn := abitest.Lower([]byte(c.cause))
		e := list + 16*uint32(i)
		abitest.PutU32(e, sp)
		abitest.PutU32(e+4, sn)
		abitest.PutU64(e+8, c.n)
	}
	onDelivery(1, cp, cn, list, uint32(len(causes)))
	onDelivery(0, 0, 0, 8, 0)
	if len(plugin0.delivered) != 2 {
		t.Fatalf("%d reports", len(plugin0.delivered))
	}
	d := plugin0.delivered[0]
	if string(d.Committed) != "row 99" || len(d.Failed) != 2 ||
		d.Failed["msg_size_too_large"] != 5_000_000_000 || d.Failed["timed out"] != 7 {
		t.Fatalf("report %q %v", d.Committed, d.Failed)
	}
	if d := plugin0.delivered[1]; d.Committed != nil || len(d.Failed) != 0 {
		t.Fatalf("an empty report: %q %v", d.Committed, d.Failed)
	}
}
