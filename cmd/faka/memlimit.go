package main

import (
	"fmt"
	"log/slog"
	"runtime/debug"
)

// defaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT
// is unset. Bursts of garbage (a 46 MiB argon2id hash per sign-in, a large
// key import) are then collected before the heap doubles, which keeps a
// small VPS's RSS flat; it is a target for the collector, not a cap, so a
// shop that needs more still gets it.
const defaultMemoryLimit = 256 << 20

// setMemoryLimit applies defaultMemoryLimit unless GOMEMLIMIT chose one
// (the runtime has then read it already).
func setMemoryLimit(getenv func(string) string, log *slog.Logger) {
	if getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
	log.Info("memory limit (the default; GOMEMLIMIT changes it)", "GOMEMLIMIT", fmt.Sprintf("%dMiB", defaultMemoryLimit>>20))
}
