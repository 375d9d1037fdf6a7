package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ,
// 100 on every Linux this runs on).
const clockTick = 10 * time.Millisecond

// cpuSample is the CPU time used so far by this process (the server when
// it runs in-process, and the load generator) and by the local processes
// of the services behind it (PostgreSQL, Redis).
type cpuSample struct {
	self, services time.Duration
	ok             bool
}

// readCPU samples the CPU times from /proc. The services are the
// processes whose command name is one of services; a backend that exited
// is still counted, through its parent's children's times. Where /proc is
// not there, ok is false and the figures are not reported.
func readCPU(services []string) cpuSample {
	self, ok := procCPU("/proc/self/stat", false)
	if !ok {
		return cpuSample{}
	}
	s := cpuSample{self: self, ok: true}
	if len(services) == 0 {
		return s
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		name, _, ok := commName(b)
		if !ok {
			continue
		}
		for _, svc := range services {
			if name == svc {
				d, _ := parseCPU(b, true)
				s.services += d
				break
			}
		}
	}
	return s
}

// procCPU returns the user and system time of one /proc/PID/stat file,
// with its reaped children's when children is set.
func procCPU(path string, children bool) (time.Duration, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	return parseCPU(b, children)
}

// commName returns the command name of a /proc/PID/stat line and the rest
// of the line after it.
func commName(b []byte) (string, []byte, bool) {
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return "", nil, false
	}
	return string(b[i+1 : j]), b[j+1:], true
}

// parseCPU adds utime and stime (fields 14 and 15 of /proc/PID/stat) and,
// with children, cutime and cstime (16 and 17).
func parseCPU(b []byte, children bool) (time.Duration, bool) {
	_, rest, ok := commName(b)
	if !ok {
		return 0, false
	}
	f := bytes.Fields(rest) // f[0] is field 3, the state
	last := 12              // stime
	if children {
		last = 14 // cstime
	}
	if len(f) <= last {
		return 0, false
	}
	var ticks int64
	for _, x := range f[11 : last+1] {
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, true
}

// cpuPer returns the CPU microseconds per request between two samples.
func cpuPer(a, b cpuSample, requests int) (self, services float64) {
	if !a.ok || !b.ok || requests <= 0 {
		return 0, 0
	}
	us := func(d time.Duration) float64 { return round2(float64(d.Microseconds()) / float64(requests)) }
	return us(b.self - a.self), us(max(0, b.services-a.services))
}
