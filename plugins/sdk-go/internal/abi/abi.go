//go:build wasip1

// Package abi is the canonical ABI of streamplug:plugin@0.2.0 as the world
// packages need it, and the memory rules that make a Go module a component
// wasmtime can call.
//
// Wasmtime runs a component's `cabi_realloc` (and post-return functions)
// with the instance's `may_leave` flag cleared: any import call from them
// traps with "cannot leave component instance". The Go runtime calls WASI
// imports (clock_time_get, poll_oneoff, fd_write) whenever it starts or
// assists a garbage collection or schedules goroutines. So:
//   - the collector is off (GOGC=off) and collects only at the end of an
//     export call, where imports are allowed (Leave); an allocation in
//     cabi_realloc then never starts a collection;
//   - the WASI adapter, which allocates its state while the Go runtime is
//     still starting (inside _initialize), gets `cabi_realloc_adapter`: a
//     bump allocator over a static array that needs no runtime at all. (The
//     alternative, the adapter growing memory itself, breaks Go's allocator,
//     which assumes it owns every page above its break.)
//   - no export has a post-return function: results stay in Go memory held
//     by globals until the next call.
package abi

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"unsafe"
)

func init() {
	debug.SetGCPercent(-1)
	// Sampling an allocation can take locks and timestamps: none in cabi_realloc.
	runtime.MemProfileRate = 0
}

// adapterArena is the WASI adapter's memory: its state and stack, once per instance.
var adapterArena [256 << 10 / 8]uint64
var adapterUsed uintptr

//go:wasmexport cabi_realloc_adapter
//go:nosplit
func reallocAdapter(old, oldSize, align, newSize uint32) uint32 {
	base := uintptr(unsafe.Pointer(&adapterArena))
	a := uintptr(align)
	p := (base + adapterUsed + a - 1) &^ (a - 1)
	end := p + uintptr(newSize)
	if old != 0 || end > base+unsafe.Sizeof(adapterArena) {
		// Out of room (the adapter asks once for a page and its state): trap.
		*(*uint32)(nil) = 0
	}
	adapterUsed = end - base
	return uint32(p)
}

// pending holds what the host allocated for the current call's arguments
// until the call ends (the host has only raw pointers to them).
var pending [][]byte

//go:wasmexport cabi_realloc
func realloc(old, oldSize, align, newSize uint32) uint32 {
	if newSize == 0 {
		return align
	}
	// 16 bytes at least: smaller objects go to Go's tiny allocator, which aligns them less than 8.
	buf := make([]byte, max(newSize, 16))
	if old != 0 {
		copy(buf, unsafe.Slice((*byte)(host(old)), oldSize))
	}
	pending = append(pending, buf)
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
}

// HostAlloc is cabi_realloc as the host calls it to lower an argument (the
// world packages' tests lower their arguments through it).
func HostAlloc(size, align uint32) uint32 { return realloc(0, 0, align, size) }

// collectEvery is how much a plugin allocates between collections.
const collectEvery = 8 << 20

var (
	allocs        = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	lastCollected uint64
)

// Leave ends an export call: the arguments are released and, once enough
// was allocated since the last one, the heap is collected here, where the
// runtime may call imports.
func Leave() {
	clear(pending)
	pending = pending[:0]
	metrics.Read(allocs)
	if now := allocs[0].Value.Uint64(); now-lastCollected >= collectEvery {
		runtime.GC()
		// A collection may leave a stop request on this goroutine, served at
		// a function entry by the scheduler: yield here so that it cannot be
		// served in the next cabi_realloc. (Defensive: the tests did not
		// trap without it.)
		runtime.Gosched()
		lastCollected = now
	}
}

// host is a linear-memory address the host passed in.
func host(addr uint32) unsafe.Pointer { return unsafe.Add(nil, uintptr(addr)) }

// Bytes is the memory at ptr as a slice (the host's argument).
func Bytes(ptr, n uint32) []byte {
	if n == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(host(ptr)), n)
}

// String is the memory at ptr as a string (the host's argument, valid during the call).
func String(ptr, n uint32) string {
	if n == 0 {
		return ""
	}
	return unsafe.String((*byte)(host(ptr)), n)
}

// Ptr is the address of b's data (kept alive by the caller).
func Ptr(b []byte) uint32 {
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// Entries is the host's `config` (a list of 16-byte (string, string) pairs)
// copied into Go strings.
func Entries(ptr, n uint32) [][2]string {
	raw := unsafe.Slice((*[4]uint32)(host(ptr)), n)
	out := make([][2]string, n)
	for i, e := range raw {
		out[i] = [2]string{string(Bytes(e[0], e[1])), string(Bytes(e[2], e[3]))}
	}
	return out
}

// Result is the return area of `result<_, string>` and `result<list<..>, string>`.
type Result struct {
	Tag uint8 // 0 ok, 1 err
	_   [3]byte
	Ptr uint32
	Len uint32
}

// keep holds the memory a result points to until the next call.
var keep [2][]byte

// Ok fills r with an ok list (or nothing) and returns its address.
func (r *Result) Ok(list []byte, n int) uint32 {
	keep[0] = list
	*r = Result{Ptr: Ptr(list), Len: uint32(n)}
	return r.addr()
}

// Err fills r with an error message and returns its address.
func (r *Result) Err(err error) uint32 {
	msg := []byte(err.Error())
	keep[0] = msg
	*r = Result{Tag: 1, Ptr: Ptr(msg), Len: uint32(len(msg))}
	return r.addr()
}

func (r *Result) addr() uint32 { return uint32(uintptr(unsafe.Pointer(r))) }

// Keep holds b (a second result field) until the next call.
func Keep(b []byte) { keep[1] = b }

// Addr is the address of a return area.
func Addr[T any](p *T) uint32 { return uint32(uintptr(unsafe.Pointer(p))) }
