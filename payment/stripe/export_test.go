package stripe

import "time"

// SetClock makes g read the time from now instead of time.Now, so that
// tests can follow an order through its life without waiting.
func SetClock(g *Gateway, now func() time.Time) { g.now = now }
