package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/alipay"
	"github.com/faka-dev/faka/payment/epay"
	"github.com/faka-dev/faka/payment/epusdt"
	"github.com/faka-dev/faka/payment/sandbox"
	"github.com/faka-dev/faka/payment/stripe"
	"github.com/faka-dev/faka/payment/wechat"
	"github.com/faka-dev/faka/postgres"
	"github.com/faka-dev/faka/redisgate"
	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/web"
)

// Main is a running faka server: its store, engine and HTTP server.
type Main struct {
	Config Config
	Logger *slog.Logger
	Out    io.Writer // where the demo banner goes

	Store   store
	Engine  *engine.Engine
	Handler *web.Server

	listener net.Listener
	server   *http.Server
	redis    *redis.Client
	// redisPrefix begins every Redis key (FAKA_REDIS_URL's key_prefix).
	redisPrefix string

	demoAccount  string             // the demo console account, when the store has it
	demoPassword string             // the demo console account's, when --demo made one
	stopReload   context.CancelFunc // stops reloading the gateways' settings

	// PollInterval is how often the payment poller asks the gateways about
	// orders whose notification has not come (FAKA_POLL_INTERVAL); 0: never.
	PollInterval time.Duration
	stopPoller   func() // stops the payment poller and waits for it

	// Backup is the schedule of backups of the embedded database
	// (FAKA_BACKUP_DIR…); its Dir "" is off.
	Backup  BackupSchedule
	backups *backupLoop
}

// store is what the binary needs of a store: faka.Store and a readiness
// check.
type store interface {
	faka.Store
	Ping(ctx context.Context) error
}

// openStore opens the store FAKA_DATABASE_URL names: PostgreSQL for
// postgres:// URLs, else the embedded SQLite file.
func openStore(ctx context.Context, c *Config) (store, error) {
	if c.isPostgres() {
		return postgres.Open(ctx, c.DatabaseURL, postgres.Options{})
	}
	return sqlite.Open(ctx, c.dbPath(), sqlite.Options{})
}

// openEngine opens the store, the keyring and an engine over them (not
// started): what every command that touches the database needs.
func openEngine(ctx context.Context, c *Config, log *slog.Logger, counter engine.Counter) (store, *engine.Engine, error) {
	st, e, _, err := openKeyedEngine(ctx, c, log, counter)
	return st, e, err
}

// openKeyedEngine is openEngine that also returns the keyring, which it
// has checked against the database's master key check value.
func openKeyedEngine(ctx context.Context, c *Config, log *slog.Logger, counter engine.Counter) (store, *engine.Engine, *keyring.Keyring, error) {
	kr, err := keyring.LoadOrCreate(c.MasterKeyFile)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkMasterKey(ctx, st, kr, c.MasterKeyFile); err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	// FAKA_ORDER_RATE=0 (load tests) also lifts the hold limit per client.
	e, err := engine.New(engine.Config{Store: st, Keyring: kr, Logger: log, Counter: counter, NoHoldLimit: c.OrderRate == 0})
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return st, e, kr, nil
}

// Open opens the store, starts the engine and listens. Addr may be
// "127.0.0.1:0" for a free port; PublicURL then follows the real one.
func (m *Main) Open(ctx context.Context) error {
	c := &m.Config
	if c.Demo {
		if c.AdminToken == "" {
			c.AdminToken = randomHex(16)
		}
		if c.SandboxSecret == "" {
			c.SandboxSecret = randomHex(16)
		}
	}
	if err := c.checkSandbox(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	m.listener = ln
	if c.PublicURL == "http://"+c.Addr {
		c.PublicURL = "http://" + ln.Addr().String()
	}
	counter, err := m.openCounter(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	st, e, kr, err := openKeyedEngine(ctx, c, m.Logger, counter)
	if err != nil {
		ln.Close()
		return err
	}
	m.Store, m.Engine = st, e
	e.Start(ctx)

	gws, err := payment.NewRegistry()
	if err != nil {
		return err
	}
	if c.SandboxSecret != "" {
		sb, err := sandbox.New([]byte(c.SandboxSecret), c.PublicURL)
		if err != nil {
			return err
		}
		if err := gws.Register(sb); err != nil {
			return err
		}
	}
	gwSettings, err := m.openGatewaySettings(ctx, st, kr, gws)
	if err != nil {
		return err
	}
	if err := m.startPoller(st, e, gws); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "faka_gate_degraded",
			Help: "1 while the shared (Redis) admission gate does not answer and the database alone admits buyers."},
			func() float64 {
				if _, degraded := e.GateStatus(); degraded {
					return 1
				}
				return 0
			}))
	h, err := web.New(web.Config{
		Engine:          e,
		Gateways:        gws,
		GatewaySettings: gwSettings,
		AdminToken:      c.AdminToken,
		PublicURL:       c.PublicURL,
		OrderRate:       c.OrderRate,
		TrustedProxies:  c.TrustedProxies,
		Logger:          m.Logger,
		Registry:        reg,
		MetricsToken:    c.MetricsToken,
		Sealer:          kr,
		Ready:           st.Ping,
		ReadyDetail:     m.gateDetail,
		SharedLimiter:   m.sharedLimiter(),
		LastBackup:      m.lastBackup(),
		// The storefront and the console need a store that keeps their
		// data too; without one, only the API is served.
		Shop:     asShop(st),
		Accounts: asAccounts(st),
		Settings: asSettings(st),
	})
	if err != nil {
		return err
	}
	m.Handler = h
	if c.Demo {
		if err := seedDemo(ctx, e, m.Out); err != nil {
			return err
		}
		if m.demoAccount, m.demoPassword, err = seedDemoAdmin(ctx, st); err != nil {
			return err
		}
	}
	if err := m.startBackups(); err != nil {
		return err
	}
	m.server = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := m.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("http server stopped", "err", err)
		}
	}()
	m.logSummary(ctx, gws, kr.KeyFingerprint())
	return nil
}

