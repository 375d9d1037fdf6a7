package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/faka-dev/faka"
)

// The console's accounts and sessions (faka.AccountStore).

var _ faka.AccountStore = (*Store)(nil)

// AdminCreate implements faka.AccountStore.
func (s *Store) AdminCreate(ctx context.Context, a *faka.Admin) error {
	email := strings.ToLower(strings.TrimSpace(a.Email))
	if email == "" || a.PasswordHash == "" {
		return faka.Errorf(faka.EInvalid, "an account needs an email and a password")
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		now := s.nowMS()
		res, err := tx.ExecContext(ctx, `INSERT INTO admins (email, password_hash, created_at) VALUES (?, ?, ?)`,
			email, a.PasswordHash, now)
		if err != nil {
			return fmt.Errorf("insert account: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("account id: %w", err)
		}
		a.ID, a.Email, a.CreatedAt = id, email, time.UnixMilli(now)
		return nil
	})
	if faka.ErrorCode(err) == faka.EConflict {
		return faka.Errorf(faka.EConflict, "an account with email %s already exists", email)
	}
	return err
}

func scanAdmin(row scanner) (*faka.Admin, error) {
	var a faka.Admin
	var created int64
	if err := row.Scan(&a.ID, &a.Email, &a.PasswordHash, &created); err != nil {
		return nil, err
	}
	a.CreatedAt = time.UnixMilli(created)
	return &a, nil
}

// AdminGet implements faka.AccountStore.
func (s *Store) AdminGet(ctx context.Context, id int64) (*faka.Admin, error) {
	a, err := scanAdmin(s.read.QueryRowContext(ctx, `SELECT id, email, password_hash, created_at FROM admins WHERE id = ?`, id))
	if err != nil {
		return nil, translate(fmt.Errorf("account %d: %w", id, err))
	}
	return a, nil
}

// AdminByEmail implements faka.AccountStore.
func (s *Store) AdminByEmail(ctx context.Context, email string) (*faka.Admin, error) {
	a, err := scanAdmin(s.read.QueryRowContext(ctx, `SELECT id, email, password_hash, created_at FROM admins WHERE email = ?`,
		strings.ToLower(strings.TrimSpace(email))))
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
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		res, err := tx.ExecContext(ctx, `UPDATE admins SET password_hash = ? WHERE id = ?`, hash, id)
		if err != nil {
			return fmt.Errorf("set password of account %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return faka.Errorf(faka.ENotFound, "account %d not found", id)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM admin_sessions WHERE admin_id = ?`, id); err != nil {
			return fmt.Errorf("end sessions of account %d: %w", id, err)
		}
		return nil
	})
}

// AdminCount implements faka.AccountStore.
func (s *Store) AdminCount(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM admins`).Scan(&n); err != nil {
		return 0, translate(fmt.Errorf("count accounts: %w", err))
	}
	return n, nil
}

// SessionCreate implements faka.AccountStore.
func (s *Store) SessionCreate(ctx context.Context, sess *faka.AdminSession) error {
	if len(sess.TokenHash) == 0 || sess.AdminID == 0 {
		return faka.Errorf(faka.EInvalid, "a session needs a token and an account")
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		now := s.nowMS()
		if _, err := tx.ExecContext(ctx, `INSERT INTO admin_sessions (token_hash, admin_id, created_at, expires_at, ip)
			VALUES (?, ?, ?, ?, ?)`, sess.TokenHash, sess.AdminID, now, sess.ExpiresAt.UnixMilli(), sess.IP); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		sess.CreatedAt = time.UnixMilli(now)
		return nil
	})
}

// SessionGet implements faka.AccountStore.
func (s *Store) SessionGet(ctx context.Context, tokenHash []byte) (*faka.AdminSession, error) {
	var sess faka.AdminSession
	var created, expires int64
	err := s.read.QueryRowContext(ctx, `SELECT token_hash, admin_id, created_at, expires_at, ip FROM admin_sessions
		WHERE token_hash = ? AND expires_at > ?`, tokenHash, s.nowMS()).
		Scan(&sess.TokenHash, &sess.AdminID, &created, &expires, &sess.IP)
	if err != nil {
		return nil, translate(fmt.Errorf("session: %w", err))
	}
	sess.CreatedAt, sess.ExpiresAt = time.UnixMilli(created), time.UnixMilli(expires)
	return &sess, nil
}

// SessionDelete implements faka.AccountStore.
func (s *Store) SessionDelete(ctx context.Context, tokenHash []byte) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		if _, err := tx.ExecContext(ctx, `DELETE FROM admin_sessions WHERE token_hash = ?`, tokenHash); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return nil
	})
}

// SessionsPurge implements faka.AccountStore.
func (s *Store) SessionsPurge(ctx context.Context) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		res, err := tx.ExecContext(ctx, `DELETE FROM admin_sessions WHERE expires_at <= ?`, s.nowMS())
		if err != nil {
			return fmt.Errorf("purge sessions: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}
