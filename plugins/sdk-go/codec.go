// Package streamplug is the Go SDK of streamplug plugins: the batch encoding
// of wit/ENCODING.md (read without copying, written by a Writer), config
// access and host logging. A plugin registers with the package of its world
// (transform, partitioner or source) and is built with
// plugins/sdk-go/build.sh.
package streamplug

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"unicode/utf8"
	"unsafe"
)

const (
	version   = 1
	headerLen = 5

	flagKey       = 0x01
	flagValue     = 0x02
	flagTimestamp = 0x04
	flagPartition = 0x08
	flagTopic     = 0x10
	flagsKnown    = 0x1f
)

// Record is one record. A read record points into the batch it was read
// from: its slices and Topic are valid only during the call that received
// the batch; copy what you keep.
type Record struct {
	Key   []byte // nil: no key (an empty non-nil key is a key)
	Value []byte // nil: a tombstone

	Timestamp    int64 // ms since the Unix epoch, if HasTimestamp
	HasTimestamp bool
	Partition    int32 // if HasPartition
	HasPartition bool
	Topic        string // if HasTopic; else the plugin's configured topic
	HasTopic     bool

	headerCount uint16
	headers     []byte // the encoded headers of a read record
	encoded     []byte // the whole encoded record, for Writer.Push
}

// Header is one record header; names may repeat.
type Header struct {
	Name  string
	Value []byte
}

// Headers iterates the headers of a read record in order.
func (r *Record) Headers() iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		b := r.headers
		for i := 0; i < int(r.headerCount); i++ {
			n := int(binary.LittleEndian.Uint16(b))
			name := bytesString(b[2 : 2+n])
			b = b[2+n:]
			m := int(binary.LittleEndian.Uint32(b))
			if !yield(name, b[4:4+m]) {
				return
			}
			b = b[4+m:]
		}
	}
}

// Header is the value of the first header named name.
func (r *Record) Header(name string) ([]byte, bool) {
	for n, v := range r.Headers() {
		if n == name {
			return v, true
		}
	}
	return nil, false
}

// HeaderCount is the number of headers of a read record.
func (r *Record) HeaderCount() int { return int(r.headerCount) }

// bytesString is a string over b without a copy: b must not change while it is used.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Reader reads a batch record by record without copying. Errors name the
// record, the byte offset and the rule broken, as the host's decoder does.
type Reader struct {
	b      []byte
	pos    int
	count  uint32
	read   uint32
	failed error
}

// NewReader checks the batch header.
func NewReader(b []byte) (*Reader, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("batch header at byte 0: truncated batch header: needs %d bytes, 0 left", headerLen)
	}
	if b[0] != version {
		return nil, fmt.Errorf("batch header at byte 0: encoding version %d is not supported (expected %d)", b[0], version)
	}
	if len(b) < headerLen {
		return nil, fmt.Errorf("batch header at byte 0: truncated batch header: needs %d bytes, %d left", headerLen, len(b))
	}
	return &Reader{b: b, pos: headerLen, count: binary.LittleEndian.Uint32(b[1:])}, nil
}

// Count is the number of records the batch announces.
func (r *Reader) Count() int { return int(r.count) }

// Next reads the next record into rec: true if it did, false at the end of
// the batch or on an invalid one (then Err says where and why).
func (r *Reader) Next(rec *Record) bool {
	if r.failed != nil {
		return false
	}
	if r.read == r.count {
		if r.pos != len(r.b) {
			last := uint32(0)
			if r.count > 0 {
				last = r.read - 1
			}
			r.failed = fmt.Errorf("record %d at byte %d: %d bytes follow the last record", last, r.pos, len(r.b)-r.pos)
		}
		return false
	}
	if err := r.record(rec); err != nil {
		r.failed = err
		return false
	}
	r.read++
	return true
}

// Err is why Next stopped early, or nil once the whole batch was read.
func (r *Reader) Err() error { return r.failed }

