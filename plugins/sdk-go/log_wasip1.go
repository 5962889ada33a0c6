//go:build wasip1

package streamplug

import (
	"runtime"
	"unsafe"
)

//go:wasmimport streamplug:plugin/log@0.2.0 log
func logImport(level uint32, ptr unsafe.Pointer, n uint32)

func hostLog(level Level, line string) {
	b := []byte(line)
	if len(b) == 0 {
		b = []byte{0}[:0:1]
	}
	logImport(uint32(level), unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
	runtime.KeepAlive(b)
}
