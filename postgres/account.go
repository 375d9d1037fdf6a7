package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
)

// The console's accounts and sessions (faka.AccountStore).

var _ faka.AccountStore = (*Store)(nil)

// normEmail folds an email address the way both stores store it: in Go,
// not with lower(), whose result depends on the database's locale.
func normEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// AdminCreate implements faka.AccountStore.
func (s *Store) AdminCreate(ctx context.Context, a *faka.Admin) error {
	email := normEmail(a.Email)
	if email == "" || a.PasswordHash == "" {
		return faka.Errorf(faka.EInvalid, "an account needs an email and a password")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO admins (email, password_hash) VALUES ($1, $2) RETURNING id, created_at`,
			email, a.PasswordHash).Scan(&a.ID, &a.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert account: %w", err)
		}
		a.Email = email
		return nil
	})
	if faka.ErrorCode(err) == faka.EConflict {
		return faka.Errorf(faka.EConflict, "an account with email %s already exists", email)
	}
	return err
}

const adminColumns = `id, email, password_hash, created_at`

func scanAdmin(row pgx.Row) (*faka.Admin, error) {
	var a faka.Admin
	if err := row.Scan(&a.ID, &a.Email, &a.PasswordHash, &a.CreatedAt); err != nil {
		return nil, err
	}
	return &a, nil
}

// AdminGet implements faka.AccountStore.
func (s *Store) AdminGet(ctx context.Context, id int64) (*faka.Admin, error) {
	a, err := scanAdmin(s.pool.QueryRow(ctx, `SELECT `+adminColumns+` FROM admins WHERE id = $1`, id))
	if err != nil {
		return nil, translate(fmt.Errorf("account %d: %w", id, err))
	}
	return a, nil
}

// AdminByEmail implements faka.AccountStore.
func (s *Store) AdminByEmail(ctx context.Context, email string) (*faka.Admin, error) {
	a, err := scanAdmin(s.pool.QueryRow(ctx, `SELECT `+adminColumns+` FROM admins WHERE email = $1`, normEmail(email)))
	if err != nil {
		return nil, translate(fmt.Errorf("account by email: %w", err))
	}
	return a, nil
}

// AdminSetPassword implements faka.AccountStore.
func (s *Store) AdminSetPassword(ctx context.Context, id int64, hash string) error {
	if hash == "" {
		return faka.Errorf(faka.EInvalid, "empty password hash")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE admins SET password_hash = $1 WHERE id = $2`, hash, id)
		if err != nil {
			return fmt.Errorf("set password of account %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return faka.Errorf(faka.ENotFound, "account %d not found", id)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE admin_id = $1`, id); err != nil {
			return fmt.Errorf("end sessions of account %d: %w", id, err)
		}
		return nil
	})
}

// AdminCount implements faka.AccountStore.
func (s *Store) AdminCount(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM admins`).Scan(&n); err != nil {
		return 0, translate(fmt.Errorf("count accounts: %w", err))
	}
	return n, nil
}

// SessionCreate implements faka.AccountStore.
func (s *Store) SessionCreate(ctx context.Context, sess *faka.AdminSession) error {
	if len(sess.TokenHash) == 0 || sess.AdminID == 0 {
		return faka.Errorf(faka.EInvalid, "a session needs a token and an account")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO admin_sessions (token_hash, admin_id, expires_at, ip)
			VALUES ($1, $2, $3, $4) RETURNING created_at`, sess.TokenHash, sess.AdminID, sess.ExpiresAt, sess.IP).
			Scan(&sess.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return nil
	})
}

// SessionGet implements faka.AccountStore.
func (s *Store) SessionGet(ctx context.Context, tokenHash []byte) (*faka.AdminSession, error) {
	var sess faka.AdminSession
	err := s.pool.QueryRow(ctx, `SELECT token_hash, admin_id, created_at, expires_at, ip FROM admin_sessions
		WHERE token_hash = $1 AND expires_at > now()`, tokenHash).
		Scan(&sess.TokenHash, &sess.AdminID, &sess.CreatedAt, &sess.ExpiresAt, &sess.IP)
	if err != nil {
		return nil, translate(fmt.Errorf("session: %w", err))
	}
	return &sess, nil
}

// SessionDelete implements faka.AccountStore.
func (s *Store) SessionDelete(ctx context.Context, tokenHash []byte) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE token_hash = $1`, tokenHash); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return nil
	})
}

// SessionsPurge implements faka.AccountStore.
func (s *Store) SessionsPurge(ctx context.Context) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE expires_at <= now()`)
		if err != nil {
			return fmt.Errorf("purge sessions: %w", err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return n, err
}