// All iterates the records; check Err afterwards. The record is reused
// between iterations.
func (r *Reader) All() iter.Seq[*Record] {
	return func(yield func(*Record) bool) {
		var rec Record
		for r.Next(&rec) {
			if !yield(&rec) {
				return
			}
		}
	}
}

type cursor struct {
	b      []byte
	pos    int
	record uint32
}

func (c *cursor) take(n int, field string) ([]byte, error) {
	if n > len(c.b)-c.pos {
		return nil, fmt.Errorf("record %d at byte %d: truncated %s: needs %d bytes, %d left", c.record, c.pos, field, n, len(c.b)-c.pos)
	}
	p := c.b[c.pos : c.pos+n : c.pos+n]
	c.pos += n
	return p, nil
}

func (c *cursor) prefixed32(field string) ([]byte, error) {
	p, err := c.take(4, field)
	if err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(p)
	if uint64(n) > uint64(len(c.b)-c.pos) {
		return nil, fmt.Errorf("record %d at byte %d: truncated %s: needs %d bytes, %d left", c.record, c.pos, field, n, len(c.b)-c.pos)
	}
	return c.take(int(n), field)
}

func (c *cursor) utf8With16(lenField, field string) (string, error) {
	p, err := c.take(2, lenField)
	if err != nil {
		return "", err
	}
	at := c.pos
	data, err := c.take(int(binary.LittleEndian.Uint16(p)), field)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(data) {
		return "", fmt.Errorf("record %d at byte %d: %s is not valid UTF-8", c.record, at, field)
	}
	return bytesString(data), nil
}

func (r *Reader) record(rec *Record) error {
	*rec = Record{}
	c := cursor{b: r.b, pos: r.pos, record: r.read}
	start := c.pos
	p, err := c.take(1, "flags")
	if err != nil {
		return err
	}
	flags := p[0]
	if flags&^flagsKnown != 0 {
		return fmt.Errorf("record %d at byte %d: reserved flag bits set (flags 0x%02x)", c.record, c.pos, flags)
	}
	if flags&flagKey != 0 {
		if rec.Key, err = c.prefixed32("key"); err != nil {
			return err
		}
	}
	if flags&flagValue != 0 {
		if rec.Value, err = c.prefixed32("value"); err != nil {
			return err
		}
	}
	if flags&flagTimestamp != 0 {
		if p, err = c.take(8, "timestamp"); err != nil {
			return err
		}
		rec.Timestamp, rec.HasTimestamp = int64(binary.LittleEndian.Uint64(p)), true
	}
	if flags&flagPartition != 0 {
		if p, err = c.take(4, "partition"); err != nil {
			return err
		}
		rec.Partition, rec.HasPartition = int32(binary.LittleEndian.Uint32(p)), true
	}
	if flags&flagTopic != 0 {
		if rec.Topic, err = c.utf8With16("topic length", "topic"); err != nil {
			return err
		}
		rec.HasTopic = true
	}
	if p, err = c.take(2, "header count"); err != nil {
		return err
	}
	rec.headerCount = binary.LittleEndian.Uint16(p)
	headersStart := c.pos
	for i := 0; i < int(rec.headerCount); i++ {
		if _, err = c.utf8With16("header name length", "header name"); err != nil {
			return err
		}
		if _, err = c.prefixed32("header value"); err != nil {
			return err
		}
	}
	rec.headers = r.b[headersStart:c.pos]
	rec.encoded = r.b[start:c.pos]
	r.pos = c.pos
	return nil
}

// Writer encodes a batch. A source's writer carries the host's budget: stop
// adding records once Full.
type Writer struct {
	buf           []byte
	count         uint32
	lastStart     int
	headerCountAt int
	maxRecords    uint32
	maxBytes      uint64
}

// NewWriter makes an empty batch with room for about capacity bytes.
func NewWriter(capacity int) *Writer {
	w := &Writer{maxRecords: ^uint32(0), maxBytes: ^uint64(0)}
	w.Reset(capacity)
	return w
}

