package node

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/thiqa/thiqa/audit"
	"github.com/thiqa/thiqa/ca"
	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/hsm/pkcs11"
	"github.com/thiqa/thiqa/hsm/pkcs11/softhsmtest"
	"github.com/thiqa/thiqa/store"
)

// TestRotateSoftwareKEK activates a citizen (wrapped keys) and creates an
// officer (sealed TOTP secret), rotates the KEK, stopping the first run
// part way, and checks that the node refuses to open until the rotation is
// resumed to the end, and then signs with the citizen's key, signs the
// officer in and signs audit checkpoints under the new KEK only.
func TestRotateSoftwareKEK(t *testing.T) {
	ctx := context.Background()
	opts := Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig()}
	n, _, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	const nid = "9861234567"
	activate(t, n, n, nid)
	const pw = "correct horse battery staple"
	enr, err := n.Enrollment.CreateOfficer(ctx, enrollment.Operator("root"), enrollment.NewOfficer{Username: "sara", Role: store.RoleOfficer, Centre: "AMM-01", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	var id store.Identity
	n.Store.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) { id, err = tx.Identity(nid); return err })
	if len(id.SigningKey) == 0 || len(id.AuthKey) == 0 {
		t.Fatalf("activated identity has no wrapped keys: %+v", id)
	}
	n.Close()
	oldKEK, _ := os.ReadFile(filepath.Join(opts.Dir, "kek"))

	// A first run stopped after the identities: they moved, the officers'
	// secrets did not, nothing is switched.
	opts.Create = false
	stop, cancel := context.WithCancel(ctx)
	_, err = RotateKEK(stop, opts, RotateOptions{Operator: "test", Progress: func(p enrollment.RewrapProgress) {
		if p.Identities > 0 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted rotation: %v", err)
	}
	if _, _, err := Open(ctx, opts); !errors.Is(err, ErrRotating) {
		t.Fatalf("Open during a rotation = %v, want ErrRotating", err)
	}
	rep, err := RotateKEK(ctx, opts, RotateOptions{Operator: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys != 0 || rep.Rewrap.Keys != 2 || rep.Rewrap.KeysMoved != 0 || rep.Rewrap.Secrets != 2 || rep.Rewrap.SecretsMoved != 2 {
		t.Errorf("resumed rotation = %+v; want 2 keys moved before, 2 officer secrets now", rep)
	}
	newKEK, _ := os.ReadFile(filepath.Join(opts.Dir, "kek"))
	if kept, _ := os.ReadFile(rep.OldKEK); !bytes.Equal(kept, oldKEK) || bytes.Equal(newKEK, oldKEK) {
		t.Fatal("the old KEK is not kept as kek.old, or the KEK did not change")
	}
	if _, err := os.Stat(rep.OldKeys); err != nil {
		t.Fatal(err)
	}
	if _, err := RotateKEK(ctx, opts, RotateOptions{}); err == nil {
		t.Fatal("a second rotation started with kek.old still present")
	}

	n, _, err = Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	n.Store.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) { id, err = tx.Identity(nid); return err })
	d := sha256.Sum256([]byte("a document"))
	sigs, err := n.Wrapped.SignWithWrapped(ctx, "identity:"+id.ID, id.SigningKey, [][]byte{d[:]}, crypto.SHA256)
	if err != nil {
		t.Fatalf("citizen key after rotation: %v", err)
	}
	pub, err := x509.ParsePKIXPublicKey(id.SigningPub)
	if err != nil || !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sigs[0]) {
		t.Fatalf("signature after rotation does not verify: %v", err)
	}
	key, _ := otp.NewKeyFromURL(enr.TOTPURL)
	code, _ := totp.GenerateCode(key.Secret(), time.Now())
	if _, _, err := n.Enrollment.OfficerSignIn(ctx, "sara", pw, code); err != nil {
		t.Fatalf("officer sign-in after rotation: %v", err)
	}
	if _, err := n.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, n.Store, n.Audit.Verifier()); err != nil {
		t.Fatal(err)
	}
	evs, _ := eventsOf(ctx, n, "custody:kek")
	if len(evs) != 1 || evs[0].Action != "keys-rewrap" {
		t.Errorf("rotation events = %+v", evs)
	}

	// The old KEK no longer opens the keys.
	bad := opts
	bad.KEKFile = rep.OldKEK
	n.Close()
	if _, _, err := Open(ctx, bad); err == nil {
		t.Fatal("the node opened with the old KEK")
	}
}

