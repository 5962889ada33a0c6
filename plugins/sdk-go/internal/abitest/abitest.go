//go:build wasip1

// Package abitest plays the host's side of the canonical ABI in the world
// packages' tests: it lowers arguments into memory from cabi_realloc, as
// wasmtime does, and reads results from a return area at the offsets the
// canonical ABI gives (not from the SDK's own structs, so that a wrong
// layout in the SDK fails the tests).
package abitest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"streamplug.dev/sdk-go/internal/abi"
)

// Vectors is the folder of the shared test vectors, from a world package.
const Vectors = "../../../wit/test-vectors"

func mem(addr, n uint32) []byte {
	if n == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Add(nil, uintptr(addr))), n)
}

// Lower copies b into memory from cabi_realloc (align 1, as list<u8>).
func Lower(b []byte) (ptr, n uint32) {
	if len(b) == 0 {
		// wasmtime asks for no memory for an empty list: any aligned pointer.
		return 1, 0
	}
	ptr = abi.HostAlloc(uint32(len(b)), 1)
	copy(mem(ptr, uint32(len(b))), b)
	return ptr, uint32(len(b))
}

// LowerConfig lowers a list<tuple<string, string>>: 16-byte elements of two
// (pointer, length) pairs, align 4.
func LowerConfig(pairs ...[2]string) (ptr, n uint32) {
	if len(pairs) == 0 {
		return 4, 0
	}
	ptr = abi.HostAlloc(16*uint32(len(pairs)), 4)
	for i, kv := range pairs {
		k, kn := Lower([]byte(kv[0]))
		v, vn := Lower([]byte(kv[1]))
		PutU32(ptr+16*uint32(i), k)
		PutU32(ptr+16*uint32(i)+4, kn)
		PutU32(ptr+16*uint32(i)+8, v)
		PutU32(ptr+16*uint32(i)+12, vn)
	}
	return ptr, uint32(len(pairs))
}

// Bytes copies n bytes at addr (what the host lifts).
func Bytes(addr, n uint32) []byte { return append([]byte{}, mem(addr, n)...) }

// U8 is the byte at addr.
func U8(addr uint32) uint8 { return mem(addr, 1)[0] }

// U32 is the little-endian u32 at addr.
func U32(addr uint32) uint32 {
	b := mem(addr, 4)
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// PutU32 stores v little-endian at addr.
func PutU32(addr, v uint32) {
	b := mem(addr, 4)
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// PutU64 stores v little-endian at addr.
func PutU64(addr uint32, v uint64) {
	PutU32(addr, uint32(v))
	PutU32(addr+4, uint32(v>>32))
}

// Result lifts a result<list<T>, string> (or result<_, string>) from its
// return area: discriminant at 0, then pointer at 4 and length at 8. ok is
// false for an err, whose message is then in err.
func Result(t *testing.T, addr uint32, elemSize uint32) (list []byte, ok bool, err string) {
	t.Helper()
	if addr%4 != 0 {
		t.Fatalf("return area at %#x is not 4-aligned", addr)
	}
	switch U8(addr) {
	case 0:
		return Bytes(U32(addr+4), U32(addr+8)*elemSize), true, ""
	case 1:
		return nil, false, string(Bytes(U32(addr+4), U32(addr+8)))
	default:
		t.Fatalf("result discriminant %d", U8(addr))
		return nil, false, ""
	}
}

// Vector is one shared test vector: its batch and either its records'
// description (.txt) or the host's error for it (.err).
type Vector struct {
	Name  string
	Batch []byte
	Err   string // "" for a valid batch
}

// AllVectors reads every shared vector, valid and invalid.
func AllVectors(t *testing.T) []Vector {
	t.Helper()
	bins, _ := filepath.Glob(filepath.Join(Vectors, "*.bin"))
	if len(bins) < 10 {
		t.Fatalf("expected the shared vectors in %s, found %d", Vectors, len(bins))
	}
	var out []Vector
	for _, bin := range bins {
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		v := Vector{Name: strings.TrimSuffix(filepath.Base(bin), ".bin"), Batch: b}
		if e, err := os.ReadFile(strings.TrimSuffix(bin, ".bin") + ".err"); err == nil {
			v.Err = strings.TrimSpace(string(e))
		}
		out = append(out, v)
	}
	return out
}

// HostAlloc is cabi_realloc as the host calls it.
func HostAlloc(size, align uint32) uint32 { return abi.HostAlloc(size, align) }