// Reset empties the batch for reuse.
func (w *Writer) Reset(capacity int) {
	if cap(w.buf) < headerLen+capacity {
		w.buf = make([]byte, 0, headerLen+capacity)
	}
	w.buf = append(w.buf[:0], version, 0, 0, 0, 0)
	w.count, w.lastStart, w.headerCountAt = 0, 0, -1
}

// ErrHeaderWithoutRecord: Writer.Header before any record was written.
var ErrHeaderWithoutRecord = errors.New("streamplug: a header needs a record written before it")

// Write appends a record's fields without its headers (add them with Header).
func (w *Writer) Write(rec *Record) {
	w.lastStart = len(w.buf)
	var flags byte
	if rec.Key != nil {
		flags |= flagKey
	}
	if rec.Value != nil {
		flags |= flagValue
	}
	if rec.HasTimestamp {
		flags |= flagTimestamp
	}
	if rec.HasPartition {
		flags |= flagPartition
	}
	if rec.HasTopic {
		flags |= flagTopic
	}
	w.buf = append(w.buf, flags)
	if rec.Key != nil {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(rec.Key)))
		w.buf = append(w.buf, rec.Key...)
	}
	if rec.Value != nil {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(rec.Value)))
		w.buf = append(w.buf, rec.Value...)
	}
	if rec.HasTimestamp {
		w.buf = binary.LittleEndian.AppendUint64(w.buf, uint64(rec.Timestamp))
	}
	if rec.HasPartition {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(rec.Partition))
	}
	if rec.HasTopic {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(len(rec.Topic)))
		w.buf = append(w.buf, rec.Topic...)
	}
	w.headerCountAt = len(w.buf)
	w.buf = append(w.buf, 0, 0)
	w.count++
}

// Header appends a header to the last record written or pushed.
func (w *Writer) Header(name string, value []byte) error {
	if w.headerCountAt < 0 {
		return ErrHeaderWithoutRecord
	}
	n := binary.LittleEndian.Uint16(w.buf[w.headerCountAt:])
	binary.LittleEndian.PutUint16(w.buf[w.headerCountAt:], n+1)
	w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(len(name)))
	w.buf = append(w.buf, name...)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(value)))
	w.buf = append(w.buf, value...)
	return nil
}

// Push appends a record read from another batch, headers and all (one copy).
func (w *Writer) Push(rec *Record) {
	w.lastStart = len(w.buf)
	w.buf = append(w.buf, rec.encoded...)
	w.headerCountAt = len(w.buf) - len(rec.headers) - 2
	w.count++
}

// Full is true once the batch has its budget's records or bytes: add no more.
func (w *Writer) Full() bool {
	return w.count >= w.maxRecords || uint64(len(w.buf)) >= w.maxBytes
}

// Count is the number of records written.
func (w *Writer) Count() int { return int(w.count) }

// Bytes is the encoded batch (valid until the next write or Reset).
func (w *Writer) Bytes() []byte {
	binary.LittleEndian.PutUint32(w.buf[1:], w.count)
	return w.buf
}

// SetBudget is for the source world: the host's record and byte budget.
func (w *Writer) SetBudget(maxRecords uint32, maxBytes uint64) {
	w.maxRecords, w.maxBytes = maxRecords, maxBytes
}

// OverBudget says why a source's batch breaks the host's budget, or nil.
func (w *Writer) OverBudget() error {
	if w.count > w.maxRecords {
		return fmt.Errorf("poll wrote %d records, more than the %d asked for", w.count, w.maxRecords)
	}
	if w.count > 1 && uint64(w.lastStart) >= w.maxBytes {
		return fmt.Errorf("poll wrote %d bytes in %d records, over the budget of %d bytes by more than one record: stop writing once Writer.Full", len(w.buf), w.count, w.maxBytes)
	}
	return nil
}
