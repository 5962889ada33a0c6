package streamplug

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const vectors = "../../wit/test-vectors"

// The example of wit/ENCODING.md, byte for byte.
var example = []byte{
	0x01, 0x01, 0x00, 0x00, 0x00, 0x07,
	0x01, 0x00, 0x00, 0x00, 0x6b,
	0x02, 0x00, 0x00, 0x00, 0x76, 0x31,
	0xe8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00,
	0x03, 0x00, 0x73, 0x65, 0x71,
	0x01, 0x00, 0x00, 0x00, 0x37,
}

func TestEncodingExample(t *testing.T) {
	r, err := NewReader(example)
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if !r.Next(&rec) {
		t.Fatalf("no record: %v", r.Err())
	}
	if string(rec.Key) != "k" || string(rec.Value) != "v1" || !rec.HasTimestamp || rec.Timestamp != 1000 ||
		rec.HasPartition || rec.HasTopic {
		t.Fatalf("fields: %+v", rec)
	}
	if v, ok := rec.Header("seq"); !ok || string(v) != "7" {
		t.Fatalf("header seq: %q %v", v, ok)
	}
	if r.Next(&rec) || r.Err() != nil {
		t.Fatalf("one record only: %v", r.Err())
	}
	w := NewWriter(0)
	w.Write(&Record{Key: []byte("k"), Value: []byte("v1"), Timestamp: 1000, HasTimestamp: true})
	if err := w.Header("seq", []byte("7")); err != nil {
		t.Fatal(err)
	}
	if got := w.Bytes(); !bytes.Equal(got, example) {
		t.Fatalf("encoded\n%x\nwant\n%x", got, example)
	}
}

func hexOrNull(b []byte) string {
	if b == nil {
		return "null"
	}
	return hex.EncodeToString(b)
}

// describe prints a record in the line format of wit/test-vectors/README.md.
func describe(r *Record) string {
	ts, part, topic := "none", "none", "null"
	if r.HasTimestamp {
		ts = strconv.FormatInt(r.Timestamp, 10)
	}
	if r.HasPartition {
		part = strconv.FormatInt(int64(r.Partition), 10)
	}
	if r.HasTopic {
		topic = hex.EncodeToString([]byte(r.Topic))
	}
	var hs []string
	for n, v := range r.Headers() {
		hs = append(hs, hex.EncodeToString([]byte(n))+"="+hex.EncodeToString(v))
	}
	return fmt.Sprintf("key=%s value=%s timestamp=%s partition=%s topic=%s headers=[%s]",
		hexOrNull(r.Key), hexOrNull(r.Value), ts, part, topic, strings.Join(hs, ","))
}

func TestValidVectors(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(vectors, "*.txt"))
	if len(files) < 4 {
		t.Fatalf("expected the shared vectors in %s, found %d", vectors, len(files))
	}
	for _, txt := range files {
		name := strings.TrimSuffix(filepath.Base(txt), ".txt")
		t.Run(name, func(t *testing.T) {
			bin, err := os.ReadFile(strings.TrimSuffix(txt, ".txt") + ".bin")
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(txt)
			if err != nil {
				t.Fatal(err)
			}
			r, err := NewReader(bin)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			w := NewWriter(len(bin))
			for rec := range r.All() {
				lines = append(lines, describe(rec))
				// Re-encoded from the fields, headers one by one.
				w.Write(rec)
				for n, v := range rec.Headers() {
					if err := w.Header(n, v); err != nil {
						t.Fatal(err)
					}
				}
			}
			if r.Err() != nil {
				t.Fatal(r.Err())
			}
			if got, want := strings.Join(lines, "\n"), strings.TrimRight(string(want), "\n"); got != want {
				t.Fatalf("decoded\n%s\nwant\n%s", got, want)
			}
			if r.Count() != len(lines) {
				t.Fatalf("count %d, read %d", r.Count(), len(lines))
			}
			if !bytes.Equal(w.Bytes(), bin) {
				t.Fatalf("re-encoded differs from %s.bin", name)
			}
			// Pushed records copy the encoding as it was.
			r2, _ := NewReader(bin)
			w2 := NewWriter(0)
			for rec := range r2.All() {
				w2.Push(rec)
			}
			if !bytes.Equal(w2.Bytes(), bin) {
				t.Fatalf("pushed differs from %s.bin", name)
			}
		})
	}
}

func TestInvalidVectorsFailAsTheHostDoes(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(vectors, "bad-*.err"))
	if len(files) < 5 {
		t.Fatalf("expected the shared bad vectors in %s, found %d", vectors, len(files))
	}
	for _, errFile := range files {
		name := strings.TrimSuffix(filepath.Base(errFile), ".err")
		t.Run(name, func(t *testing.T) {
			bin, _ := os.ReadFile(strings.TrimSuffix(errFile, ".err") + ".bin")
			want, _ := os.ReadFile(errFile)
			r, err := NewReader(bin)
			if err == nil {
				for range r.All() {
				}
				err = r.Err()
			}
			if err == nil {
				t.Fatalf("accepted")
			}
			if got, want := err.Error(), strings.TrimSpace(string(want)); got != want {
				t.Fatalf("error\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestWriterBudget(t *testing.T) {
	w := NewWriter(0)
	w.SetBudget(3, 30)
	value := []byte("0123456789")
	n := 0
	for !w.Full() {
		w.Write(&Record{Value: value})
		n++
	}
	// 5 header bytes + 17 per record: full once 30 bytes are reached, after 2 records.
	if n != 2 || w.OverBudget() != nil {
		t.Fatalf("%d records, %v", n, w.OverBudget())
	}
	w.Write(&Record{Value: value})
	if err := w.OverBudget(); err == nil || !strings.Contains(err.Error(), "over the budget of 30 bytes") {
		t.Fatalf("over budget: %v", err)
	}
	if err := NewWriter(0).Header("h", nil); err != ErrHeaderWithoutRecord {
		t.Fatalf("header without record: %v", err)
	}
}
