package main

import (
	"context"
	"fmt"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/keyring"
)

// checkMasterKey makes the database remember the check value of the first
// master key it is opened with (keyring.Check: never the key), and refuses
// any other key afterwards. Without it, instances on one PostgreSQL with
// their own data directories would each generate a key, and the card keys
// one imports could not be opened through another.
func checkMasterKey(ctx context.Context, st faka.Store, kr *keyring.Keyring, keyFile string) error {
	ms, ok := st.(faka.MetaStore)
	if !ok {
		return nil
	}
	stored, err := ms.MetaSetIfAbsent(ctx, faka.MetaMasterKeyCheck, kr.Check())
	if err != nil {
		return fmt.Errorf("record the master key's check value: %w", err)
	}
	if kr.SameKey(stored) {
		return nil
	}
	return fmt.Errorf("master key mismatch: %s holds master key %s, but this database belongs to master key %s "+
		"(the one it was first started with), and card keys sealed with one cannot be opened with the other. "+
		"Every instance on one database needs the same key: copy the master key file of the first instance to %s "+
		"(mode 0600) and start again, or point FAKA_DATABASE_URL at this key's own database",
		keyFile, kr.KeyFingerprint(), keyring.CheckFingerprint(stored), keyFile)
}
