package faka

import "context"

// MetaStore keeps facts about the database itself, such as the check value
// of the master key its card keys are sealed with.
type MetaStore interface {
	// MetaSetIfAbsent stores value under name unless a value is stored
	// there already, and returns the value now stored: value itself when
	// this call stored it, the earlier one otherwise. Two callers racing
	// on an empty name both get the one value that won.
	MetaSetIfAbsent(ctx context.Context, name string, value []byte) ([]byte, error)
}

// MetaMasterKeyCheck is the MetaStore name of the master key's check value.
const MetaMasterKeyCheck = "master_key_check"
