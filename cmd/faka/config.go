package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faka-dev/faka/web"
)

// Config is the start-up configuration (docs/ARCHITECTURE.md §8): flags win over the
// environment, which wins over the defaults.
type Config struct {
	Addr          string
	DataDir       string
	DatabaseURL   string
	RedisURL      string
	MasterKeyFile string
	AdminToken    string
	SandboxSecret string
	// MetricsToken (FAKA_METRICS_TOKEN) opens /metrics to non-loopback
	// clients that present it as a bearer token.
	MetricsToken string
	// SandboxAllowHTTPS (FAKA_SANDBOX_ALLOW_HTTPS=1) lets the sandbox run
	// on a shop whose public URL is https, which otherwise is refused.
	SandboxAllowHTTPS bool
	PublicURL         string
	OrderRate         int
	TrustedProxies    []netip.Prefix
	Demo              bool
}

// DefaultOrderRate is the per-IP order creations per minute when
// FAKA_ORDER_RATE is unset: generous for people, tight for scripts.
const DefaultOrderRate = 60

// configFlags registers the flags of where the shop lives on fs, and with
// server also those of how `faka serve` answers, with defaults taken from
// getenv; it returns a func that finishes the Config after fs.Parse. A
// setting without its flag still comes from the environment, so that every
// command sees one configuration, but it shows only the flags it uses.
func configFlags(fs *flag.FlagSet, getenv func(string) string, server bool) (*Config, func() error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	c := &Config{}
	var rate, proxies string
	fs.StringVar(&c.DataDir, "data-dir", env("FAKA_DATA_DIR", "./data"), "directory of the embedded database and the generated master key (FAKA_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("FAKA_DATABASE_URL", ""), "empty for the embedded SQLite database in the data directory, sqlite:PATH or postgres://… (FAKA_DATABASE_URL)")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", env("FAKA_MASTER_KEY_FILE", ""), "file of the key that encrypts card keys; default $FAKA_DATA_DIR/master.key (FAKA_MASTER_KEY_FILE)")
	c.Addr = env("FAKA_ADDR", "127.0.0.1:8080")
	c.RedisURL = env("FAKA_REDIS_URL", "")
	c.PublicURL = env("FAKA_PUBLIC_URL", "")
	rate = env("FAKA_ORDER_RATE", strconv.Itoa(DefaultOrderRate))
	proxies = env("FAKA_TRUSTED_PROXIES", "")
	if server {
		fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (FAKA_ADDR)")
		fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "redis://… for a shared admission gate (FAKA_REDIS_URL)")
		fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "base of pay, notify and return URLs; default http://$FAKA_ADDR (FAKA_PUBLIC_URL)")
		fs.StringVar(&rate, "order-rate", rate, "order creations per minute per client IP; 0 = unlimited (FAKA_ORDER_RATE)")
		fs.StringVar(&proxies, "trusted-proxies", proxies, "comma-separated CIDRs whose X-Forwarded-For is believed (FAKA_TRUSTED_PROXIES)")
	}
	// Secrets come from the environment only: flags show up in ps.
	c.AdminToken = getenv("FAKA_ADMIN_TOKEN")
	c.SandboxSecret = getenv("FAKA_SANDBOX_SECRET")
	c.MetricsToken = getenv("FAKA_METRICS_TOKEN")
	c.SandboxAllowHTTPS = getenv("FAKA_SANDBOX_ALLOW_HTTPS") == "1"
	finish := func() error {
		n, err := strconv.Atoi(strings.TrimSpace(rate))
		if err != nil || n < 0 {
			return fmt.Errorf("FAKA_ORDER_RATE / -order-rate must be a whole number ≥ 0, got %q", rate)
		}
		c.OrderRate = n
		for _, s := range strings.Split(proxies, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			p, err := netip.ParsePrefix(s)
			if err != nil {
				a, aerr := netip.ParseAddr(s)
				if aerr != nil {
					return fmt.Errorf("FAKA_TRUSTED_PROXIES: %q is not a CIDR: %w", s, err)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			c.TrustedProxies = append(c.TrustedProxies, p.Masked())
		}
		if c.AdminToken != "" {
			if err := web.CheckAdminToken(c.AdminToken); err != nil {
				return fmt.Errorf("FAKA_ADMIN_TOKEN: %w", err)
			}
		}
		if c.MasterKeyFile == "" {
			c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
		}
		if c.PublicURL == "" {
			c.PublicURL = "http://" + c.Addr
		}
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
		if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !c.isPostgres() {
			return errors.New("FAKA_DATABASE_URL must be empty (embedded SQLite in the data directory), sqlite:PATH, or postgres://…")
		}
		return nil
	}
	return c, finish
}

// dbPath is the SQLite file: sqlite:PATH from FAKA_DATABASE_URL, or
// faka.db in the data directory.
func (c *Config) dbPath() string {
	if p, ok := strings.CutPrefix(c.DatabaseURL, "sqlite:"); ok && p != "" {
		return p
	}
	return filepath.Join(c.DataDir, "faka.db")
}

func (c *Config) isPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// databaseName describes the database for logs, without credentials.
func (c *Config) databaseName() string {
	if !c.isPostgres() {
		return c.dbPath()
	}
	if u, err := url.Parse(c.DatabaseURL); err == nil {
		return "postgres://" + u.Host + u.Path
	}
	return "postgres"
}

// checkSandbox refuses the sandbox on a shop whose public URL is https,
// which is what a shop open to real buyers has: there, a sandbox left on
// delivers keys for a press of "Pay". FAKA_SANDBOX_ALLOW_HTTPS=1 allows
// it (a staging shop behind https).
func (c *Config) checkSandbox() error {
	if c.SandboxSecret == "" || c.SandboxAllowHTTPS || !strings.HasPrefix(strings.ToLower(c.PublicURL), "https://") {
		return nil
	}
	return errors.New("the sandbox gateway (FAKA_SANDBOX_SECRET) is on and FAKA_PUBLIC_URL is https: " +
		"buyers of a public shop could take keys without paying. Unset FAKA_SANDBOX_SECRET, " +
		"or set FAKA_SANDBOX_ALLOW_HTTPS=1 if this shop is only for testing")
}
