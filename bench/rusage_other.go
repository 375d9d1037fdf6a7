//go:build !unix

package bench

import "os"

// maxRSSMB is unknown here.
func maxRSSMB(*os.ProcessState) float64 { return 0 }
