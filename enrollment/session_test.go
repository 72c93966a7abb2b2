package enrollment

import (
	"testing"
	"time"
)

// TestSessionsExpire: an officer's session ends 8 hours after sign-in and
// a citizen's 15 minutes after it (the defaults), to the second, whatever
// its use in between.
func TestSessionsExpire(t *testing.T) {
	e := newEnv(t)
	_, p, _ := e.enrolled(t, "9861234567")
	e.advance(time.Minute) // a fresh TOTP window: codes are single-use
	off, _, err := e.svc.OfficerSignIn(ctx, "omar", password, e.code(t, "omar"))
	if err != nil {
		t.Fatal(err)
	}
	cit, _, err := e.signIn(t, p)
	if err != nil {
		t.Fatal(err)
	}
	signedIn := *e.now
	if want := e.now.Add(8 * time.Hour); !off.Expires.Equal(want) {
		t.Errorf("officer session expires %v, want %v", off.Expires, want)
	}
	if want := e.now.Add(15 * time.Minute); !cit.Expires.Equal(want) {
		t.Errorf("citizen session expires %v, want %v", cit.Expires, want)
	}
	for _, step := range []struct {
		after         time.Duration
		officer, citz bool
	}{
		{15*time.Minute - time.Second, true, true},
		{15 * time.Minute, true, false},
		{8*time.Hour - time.Second, true, false},
		{8 * time.Hour, false, false},
	} {
		*e.now = signedIn.Add(step.after)
		_, errOff := e.svc.Authenticate(ctx, off.Token)
		_, errCit := e.svc.Authenticate(ctx, cit.Token)
		if (errOff == nil) != step.officer || errOff != nil && errOff != ErrUnauthenticated {
			t.Errorf("officer after %v: %v, want alive=%v", step.after, errOff, step.officer)
		}
		if (errCit == nil) != step.citz || errCit != nil && errCit != ErrUnauthenticated {
			t.Errorf("citizen after %v: %v, want alive=%v", step.after, errCit, step.citz)
		}
	}
}
