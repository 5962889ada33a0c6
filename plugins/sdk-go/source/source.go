//go:build wasip1

// Package source exports the `source` world: a plugin registers its Source
// in an init function.
package source

import (
	"errors"
	"unsafe"

	streamplug "streamplug.dev/sdk-go"
	"streamplug.dev/sdk-go/internal/abi"
)

// Status is what a poll says beside its records.
type Status int

const (
	Ready    Status = iota // the records written are ready (none: the host's default backoff)
	Idle                   // nothing more now: poll again in about Poll.IdleMs
	Finished               // done; records written by this poll are still sent
)

// Poll is one call of poll-records.
type Poll struct {
	Out    *streamplug.Writer // empty, with the host's budget: stop once Out.Full()
	Status Status
	IdleMs uint32
	// Checkpoint is the source's position once these records are made, if it
	// keeps one; the host hands the latest committed one to the next
	// instance's Setup.
	Checkpoint []byte
}

// Delivery is what became of the source's records (see delivery-report).
type Delivery struct {
	Committed []byte // the newest checkpoint acknowledged (nil: none new)
	Failed    map[string]uint64
}

// Source makes records.
type Source interface {
	// Setup is called once per instance; resume is the checkpoint to
	// continue after (nil on a fresh start). An error stops the plugin for good.
	Setup(config streamplug.Config, resume []byte) error
	Poll(p *Poll) error
}

// Deliveries is implemented by a source that wants delivery feedback.
type Deliveries interface {
	Delivered(d Delivery)
}

var (
	plugin   Source
	ready    bool
	finished bool
	setupRet abi.Result
	out      = streamplug.NewWriter(4096)
	// capacityHint is the last batch's size.
	capacityHint = 4096
)

// Register makes s the plugin (call it from init).
func Register(s Source) { plugin = s }

//go:wasmexport setup
func setup(ptr, n, hasResume, resumePtr, resumeLen uint32) uint32 {
	defer abi.Leave()
	ready, finished = false, false
	if plugin == nil {
		return setupRet.Err(errors.New("streamplug Go SDK: no source registered (call source.Register in init)"))
	}
	var resume []byte
	if hasResume != 0 {
		resume = append([]byte{}, abi.Bytes(resumePtr, resumeLen)...)
	}
	if err := plugin.Setup(streamplug.NewConfig(abi.Entries(ptr, n)...), resume); err != nil {
		return setupRet.Err(err)
	}
	ready = true
	return setupRet.Ok(nil, 0)
}

// pollRet is result<poll-result, string> (28 bytes, align 4).
type pollRet struct {
	tag        uint8 // 0 ok, 1 err
	_          [3]byte
	kind       uint8 // ok: 0 records, 1 idle, 2 finished; err: low byte of the message pointer
	_          [3]byte
	records    uint32 // ok records: batch pointer; idle: milliseconds; err: message length
	recordsLen uint32
	hasCheck   uint8
	_          [3]byte
	check      uint32
	checkLen   uint32
}

var _ [28 - unsafe.Sizeof(pollRet{})]byte
var _ [unsafe.Sizeof(pollRet{}) - 28]byte

var ret pollRet
var errMsg []byte

func pollErr(err error) uint32 {
	errMsg = []byte(err.Error())
	ret = pollRet{tag: 1}
	// The error string sits where the ok payload starts: pointer at 4, length at 8.
	*(*uint32)(unsafe.Pointer(&ret.kind)) = abi.Ptr(errMsg)
	ret.records = uint32(len(errMsg))
	return abi.Addr(&ret)
}

//go:wasmexport poll-records
func pollRecords(maxRecords uint32, maxBytes uint64) uint32 {
	defer abi.Leave()
	if !ready {
		return pollErr(errors.New("streamplug Go SDK: poll-records called before a successful setup"))
	}
	ret = pollRet{}
	if finished {
		ret.kind = 2
		return abi.Addr(&ret)
	}
	// About the last batch's size, within the budget.
	out.Reset(int(min(uint64(capacityHint), maxBytes)))
	out.SetBudget(maxRecords, maxBytes)
	p := Poll{Out: out}
	if err := plugin.Poll(&p); err != nil {
		return pollErr(err)
	}
	finished = p.Status == Finished
	if out.Count() == 0 {
		switch p.Status {
		case Finished:
			ret.kind = 2
		case Idle:
			ret.kind, ret.records = 1, p.IdleMs
		default:
			ret.kind = 1
		}
		return abi.Addr(&ret)
	}
	if err := out.OverBudget(); err != nil {
		return pollErr(err)
	}
	b := out.Bytes()
	capacityHint = len(b)
	abi.Keep(b)
	ret.records, ret.recordsLen = abi.Ptr(b), uint32(len(b))
	if p.Checkpoint != nil {
		check := append([]byte{0}[:0], p.Checkpoint...)
		errMsg = check // held until the next call
		ret.hasCheck, ret.check, ret.checkLen = 1, abi.Ptr(check), uint32(len(check))
	}
	return abi.Addr(&ret)
}

//go:wasmexport on-delivery
func onDelivery(hasCommitted, committedPtr, committedLen, failedPtr, failedLen uint32) {
	defer abi.Leave()
	d, ok := plugin.(Deliveries)
	if !ok {
		return
	}
	report := Delivery{Failed: map[string]uint64{}}
	if hasCommitted != 0 {
		report.Committed = append([]byte{}, abi.Bytes(committedPtr, committedLen)...)
	}
	// tuple<string, u64>: 16 bytes, the count at 8.
	raw := abi.Bytes(failedPtr, 16*failedLen)
	for i := 0; i < int(failedLen); i++ {
		e := raw[16*i:]
		cause := string(abi.Bytes(le32(e), le32(e[4:])))
		report.Failed[cause] += uint64(le32(e[8:])) | uint64(le32(e[12:]))<<32
	}
	d.Delivered(report)
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
