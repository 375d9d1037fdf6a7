package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/faka-dev/faka"
)

var _ faka.MetaStore = (*Store)(nil)

// MetaSetIfAbsent implements faka.MetaStore. Instances starting at once
// race on the insert; ON CONFLICT DO NOTHING lets one win and the read
// that follows, in the same transaction, sees the winner's row.
func (s *Store) MetaSetIfAbsent(ctx context.Context, name string, value []byte) ([]byte, error) {
	if name == "" || len(value) == 0 {
		return nil, faka.Errorf(faka.EInvalid, "meta needs a name and a value")
	}
	var stored []byte
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
			name, value); err != nil {
			return fmt.Errorf("meta %q: %w", name, err)
		}
		if err := tx.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, name).Scan(&stored); err != nil {
			return fmt.Errorf("meta %q: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err // inTx translated it
	}
	return stored, nil
}
