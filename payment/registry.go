package payment

import (
	"slices"
	"sync"

	"github.com/faka-dev/faka"
)

// MaxNameLength is the longest gateway name.
const MaxNameLength = 32

// Registry holds the enabled gateways by name. It is safe for concurrent
// use, so gateways may be enabled while the server runs.
type Registry struct {
	mu    sync.RWMutex
	byKey map[string]Gateway
	names []string // registration order
	def   string
}

// NewRegistry returns a registry holding gws, in order; the first is the
// default.
func NewRegistry(gws ...Gateway) (*Registry, error) {
	r := &Registry{byKey: make(map[string]Gateway)}
	for _, g := range gws {
		if err := r.Register(g); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register enables g. The first gateway registered becomes the default.
// A name that is malformed is an EInvalid error; one already taken is an
// EConflict error.
func (r *Registry) Register(g Gateway) error {
	if err := checkGateway(g); err != nil {
		return err
	}
	name := g.Name()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byKey[name]; ok {
		return faka.Errorf(faka.EConflict, "payment: gateway %q is already registered", name)
	}
	r.byKey[name] = g
	r.names = append(r.names, name)
	if r.def == "" {
		r.def = name
	}
	return nil
}

// Set enables g, replacing the gateway of the same name if one is
// enabled (new settings take effect for the next request; one already
// running keeps the gateway it looked up). A replaced gateway keeps its
// place in the order and its default status.
func (r *Registry) Set(g Gateway) error {
	if err := checkGateway(g); err != nil {
		return err
	}
	name := g.Name()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byKey[name]; !ok {
		r.names = append(r.names, name)
	}
	r.byKey[name] = g
	if r.def == "" {
		r.def = name
	}
	return nil
}

// Remove disables the gateway called name, and reports whether one was
// enabled. When it was the default, the first remaining gateway becomes
// the default.
func (r *Registry) Remove(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byKey[name]; !ok {
		return false
	}
	delete(r.byKey, name)
	r.names = slices.DeleteFunc(r.names, func(n string) bool { return n == name })
	if r.def == name {
		r.def = ""
		if len(r.names) > 0 {
			r.def = r.names[0]
		}
	}
	return true
}

func checkGateway(g Gateway) error {
	if g == nil {
		return faka.Errorf(faka.EInvalid, "payment: nil gateway")
	}
	if name := g.Name(); !ValidName(name) {
		return faka.Errorf(faka.EInvalid, "payment: gateway name %q must be 1 to %d lower-case letters, digits, '-' or '_'", name, MaxNameLength)
	}
	return nil
}

// Get returns the enabled gateway called name.
func (r *Registry) Get(name string) (Gateway, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g, ok := r.byKey[name]
	return g, ok
}

// Names returns the names of the enabled gateways in registration order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]string(nil), r.names...)
}

// Default returns the gateway used when an order names none, and false
// when no gateway is enabled. A test gateway is the default only while no
// other gateway is enabled: a buyer who presses "Pay" without choosing
// must never get keys for nothing.
func (r *Registry) Default() (Gateway, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g, ok := r.byKey[r.def]
	if ok && IsTest(g) {
		for _, name := range r.names {
			if real := r.byKey[name]; !IsTest(real) {
				return real, true
			}
		}
	}
	return g, ok
}

// TestMode reports whether a test gateway is enabled.
func (r *Registry) TestMode() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, g := range r.byKey {
		if IsTest(g) {
			return true
		}
	}
	return false
}

// SetDefault makes the enabled gateway called name the default. An unknown
// name is an ENotFound error.
func (r *Registry) SetDefault(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byKey[name]; !ok {
		return faka.Errorf(faka.ENotFound, "payment: no gateway %q is enabled", name)
	}
	r.def = name
	return nil
}

// ValidName reports whether name may name a gateway.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
