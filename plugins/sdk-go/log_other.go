//go:build !wasip1

package streamplug

import (
	"fmt"
	"os"
)

// Natively (unit tests) lines go to stderr.
func hostLog(level Level, line string) {
	fmt.Fprintf(os.Stderr, "[%d] %s\n", level, line)
}
