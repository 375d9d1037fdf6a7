package payment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/faka-dev/faka"
)

// MaxSettingLength bounds one setting's value, in bytes.
const MaxSettingLength = 4096

// MaskPrefix starts a masked secret: "••••" and the secret's last four
// characters. A PUT that sends a masked value back keeps the stored one.
const MaskPrefix = "••••"

// Field is one setting of a gateway kind.
type Field struct {
	Name     string
	Required bool
	Secret   bool // masked when listed, sealed at rest like everything else
	// Multiline fields (PEM keys and certificates) may hold line breaks;
	// a CRLF is kept as LF. Every other field is one line.
	Multiline bool
}

// Settings are a gateway's configured values by field name.
type Settings map[string]string

// Env is what every configured gateway is built with.
type Env struct {
	// PublicURL is the shop's absolute base URL, without a trailing slash:
	// the base of the notify and return URLs given to providers.
	PublicURL string
	// Client makes the gateways' calls to their providers; nil means a
	// client with a 15 s timeout.
	Client *http.Client
}

// Kind is a gateway that the merchant configures in the database.
type Kind struct {
	Name   string
	Fields []Field
	// New builds the gateway from settings that have every required field
	// and no unknown one. It checks the values (an EInvalid error for a
	// bad one) and makes no network call.
	New func(s Settings, env Env) (Gateway, error)
}

// Sealer encrypts settings at rest; *keyring.Keyring implements it.
type Sealer interface {
	Seal(aad, plaintext []byte) []byte
	Open(aad, sealed []byte) ([]byte, error)
}

// GatewayView is a configured gateway as the admin API shows it: secrets
// masked.
type GatewayView struct {
	Name      string            `json:"name"`
	Enabled   bool              `json:"enabled"`
	Active    bool              `json:"active"` // in the registry now (buyers may choose it)
	Default   bool              `json:"default"`
	Settings  map[string]string `json:"settings"`
	UpdatedAt *time.Time        `json:"updated_at,omitempty"`
	Error     string            `json:"error,omitempty"` // why stored settings could not be used
}

// Manager keeps the configurable gateways' settings in the store, sealed,
// and the registry in step with them: a change takes effect without a
// restart. It is safe for concurrent use.
type Manager struct {
	store  faka.GatewayStore
	sealer Sealer
	reg    *Registry
	kinds  map[string]Kind
	order  []string
	env    Env
	mu     sync.Mutex // serialises Put and Load, so the registry follows the store's order of writes
	// applied is the stored version (UpdatedAt) the registry holds for
	// each name, so that a reload rebuilds only what changed.
	applied map[string]time.Time
}

// NewManager returns a Manager of kinds over the store, sealing with
// sealer and enabling gateways in reg.
func NewManager(store faka.GatewayStore, sealer Sealer, reg *Registry, env Env, kinds ...Kind) (*Manager, error) {
	if store == nil || sealer == nil || reg == nil {
		return nil, errors.New("payment: NewManager needs a store, a sealer and a registry")
	}
	env.PublicURL = strings.TrimRight(env.PublicURL, "/")
	if env.Client == nil {
		env.Client = &http.Client{Timeout: 15 * time.Second}
	}
	m := &Manager{store: store, sealer: sealer, reg: reg, kinds: map[string]Kind{}, env: env, applied: map[string]time.Time{}}
	for _, k := range kinds {
		if !ValidName(k.Name) || k.New == nil {
			return nil, fmt.Errorf("payment: kind %q is malformed", k.Name)
		}
		if _, dup := m.kinds[k.Name]; dup {
			return nil, fmt.Errorf("payment: kind %q given twice", k.Name)
		}
		m.kinds[k.Name] = k
		m.order = append(m.order, k.Name)
	}
	return m, nil
}

func settingsAAD(name string) []byte { return []byte("faka/gateway/" + name) }

