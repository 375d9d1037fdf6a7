package storetest

import (
	"bytes"
	"testing"

	"github.com/faka-dev/faka"
)

// TwoFactorDriver is a store that also keeps the console's accounts and
// their second factors.
type TwoFactorDriver interface {
	faka.Store
	faka.AccountStore
	faka.TwoFactorStore
}

// RunTwoFactor runs the conformance suite of faka.TwoFactorStore against
// the stores open returns (a fresh, empty one per call).
func RunTwoFactor(t *testing.T, open func(t *testing.T) TwoFactorDriver) {
	runCases(t, open, []storeCase[TwoFactorDriver]{
		{"Enrolment", testTOTPEnrolment},
		{"StepsNeverReplay", testTOTPSteps},
		{"RecoveryCodesOnce", testRecoveryCodes},
	})
}

func newAccount(t *testing.T, st TwoFactorDriver) *faka.Admin {
	t.Helper()
	a := &faka.Admin{Email: "owner@example.com", PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}
	if err := st.AdminCreate(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

// enrolled gives the account a confirmed enrolment at step 100 with two
// recovery codes.
func enrolled(t *testing.T, st TwoFactorDriver) *faka.Admin {
	t.Helper()
	a := newAccount(t, st)
	if err := st.TOTPBegin(t.Context(), a.ID, []byte("sealed-1")); err != nil {
		t.Fatal(err)
	}
	if err := st.TOTPConfirm(t.Context(), a.ID, 100, [][]byte{[]byte("code-a"), []byte("code-b")}); err != nil {
		t.Fatal(err)
	}
	return a
}

func testTOTPEnrolment(t *testing.T, st TwoFactorDriver) {
	ctx := t.Context()
	a := newAccount(t, st)
	if _, err := st.TOTPGet(ctx, a.ID); faka.ErrorCode(err) != faka.ENotFound {
		t.Fatalf("no enrolment: %v, want not_found", err)
	}
	for _, sealed := range []string{"sealed-1", "sealed-2"} { // a restarted enrolment replaces the first
		if err := st.TOTPBegin(ctx, a.ID, []byte(sealed)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.TOTPGet(ctx, a.ID)
	if err != nil || !bytes.Equal(got.Secret, []byte("sealed-2")) || !got.ConfirmedAt.IsZero() {
		t.Fatalf("unconfirmed enrolment: %+v %v", got, err)
	}
	if ok, err := st.TOTPUseStep(ctx, a.ID, 5); ok || err != nil {
		t.Fatalf("a code accepted before enrolment was confirmed: %v %v", ok, err)
	}
	if err := st.TOTPConfirm(ctx, a.ID, 7, [][]byte{[]byte("c")}); err != nil {
		t.Fatal(err)
	}
	got, err = st.TOTPGet(ctx, a.ID)
	if err != nil || got.ConfirmedAt.IsZero() || got.LastStep != 7 {
		t.Fatalf("confirmed enrolment: %+v %v", got, err)
	}
	if err := st.TOTPBegin(ctx, a.ID, []byte("sealed-3")); faka.ErrorCode(err) != faka.EConflict {
		t.Fatalf("a new enrolment over a confirmed one: %v, want conflict", err)
	}
	if err := st.TOTPConfirm(ctx, a.ID, 8, nil); faka.ErrorCode(err) != faka.EConflict {
		t.Fatalf("confirming twice: %v, want conflict", err)
	}
	if err := st.TOTPDelete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.TOTPGet(ctx, a.ID); faka.ErrorCode(err) != faka.ENotFound {
		t.Fatalf("after delete: %v, want not_found", err)
	}
	if n, err := st.RecoveryCodesLeft(ctx, a.ID); err != nil || n != 0 {
		t.Fatalf("recovery codes after delete: %d %v", n, err)
	}
}

func testTOTPSteps(t *testing.T, st TwoFactorDriver) {
	ctx := t.Context()
	a := enrolled(t, st)
	for _, tc := range []struct {
		step int64
		ok   bool
	}{{100, false}, {99, false}, {101, true}, {101, false}, {103, true}, {102, false}} {
		if ok, err := st.TOTPUseStep(ctx, a.ID, tc.step); ok != tc.ok || err != nil {
			t.Fatalf("step %d: %v %v, want %v", tc.step, ok, err, tc.ok)
		}
	}
}

func testRecoveryCodes(t *testing.T, st TwoFactorDriver) {
	ctx := t.Context()
	a := enrolled(t, st)
	if n, err := st.RecoveryCodesLeft(ctx, a.ID); err != nil || n != 2 {
		t.Fatalf("codes left %d %v, want 2", n, err)
	}
	for _, tc := range []struct {
		code string
		ok   bool
	}{{"code-a", true}, {"code-a", false}, {"nope", false}, {"code-b", true}} {
		if ok, err := st.RecoveryCodeUse(ctx, a.ID, []byte(tc.code)); ok != tc.ok || err != nil {
			t.Fatalf("use %s: %v %v, want %v", tc.code, ok, err, tc.ok)
		}
	}
	if n, err := st.RecoveryCodesLeft(ctx, a.ID); err != nil || n != 0 {
		t.Fatalf("codes left %d %v, want 0", n, err)
	}
}
