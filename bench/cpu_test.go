package bench

import (
	"testing"
	"time"
)

// TestParseCPU reads the CPU fields of a /proc/PID/stat line whose command
// name holds spaces and parentheses, as a process may name itself.
func TestParseCPU(t *testing.T) {
	t.Parallel()
	line := []byte("2200 (post gres) (x)) S 1 2200 2200 0 -1 4194304 6239 319734 0 16 9 32 17511 8075 20 0 1 0 4749 222543872 7633\n")
	name, _, ok := commName(line)
	if !ok || name != "post gres) (x)" {
		t.Fatalf("commName = %q, %v", name, ok)
	}
	self, ok := parseCPU(line, false)
	if !ok || self != (9+32)*clockTick {
		t.Errorf("utime+stime = %v, %v; want %v", self, ok, (9+32)*clockTick)
	}
	all, ok := parseCPU(line, true)
	if want := (9 + 32 + 17511 + 8075) * clockTick; !ok || all != want {
		t.Errorf("with children = %v, %v; want %v", all, ok, want)
	}
	if _, ok := parseCPU([]byte("12 (short) S 1 2"), false); ok {
		t.Error("a truncated line parsed")
	}
	a := cpuSample{self: time.Second, services: 2 * time.Second, ok: true}
	b := cpuSample{self: 3 * time.Second, services: 3 * time.Second, ok: true}
	if s, svc := cpuPer(a, b, 1000); s != 2000 || svc != 1000 {
		t.Errorf("cpuPer = %v, %v; want 2000, 1000 µs", s, svc)
	}
	if s, svc := cpuPer(cpuSample{}, b, 1000); s != 0 || svc != 0 {
		t.Errorf("cpuPer without a first sample = %v, %v; want 0, 0", s, svc)
	}
}

// TestReadCPUSelf reads this process's CPU time where /proc exists.
func TestReadCPUSelf(t *testing.T) {
	t.Parallel()
	s := readCPU([]string{"no-such-service-name"})
	if !s.ok {
		t.Skip("no /proc/self/stat here")
	}
	if s.self < 0 || s.services != 0 {
		t.Errorf("readCPU = %+v; want a non-negative own time and no service time", s)
	}
}
