//go:build unix

package bench

import (
	"os"
	"syscall"
)

// maxRSSMB returns the peak resident set of a finished child process in
// MB (getrusage's ru_maxrss, kilobytes on Linux), 0 where it is unknown.
func maxRSSMB(ps *os.ProcessState) float64 {
	if ps == nil {
		return 0
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return round2(float64(ru.Maxrss) / 1024)
}