// Load enables every stored gateway that is enabled and disables the
// others, so that the registry follows the database (at start, and again
// to pick up changes made through another instance). Settings that cannot
// be opened or used are skipped and reported in the joined error; the
// rest are applied.
func (m *Manager) Load(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	all, err := m.store.GatewaySettingsList(ctx)
	if err != nil {
		return fmt.Errorf("payment: load gateway settings: %w", err)
	}
	var errs []error
	for _, gs := range all {
		k, ok := m.kinds[gs.Name]
		if !ok {
			continue // a kind this build does not know
		}
		if at, ok := m.applied[gs.Name]; ok && at.Equal(gs.UpdatedAt) {
			continue
		}
		m.applied[gs.Name] = gs.UpdatedAt
		if !gs.Enabled {
			m.reg.Remove(gs.Name)
			continue
		}
		s, err := m.open(gs)
		if err == nil {
			var g Gateway
			if g, err = k.New(s, m.env); err == nil {
				err = m.reg.Set(g)
			}
		}
		if err != nil {
			m.reg.Remove(gs.Name)
			errs = append(errs, fmt.Errorf("payment: gateway %s: %w", gs.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) open(gs *faka.GatewaySetting) (Settings, error) {
	pt, err := m.sealer.Open(settingsAAD(gs.Name), gs.Sealed)
	if err != nil {
		return nil, fmt.Errorf("open sealed settings: %w", err)
	}
	var s Settings
	if err := json.Unmarshal(pt, &s); err != nil {
		return nil, fmt.Errorf("decode settings: %w", err)
	}
	return s, nil
}

// Put configures the gateway called name from a JSON object of its
// fields and "enabled" (true or false, required), stores the settings
// sealed, and enables or disables the gateway at once. Fields omitted, or
// sent back masked, keep their stored values; a kind this build does not
// configure is ENotFound; an unknown field, a missing required one or a
// bad value is EInvalid.
func (m *Manager) Put(ctx context.Context, name string, body []byte) (*GatewayView, error) {
	k, ok := m.kinds[name]
	if !ok {
		return nil, faka.Errorf(faka.ENotFound, "no configurable gateway %q; configurable: %s", name, strings.Join(m.order, ", "))
	}
	enabled, given, err := parsePut(k, body)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Settings{}
	old, err := m.store.GatewaySettingsGet(ctx, name)
	switch {
	case err == nil:
		if s, err = m.open(old); err != nil {
			// Unreadable old settings (another master key?): start afresh.
			s = Settings{}
		}
	case faka.ErrorCode(err) != faka.ENotFound:
		return nil, err
	}
	for f, v := range given {
		if v == "" {
			delete(s, f)
			continue
		}
		if strings.HasPrefix(v, MaskPrefix) && fieldOf(k, f).Secret {
			if _, had := s[f]; had {
				continue // sent back masked: keep the stored secret
			}
			return nil, faka.Errorf(faka.EInvalid, "%s: send the secret itself, not a masked value", f)
		}
		s[f] = v
	}
	for _, f := range k.Fields {
		if f.Required && s[f.Name] == "" {
			return nil, faka.Errorf(faka.EInvalid, "%s is required", f.Name)
		}
	}
	g, err := k.New(s, m.env)
	if err != nil {
		if faka.ErrorCode(err) == faka.EInternal {
			return nil, err
		}
		return nil, faka.Errorf(faka.EInvalid, "%s", faka.ErrorMessage(err))
	}
	pt, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("payment: encode settings: %w", err)
	}
	gs := &faka.GatewaySetting{Name: name, Enabled: enabled, Sealed: m.sealer.Seal(settingsAAD(name), pt)}
	if err := m.store.GatewaySettingsPut(ctx, gs); err != nil {
		return nil, err
	}
	m.applied[name] = gs.UpdatedAt
	if enabled {
		if err := m.reg.Set(g); err != nil {
			return nil, err
		}
	} else {
		m.reg.Remove(name)
	}
	return m.view(k, gs, s, nil), nil
}

func fieldOf(k Kind, name string) Field {
	for _, f := range k.Fields {
		if f.Name == name {
			return f
		}
	}
	return Field{}
}

// parsePut reads a PUT body strictly: one JSON object, "enabled" a
// boolean, every other member a known field whose value is a string or a
// number (merchant ids are often sent as numbers).
func parsePut(k Kind, body []byte) (enabled bool, given Settings, err error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return false, nil, faka.Errorf(faka.EBadRequest, "the body must be one JSON object")
	}
	if dec.More() {
		return false, nil, faka.Errorf(faka.EBadRequest, "data after the JSON object")
	}
	en, ok := raw["enabled"]
	if !ok {
		return false, nil, faka.Errorf(faka.EInvalid, `"enabled" (true or false) is required`)
	}
	if err := json.Unmarshal(en, &enabled); err != nil {
		return false, nil, faka.Errorf(faka.EInvalid, `"enabled" must be true or false`)
	}
	delete(raw, "enabled")
	given = Settings{}
	names := make([]string, 0, len(k.Fields))
	multiline := map[string]bool{}
	for _, f := range k.Fields {
		names = append(names, f.Name)
		multiline[f.Name] = f.Multiline
	}
	for key, v := range raw {
		if !slices.Contains(names, key) {
			return false, nil, faka.Errorf(faka.EInvalid, "unknown field %q; %s takes %s and enabled", key, k.Name, strings.Join(names, ", "))
		}
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			var num json.Number
			d := json.NewDecoder(bytes.NewReader(v))
			d.UseNumber()
			if err := d.Decode(&num); err != nil {
				return false, nil, faka.Errorf(faka.EInvalid, "%s must be a string", key)
			}
			str = num.String()
		}
		str = strings.TrimSpace(str)
		control := func(r rune) bool { return r < 0x20 || r == 0x7f }
		if multiline[key] {
			str = strings.ReplaceAll(str, "\r\n", "\n")
			control = func(r rune) bool { return (r < 0x20 && r != '\n') || r == 0x7f }
		}
		if len(str) > MaxSettingLength || !utf8.ValidString(str) || strings.ContainsFunc(str, control) {
			return false, nil, faka.Errorf(faka.EInvalid, "%s must be text of at most %d bytes without control characters", key, MaxSettingLength)
		}
		given[key] = str
	}
	return enabled, given, nil
}

// Kinds returns the configurable gateway kinds in the order given to
// NewManager, with their fields.
func (m *Manager) Kinds() []Kind {
	out := make([]Kind, 0, len(m.order))
	for _, name := range m.order {
		k := m.kinds[name]
		k.Fields = slices.Clone(k.Fields)
		out = append(out, k)
	}
	return out
}

// List returns every configurable gateway, configured or not, secrets
// masked, in the order of the kinds.
func (m *Manager) List(ctx context.Context) ([]*GatewayView, error) {
	all, err := m.store.GatewaySettingsList(ctx)
	if err != nil {
		return nil, fmt.Errorf("payment: list gateway settings: %w", err)
	}
	byName := map[string]*faka.GatewaySetting{}
	for _, gs := range all {
		byName[gs.Name] = gs
	}
	out := make([]*GatewayView, 0, len(m.order))
	for _, name := range m.order {
		k := m.kinds[name]
		gs, ok := byName[name]
		if !ok {
			out = append(out, m.view(k, nil, nil, nil))
			continue
		}
		s, err := m.open(gs)
		out = append(out, m.view(k, gs, s, err))
	}
	return out, nil
}

func (m *Manager) view(k Kind, gs *faka.GatewaySetting, s Settings, openErr error) *GatewayView {
	v := &GatewayView{Name: k.Name, Settings: map[string]string{}}
	for _, f := range k.Fields {
		val := s[f.Name]
		if f.Secret && val != "" {
			val = Mask(val)
		}
		v.Settings[f.Name] = val
	}
	if gs != nil {
		v.Enabled = gs.Enabled
		t := gs.UpdatedAt
		v.UpdatedAt = &t
	}
	if openErr != nil {
		v.Error = "the stored settings cannot be read with this master key"
	}
	_, v.Active = m.reg.Get(k.Name)
	if d, ok := m.reg.Default(); ok && d.Name() == k.Name {
		v.Default = true
	}
	return v
}

// Mask hides a secret but for its last four characters, and all of a
// short one.
func Mask(secret string) string {
	r := []rune(secret)
	if len(r) <= 8 {
		return MaskPrefix
	}
	return MaskPrefix + string(r[len(r)-4:])
}
