package pkcs11_test

import (
	"context"
	"crypto"
	"fmt"
	"sort"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/hsmtest"
)

// object is what the inventory reads of a token object.
type object struct {
	class       uint
	label       string
	token       bool
	sensitive   bool
	extractable bool
}

func (o object) String() string {
	return fmt.Sprintf("%s class=%d token=%v sensitive=%v extractable=%v", o.label, o.class, o.token, o.sensitive, o.extractable)
}

// inventory lists every object the application can see on tk, token and
// session objects alike, through its own session of the module (not the
// custody's code).
func inventory(t *testing.T, tk token) []object {
	t.Helper()
	ctx := p11.New(softhsmModule)
	if ctx == nil {
		t.Fatal("load module")
	}
	if err := ctx.Initialize(); err != nil && err != p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		t.Fatal(err)
	}
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	var slot uint
	found := false
	for _, s := range slots {
		if info, err := ctx.GetTokenInfo(s); err == nil && strings.TrimRight(info.Label, " ") == tk.Label {
			slot, found = s, true
		}
	}
	if !found {
		t.Fatalf("token %s not found", tk.Label)
	}
	sh, err := ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.CloseSession(sh)
	if err := ctx.Login(sh, p11.CKU_USER, "1234"); err != nil && err != p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN) {
		t.Fatal(err)
	}
	if err := ctx.FindObjectsInit(sh, nil); err != nil {
		t.Fatal(err)
	}
	hs, _, err := ctx.FindObjects(sh, 100000)
	ctx.FindObjectsFinal(sh)
	if err != nil {
		t.Fatal(err)
	}
	var out []object
	for _, h := range hs {
		attrs, err := ctx.GetAttributeValue(sh, h, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, nil), p11.NewAttribute(p11.CKA_LABEL, nil), p11.NewAttribute(p11.CKA_TOKEN, nil)})
		if err != nil {
			t.Fatal(err)
		}
		o := object{class: ulong(attrs[0].Value), label: string(attrs[1].Value), token: attrs[2].Value[0] == 1}
		if o.class == p11.CKO_PRIVATE_KEY || o.class == p11.CKO_SECRET_KEY {
			attrs, err := ctx.GetAttributeValue(sh, h, []*p11.Attribute{
				p11.NewAttribute(p11.CKA_SENSITIVE, nil), p11.NewAttribute(p11.CKA_EXTRACTABLE, nil)})
			if err != nil {
				t.Fatal(err)
			}
			o.sensitive, o.extractable = attrs[0].Value[0] == 1, attrs[1].Value[0] == 1
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func ulong(b []byte) uint {
	var v uint
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint(b[i])
	}
	return v
}

// TestNoCitizenKeyRemains activates 100 citizens (a wrapped key each, one
// signing each) beside the CA keys, then reads every object on the token:
// the CA key pairs and one KEK generation (wrapping and binding key), all
// sensitive and not extractable, and no citizen key object at all.
func TestNoCitizenKeyRemains(t *testing.T) {
	ctx := context.Background()
	tk := newToken(t)
	c := open(t, tk)
	caKeys := []hsm.KeyID{"root-ca", "citizen-ca", "ocsp-citizen-ca"}
	for _, id := range caKeys {
		if _, err := c.GenerateKey(ctx, id, hsm.ECDSAP384); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		owner := fmt.Sprintf("PNOJO-%010d", i)
		blob, pub, err := c.NewWrappedKey(ctx, owner, hsm.ECDSAP256)
		if err != nil {
			t.Fatalf("activation %d: %v", i, err)
		}
		d := hsmtest.Digests(crypto.SHA256, 2)
		sigs, err := c.SignWithWrapped(ctx, owner, blob, d, crypto.SHA256)
		if err != nil {
			t.Fatalf("signing %d: %v", i, err)
		}
		if err := hsmtest.Verify(pub, d[1], sigs[1], crypto.SHA256); err != nil {
			t.Fatalf("signing %d: %v", i, err)
		}
	}
	objs := inventory(t, tk)
	want := map[string]uint{"thiqa-kek-1": p11.CKO_SECRET_KEY, "thiqa-kek-1-mac": p11.CKO_SECRET_KEY}
	for _, id := range caKeys {
		want[string(id)+"/priv"] = p11.CKO_PRIVATE_KEY
		want[string(id)+"/pub"] = p11.CKO_PUBLIC_KEY
	}
	for _, o := range objs {
		name := o.label
		switch o.class {
		case p11.CKO_PRIVATE_KEY:
			name += "/priv"
		case p11.CKO_PUBLIC_KEY:
			name += "/pub"
		}
		if class, ok := want[name]; !ok || class != o.class || !o.token {
			t.Errorf("unexpected object on the token: %v", o)
			continue
		}
		delete(want, name)
		if (o.class == p11.CKO_PRIVATE_KEY || o.class == p11.CKO_SECRET_KEY) && (!o.sensitive || o.extractable) {
			t.Errorf("%v: want sensitive and not extractable", o)
		}
	}
	for name := range want {
		t.Errorf("missing object %s", name)
	}
	if len(objs) != 2*len(caKeys)+2 {
		t.Errorf("%d objects on the token, want %d:\n%v", len(objs), 2*len(caKeys)+2, objs)
	}
}
