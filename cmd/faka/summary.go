package main

import (
	"context"
	"strings"
	"time"

	"github.com/faka-dev/faka/payment"
)

// logSummary logs the configuration in effect once the server listens,
// and on an empty shop the next step to take.
func (m *Main) logSummary(ctx context.Context, gws *payment.Registry, masterKey string) {
	c := &m.Config
	kind := "sqlite"
	if c.isPostgres() {
		kind = "postgres"
	}
	gate := "local"
	if m.redis != nil {
		gate = "redis"
	}
	gateways := strings.Join(gws.Names(), ",")
	if gateways == "" {
		gateways = "none"
	}
	backup := "off"
	if m.backups != nil {
		backup = m.Backup.Dir + " every " + m.Backup.Every.String()
	}
	m.Logger.Info("faka is serving", "url", c.PublicURL, "database", kind, "where", c.databaseName(),
		"master_key", masterKey, "gate", gate, "gateways", gateways, "sandbox", c.SandboxSecret != "", "admin_api", c.AdminToken != "",
		"email", "off", "backup", backup, "version", readVersion().Version)
	if step := m.nextStep(ctx); step != "" {
		m.Logger.Info("next step: " + step)
	}
}

// nextStep is what a merchant does next on a shop without accounts or
// products, or "".
func (m *Main) nextStep(ctx context.Context) string {
	if accounts := asAccounts(m.Store); accounts != nil {
		if n, err := accounts.AdminCount(ctx); err == nil && n == 0 {
			return "create a console account with `faka admin create --email you@example.com`, then sign in at " +
				m.Config.PublicURL + "/admin (or try `faka serve --demo` on an empty data directory for sample data)"
		}
	}
	if ps, err := m.Engine.Products(ctx, false); err == nil && len(ps) == 0 {
		return "add a product and import its keys in the console at " + m.Config.PublicURL + "/admin"
	}
	return ""
}

// startBackups starts the backup schedule (FAKA_BACKUP_DIR) of the
// embedded database; PostgreSQL is backed up by its own tools.
func (m *Main) startBackups() error {
	if m.Backup.Dir == "" {
		return nil
	}
	if m.Config.isPostgres() {
		m.Logger.Warn("FAKA_BACKUP_DIR is ignored on PostgreSQL: use pg_dump or point-in-time recovery (docs/DEPLOY.md)")
		return nil
	}
	l, err := startBackups(m.Backup, m.Config.dbPath(), m.Config.DataDir, m.Logger)
	if err != nil {
		return err
	}
	m.backups = l
	return nil
}

// lastBackup is the dashboard's source of the last backup: the note in the
// data directory, for the embedded database only.
func (m *Main) lastBackup() func() (time.Time, string, bool) {
	if m.Config.isPostgres() {
		return nil
	}
	dir := m.Config.DataDir
	return func() (time.Time, string, bool) { return readLastBackup(dir) }
}