func eventsOf(ctx context.Context, n *Node, subject string) (evs []store.Event, err error) {
	err = n.Store.EnrollmentView(ctx, func(tx store.EnrollmentTx) error {
		evs, err = tx.Events(subject)
		return err
	})
	return evs, err
}

// TestSwitchKEKResumes stops the switch of a rotation after each of its
// steps and checks that calling it again finishes it.
func TestSwitchKEKResumes(t *testing.T) {
	for stopAfter := range 4 {
		dir := t.TempDir()
		p := softwarePaths(Options{Dir: dir})
		for _, d := range []string{p.keys, p.keysNext} {
			os.Mkdir(d, 0o700)
			os.WriteFile(filepath.Join(d, "marker"), []byte(d), 0o600)
		}
		os.WriteFile(p.kek, []byte("old"), 0o600)
		os.WriteFile(p.kekNext, []byte("new"), 0o600)
		steps := [][2]string{{p.keys, p.keysOld}, {p.keysNext, p.keys}, {p.kek, p.kekOld}, {p.kekNext, p.kek}}
		for _, s := range steps[:stopAfter+1] {
			if err := os.Rename(s[0], s[1]); err != nil {
				t.Fatal(err)
			}
		}
		if err := rotating(Options{Dir: dir}); (err != nil) != (stopAfter < 3) {
			t.Errorf("after step %d: rotating = %v", stopAfter, err)
		}
		if err := switchKEK(p); err != nil {
			t.Fatalf("after step %d: %v", stopAfter, err)
		}
		kek, _ := os.ReadFile(p.kek)
		old, _ := os.ReadFile(p.kekOld)
		marker, _ := os.ReadFile(filepath.Join(p.keys, "marker"))
		oldMarker, _ := os.ReadFile(filepath.Join(p.keysOld, "marker"))
		if string(kek) != "new" || string(old) != "old" || string(marker) != p.keysNext || string(oldMarker) != p.keys || exists(p.kekNext) || exists(p.keysNext) {
			t.Errorf("after step %d: kek %q, kek.old %q, keys from %q, keys.old from %q", stopAfter, kek, old, marker, oldMarker)
		}
	}
}

// TestRotateTokenKEK rotates the KEK on a SoftHSM2 token with an activated
// citizen: afterwards the token holds only the new generation and the
// citizen's re-wrapped key signs.
func TestRotateTokenKEK(t *testing.T) {
	ctx := context.Background()
	uri := softhsmtest.New(t).URI(softhsmtest.PIN)
	opts := Options{Dir: filepath.Join(t.TempDir(), "data"), Create: true, CA: ca.DefaultConfig(), HSM: uri}
	n, _, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	const nid = "9861234567"
	activate(t, n, n, nid)
	n.Close()
	opts.Create = false
	rep, err := RotateKEK(ctx, opts, RotateOptions{DestroyOld: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.KEK != "thiqa-kek-2" || rep.Rewrap.KeysMoved != 2 || rep.Rewrap.SecretsMoved != 1 || len(rep.Destroyed) != 1 {
		t.Fatalf("rotation = %+v", rep)
	}
	n, _, err = Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	st, err := n.Wrapped.(*pkcs11.Custody).Status(ctx)
	if err != nil || len(st.KEKs) != 1 || st.KEKs[0] != "thiqa-kek-2" {
		t.Fatalf("KEKs after rotation: %v, %v", st.KEKs, err)
	}
	var id store.Identity
	n.Store.EnrollmentView(ctx, func(tx store.EnrollmentTx) (err error) { id, err = tx.Identity(nid); return err })
	d := sha256.Sum256([]byte("a document"))
	sigs, err := n.Wrapped.SignWithWrapped(ctx, "identity:"+id.ID, id.SigningKey, [][]byte{d[:]}, crypto.SHA256)
	if err != nil {
		t.Fatalf("citizen key after rotation: %v", err)
	}
	pub, _ := x509.ParsePKIXPublicKey(id.SigningPub)
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sigs[0]) {
		t.Fatal("signature after rotation does not verify")
	}
}