// gatewayReload is how often the gateways' settings are read again, so
// that a change made through another instance takes effect here too.
const gatewayReload = 30 * time.Second

// openGatewaySettings enables the gateways configured in the database
// (EPay, epusdt, Alipay, WeChat Pay, Stripe; the sandbox stays configured by the environment) and
// keeps them in step with it. A stored gateway that cannot be used is
// logged, not fatal: the shop still serves the others.
func (m *Main) openGatewaySettings(ctx context.Context, st store, kr *keyring.Keyring, gws *payment.Registry) (*payment.Manager, error) {
	gst, ok := st.(faka.GatewayStore)
	if !ok {
		return nil, nil
	}
	mgr, err := payment.NewManager(gst, kr, gws, payment.Env{PublicURL: m.Config.PublicURL},
		epay.Kind(), epusdt.Kind(), alipay.Kind(), wechat.Kind(), stripe.Kind())
	if err != nil {
		return nil, err
	}
	if err := mgr.Load(ctx); err != nil {
		m.Logger.Warn("some configured gateways are off", "err", err)
	}
	reloadCtx, cancel := context.WithCancel(context.Background())
	m.stopReload = cancel
	go func() {
		t := time.NewTicker(gatewayReload)
		defer t.Stop()
		for {
			select {
			case <-reloadCtx.Done():
				return
			case <-t.C:
				if err := mgr.Load(reloadCtx); err != nil && reloadCtx.Err() == nil {
					m.Logger.Warn("reload gateway settings", "err", err)
				}
			}
		}
	}()
	return mgr, nil
}

// openCounter connects the shared admission gate when FAKA_REDIS_URL is
// set. Redis being down at start is not fatal: the engine runs on the
// database alone until it answers.
func (m *Main) openCounter(ctx context.Context) (engine.Counter, error) {
	if m.Config.RedisURL == "" {
		return nil, nil
	}
	opt, prefix, err := redisOptions(m.Config.RedisURL)
	if err != nil {
		return nil, err
	}
	m.redisPrefix = prefix
	m.redis = redis.NewClient(opt)
	if err := m.redis.Ping(ctx).Err(); err != nil {
		m.Logger.Warn("redis does not answer yet; admitting through the database alone until it does", "addr", opt.Addr, "err", err)
	}
	return redisgate.New(m.redis, prefix+"gate:"), nil
}

// sharedLimiter returns the Redis rate limiter when Redis is configured.
// It returns the interface's nil, not a typed nil pointer, without Redis.
func (m *Main) sharedLimiter() web.SharedLimiter {
	if m.redis == nil {
		return nil
	}
	return redisgate.NewRateLimiter(m.redis, m.redisPrefix+"rate:")
}

// gateDetail is the admission gate's part of /readyz.
func (m *Main) gateDetail() map[string]any {
	shared, degraded := m.Engine.GateStatus()
	gate := "local"
	switch {
	case shared && degraded:
		gate = "redis unreachable: database only"
	case shared:
		gate = "redis"
	}
	return map[string]any{"gate": gate}
}

// URL is the base URL the server answers on.
func (m *Main) URL() string { return m.Config.PublicURL }

// Close stops taking requests, lets running ones finish, then stops the
// engine and closes the database.
func (m *Main) Close() error {
	var errs []error
	if m.stopReload != nil {
		m.stopReload()
	}
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, m.server.Shutdown(ctx))
		cancel()
	} else if m.listener != nil {
		errs = append(errs, m.listener.Close())
	}
	if m.stopPoller != nil {
		m.stopPoller()
	}
	m.backups.stop()
	if m.Engine != nil {
		m.Engine.Close()
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	if m.redis != nil {
		errs = append(errs, m.redis.Close())
	}
	return errors.Join(errs...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// asShop returns st as a faka.ShopStore, or nil when it is not one.
func asShop(st store) faka.ShopStore {
	if s, ok := st.(faka.ShopStore); ok {
		return s
	}
	return nil
}

// asSettings returns st as a faka.ShopSettingsStore, or nil when it is not
// one.
func asSettings(st store) faka.ShopSettingsStore {
	if s, ok := st.(faka.ShopSettingsStore); ok {
		return s
	}
	return nil
}

// asAccounts returns st as a faka.AccountStore, or nil when it is not one.
func asAccounts(st store) faka.AccountStore {
	if s, ok := st.(faka.AccountStore); ok {
		return s
	}
	return nil
}
