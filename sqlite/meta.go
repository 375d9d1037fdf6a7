package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/faka-dev/faka"
)

var _ faka.MetaStore = (*Store)(nil)

// MetaSetIfAbsent implements faka.MetaStore.
func (s *Store) MetaSetIfAbsent(ctx context.Context, name string, value []byte) ([]byte, error) {
	if name == "" || len(value) == 0 {
		return nil, faka.Errorf(faka.EInvalid, "meta needs a name and a value")
	}
	var stored []byte
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ctx := context.WithoutCancel(ctx) // see Store.Tx
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value, created_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, value, s.nowMS()); err != nil {
			return fmt.Errorf("meta %q: %w", name, err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`, name).Scan(&stored); err != nil {
			return fmt.Errorf("meta %q: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err // inTx translated it
	}
	return stored, nil
}
