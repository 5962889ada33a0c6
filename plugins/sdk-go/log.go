package streamplug

import "fmt"

// Level is a log level of the host.
type Level uint32

const (
	Trace Level = iota
	Debug
	Info
	Warn
	Error
)

// Logf logs a line through the host, tagged with the plugin's name.
func Logf(level Level, format string, args ...any) {
	hostLog(level, fmt.Sprintf(format, args...))
}
