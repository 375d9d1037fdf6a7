package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/faka-dev/faka"
)

// The console's second factors (faka.TwoFactorStore).

var _ faka.TwoFactorStore = (*Store)(nil)

// TOTPGet implements faka.TwoFactorStore.
func (s *Store) TOTPGet(ctx context.Context, adminID int64) (*faka.AdminTOTP, error) {
	t := &faka.AdminTOTP{AdminID: adminID}
	var confirmed sql.NullInt64
	var created int64
	err := s.read.QueryRowContext(ctx, `SELECT secret, confirmed_at, last_step, created_at FROM admin_totp WHERE admin_id = ?`,
		adminID).Scan(&t.Secret, &confirmed, &t.LastStep, &created)
	if err != nil {
		return nil, translate(fmt.Errorf("totp of account %d: %w", adminID, err))
	}
	if confirmed.Valid {
		t.ConfirmedAt = time.UnixMilli(confirmed.Int64)
	}
	t.CreatedAt = time.UnixMilli(created)
	return t, nil
}

// TOTPBegin implements faka.TwoFactorStore.
func (s *Store) TOTPBegin(ctx context.Context, adminID int64, sealedSecret []byte) error {
	if len(sealedSecret) == 0 {
		return faka.Errorf(faka.EInvalid, "an enrolment needs a sealed secret")
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		res, err := tx.ExecContext(ctx, `INSERT INTO admin_totp (admin_id, secret, created_at) VALUES (?, ?, ?)
			ON CONFLICT (admin_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = 0
			WHERE admin_totp.confirmed_at IS NULL`, adminID, sealedSecret, s.nowMS())
		if err != nil {
			return fmt.Errorf("begin totp of account %d: %w", adminID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return faka.Errorf(faka.EConflict, "account %d already has two-factor sign-in", adminID)
		}
		return nil
	})
}

// TOTPConfirm implements faka.TwoFactorStore.
func (s *Store) TOTPConfirm(ctx context.Context, adminID, step int64, codeHashes [][]byte) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		res, err := tx.ExecContext(ctx, `UPDATE admin_totp SET confirmed_at = ?, last_step = ?
			WHERE admin_id = ? AND confirmed_at IS NULL`, s.nowMS(), step, adminID)
		if err != nil {
			return fmt.Errorf("confirm totp of account %d: %w", adminID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return faka.Errorf(faka.EConflict, "account %d has no enrolment to confirm", adminID)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM admin_recovery_codes WHERE admin_id = ?`, adminID); err != nil {
			return fmt.Errorf("replace recovery codes of account %d: %w", adminID, err)
		}
		for _, h := range codeHashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO admin_recovery_codes (admin_id, code_hash) VALUES (?, ?)`, adminID, h); err != nil {
				return fmt.Errorf("store a recovery code of account %d: %w", adminID, err)
			}
		}
		return nil
	})
}

// TOTPUseStep implements faka.TwoFactorStore.
func (s *Store) TOTPUseStep(ctx context.Context, adminID, step int64) (bool, error) {
	return s.execChanged(ctx, fmt.Sprintf("use a code of account %d", adminID),
		`UPDATE admin_totp SET last_step = ? WHERE admin_id = ? AND confirmed_at IS NOT NULL AND last_step < ?`, step, adminID, step)
}

// RecoveryCodeUse implements faka.TwoFactorStore.
func (s *Store) RecoveryCodeUse(ctx context.Context, adminID int64, codeHash []byte) (bool, error) {
	return s.execChanged(ctx, fmt.Sprintf("use a recovery code of account %d", adminID),
		`UPDATE admin_recovery_codes SET used_at = ? WHERE admin_id = ? AND code_hash = ? AND used_at IS NULL`,
		s.nowMS(), adminID, codeHash)
}

// RecoveryCodesLeft implements faka.TwoFactorStore.
func (s *Store) RecoveryCodesLeft(ctx context.Context, adminID int64) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM admin_recovery_codes WHERE admin_id = ? AND used_at IS NULL`,
		adminID).Scan(&n)
	if err != nil {
		return 0, translate(fmt.Errorf("recovery codes of account %d: %w", adminID, err))
	}
	return n, nil
}

// TOTPDelete implements faka.TwoFactorStore.
func (s *Store) TOTPDelete(ctx context.Context, adminID int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		if _, err := tx.ExecContext(ctx, `DELETE FROM admin_recovery_codes WHERE admin_id = ?`, adminID); err != nil {
			return fmt.Errorf("delete recovery codes of account %d: %w", adminID, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM admin_totp WHERE admin_id = ?`, adminID); err != nil {
			return fmt.Errorf("delete totp of account %d: %w", adminID, err)
		}
		return nil
	})
}

// execChanged runs one conditional update and reports whether it changed
// a row.
func (s *Store) execChanged(ctx context.Context, what, query string, args ...any) (bool, error) {
	var changed bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		changed = n > 0
		return nil
	})
	return changed, err
}
