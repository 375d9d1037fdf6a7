package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set with -ldflags "-X main.version=… -X main.commit=… -X main.date=…" by
// make release; otherwise read from the build information Go records.
var (
	version = ""
	commit  = ""
	date    = ""
)

// versionInfo is what `faka version` prints.
type versionInfo struct {
	Version, Commit, Date, Go string
	Modified                  bool
}

// readVersion combines the -ldflags values with the module version and
// the VCS stamp of debug.ReadBuildInfo.
func readVersion() versionInfo {
	v := versionInfo{Version: version, Commit: commit, Date: date, Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.time":
				if v.Date == "" {
					v.Date = s.Value
				}
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	return v
}

func (v versionInfo) String() string {
	s := "faka " + v.Version
	if v.Commit != "" {
		s += " commit " + v.Commit
		if v.Modified {
			s += "+modified"
		}
	}
	if v.Date != "" {
		s += " built " + v.Date
	}
	return fmt.Sprintf("%s (%s)", s, v.Go)
}
