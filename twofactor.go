package faka

import (
	"context"
	"time"
)

// AdminTOTP is a console account's TOTP enrolment (RFC 6238).
type AdminTOTP struct {
	AdminID int64
	// Secret is the TOTP secret sealed with the keyring; the store never
	// sees it in clear.
	Secret []byte
	// ConfirmedAt is when enrolment proved a code; zero while it has not,
	// and only a confirmed enrolment is asked for at sign-in.
	ConfirmedAt time.Time
	// LastStep is the last accepted 30-second step: a code of that step
	// or an earlier one is never accepted again.
	LastStep  int64
	CreatedAt time.Time
}

// TwoFactorStore keeps the console's second factors: TOTP enrolments and
// one-time recovery codes (as SHA-256 hashes).
type TwoFactorStore interface {
	// TOTPGet returns an account's enrolment, or ErrNotFound.
	TOTPGet(ctx context.Context, adminID int64) (*AdminTOTP, error)
	// TOTPBegin stores a new, unconfirmed enrolment for the account,
	// replacing an unconfirmed one; a confirmed one is an EConflict error
	// (it is removed with TOTPDelete first).
	TOTPBegin(ctx context.Context, adminID int64, sealedSecret []byte) error
	// TOTPConfirm confirms the account's unconfirmed enrolment at step
	// and replaces its recovery codes with codeHashes, in one transaction.
	// No unconfirmed enrolment is an EConflict error.
	TOTPConfirm(ctx context.Context, adminID, step int64, codeHashes [][]byte) error
	// TOTPUseStep records that a code of step was accepted, if step is
	// later than the last accepted one, and reports whether it was.
	TOTPUseStep(ctx context.Context, adminID, step int64) (bool, error)
	// RecoveryCodeUse marks the account's unused recovery code with
	// codeHash used and reports whether there was one.
	RecoveryCodeUse(ctx context.Context, adminID int64, codeHash []byte) (bool, error)
	// RecoveryCodesLeft returns how many unused recovery codes the
	// account has.
	RecoveryCodesLeft(ctx context.Context, adminID int64) (int, error)
	// TOTPDelete removes the account's enrolment and recovery codes.
	TOTPDelete(ctx context.Context, adminID int64) error
}
