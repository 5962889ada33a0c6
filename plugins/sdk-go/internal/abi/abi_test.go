//go:build wasip1

package abi

import (
	"bytes"
	"errors"
	"runtime"
	"runtime/metrics"
	"testing"
	"unsafe"
)

func at(addr, n uint32) []byte { return unsafe.Slice((*byte)(host(addr)), n) }

func u32(addr uint32) uint32 {
	b := at(addr, 4)
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func TestReallocAlignsAndKeepsUntilTheCallEnds(t *testing.T) {
	type span struct{ p, n uint32 }
	var got []span
	for _, align := range []uint32{1, 2, 4, 8} {
		for _, size := range []uint32{1, 3, 16, 17, 4096} {
			p := realloc(0, 0, align, size)
			if p == 0 || p%align != 0 {
				t.Fatalf("realloc(align %d, size %d) = %#x", align, size, p)
			}
			// Filled as the host fills an argument.
			for i := range at(p, size) {
				at(p, size)[i] = byte(size + uint32(i))
			}
			got = append(got, span{p, size})
		}
	}
	if len(pending) != len(got) {
		t.Fatalf("%d allocations pending, want %d", len(pending), len(got))
	}
	runtime.GC()
	// Still there after a collection: pending holds them for the call.
	for i, s := range got {
		for j, b := range at(s.p, s.n) {
			if b != byte(s.n+uint32(j)) {
				t.Fatalf("allocation %d (%d bytes at %#x) changed at byte %d", i, s.n, s.p, j)
			}
		}
		for _, o := range got[i+1:] {
			if s.p < o.p+o.n && o.p < s.p+s.n {
				t.Fatalf("allocations overlap: %#x+%d and %#x+%d", s.p, s.n, o.p, o.n)
			}
		}
	}
	Leave()
	if len(pending) != 0 {
		t.Fatalf("%d allocations still pending after the call", len(pending))
	}
}

func TestReallocGrowsWithItsContents(t *testing.T) {
	defer Leave()
	p := realloc(0, 0, 4, 8)
	copy(at(p, 8), "abcdefgh")
	q := realloc(p, 8, 4, 64)
	if q%4 != 0 || !bytes.Equal(at(q, 8), []byte("abcdefgh")) {
		t.Fatalf("grown to %#x: %q", q, at(q, 8))
	}
}

func TestReallocOfNothingIsAnAlignedNonNullPointer(t *testing.T) {
	for _, align := range []uint32{1, 4, 8} {
		if p := realloc(0, 0, align, 0); p != align {
			t.Fatalf("realloc(align %d, 0) = %d", align, p)
		}
	}
}

func TestAdapterArenaIsABumpAllocatorThatTrapsWhenFull(t *testing.T) {
	saved := adapterUsed
	defer func() { adapterUsed = saved }()
	base := uint32(uintptr(unsafe.Pointer(&adapterArena)))
	end := base + uint32(unsafe.Sizeof(adapterArena))
	a := reallocAdapter(0, 0, 8, 10)
	b := reallocAdapter(0, 0, 8, 100)
	c := reallocAdapter(0, 0, 1, 1)
	if a%8 != 0 || b%8 != 0 || b < a+10 || c < b+100 || a < base || c+1 > end {
		t.Fatalf("adapter allocations %#x %#x %#x in [%#x, %#x)", a, b, c, base, end)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an allocation past the arena did not trap")
		}
	}()
	reallocAdapter(0, 0, 8, uint32(unsafe.Sizeof(adapterArena)))
}

func TestArgumentsAreLiftedWithoutCopies(t *testing.T) {
	data := []byte("hello, world")
	p := Ptr(data)
	if got := Bytes(p, uint32(len(data))); &got[0] != &data[0] || string(got) != "hello, world" {
		t.Fatalf("Bytes: %q", got)
	}
	if got := String(p+7, 5); got != "world" {
		t.Fatalf("String: %q", got)
	}
	if len(Bytes(0, 0)) != 0 || String(0, 0) != "" {
		t.Fatal("an empty argument at address 0 must not be read")
	}
	runtime.KeepAlive(data)
}

func TestConfigEntriesAreLifted(t *testing.T) {
	k1, v1, k2 := []byte("route_field"), []byte("kind"), []byte("empty")
	// list<tuple<string, string>>: (key ptr, key len, value ptr, value len) each.
	raw := []uint32{Ptr(k1), 11, Ptr(v1), 4, Ptr(k2), 5, 0, 0}
	got := Entries(Ptr(unsafe.Slice((*byte)(unsafe.Pointer(&raw[0])), 32)), 2)
	want := [][2]string{{"route_field", "kind"}, {"empty", ""}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("entries %q, want %q", got, want)
	}
	runtime.KeepAlive(raw)
	runtime.KeepAlive([][]byte{k1, v1, k2})
}

func TestResultLayout(t *testing.T) {
	var r Result
	list := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	addr := r.Ok(list, 2)
	if addr%4 != 0 || at(addr, 1)[0] != 0 || u32(addr+4) != Ptr(list) || u32(addr+8) != 2 {
		t.Fatalf("ok: % x", at(addr, 12))
	}
	addr = r.Err(errors.New("config `n`: not a number"))
	if at(addr, 1)[0] != 1 || string(at(u32(addr+4), u32(addr+8))) != "config `n`: not a number" {
		t.Fatalf("err: % x", at(addr, 12))
	}
	// The message outlives a collection: it is kept until the next call.
	runtime.GC()
	if string(at(u32(addr+4), u32(addr+8))) != "config `n`: not a number" {
		t.Fatal("the error message was collected before the host read it")
	}
}

func gcs() uint32 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.NumGC
}

var sink [][]byte

func TestTheHeapIsCollectedOnlyBetweenCalls(t *testing.T) {
	// As if the last call had just collected.
	metrics.Read(allocs)
	lastCollected = allocs[0].Value.Uint64()
	before := gcs()
	// Allocations below the threshold: no collection, not even at Leave.
	for range 64 {
		sink = append(sink, make([]byte, 16<<10))
	}
	Leave()
	if n := gcs(); n != before {
		t.Fatalf("%d collections after 1 MiB", n-before)
	}
	// Past the threshold: none while allocating (the collector is off), one at Leave.
	for range 10 {
		sink = append(sink, make([]byte, 1<<20))
	}
	if n := gcs(); n != before {
		t.Fatalf("%d collections during a call", n-before)
	}
	Leave()
	if n := gcs(); n != before+1 {
		t.Fatalf("%d collections at the end of the call, want 1", n-before)
	}
	sink = nil
}
