package signer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
)

// externalCMS makes the CMS for prep the way a signer outside Thiqa
// would: the signed attributes over the document digest, signed by key.
func externalCMS(t *testing.T, prep *Prepared, sign func(digest []byte) []byte) []byte {
	t.Helper()
	return prep.cms.encode(prep.signedAttrs, sign(prep.Digest()), nil)
}

// TestCompleteCMS embeds a CMS made outside the signer (issue 4 item 5:
// "Complete(prepared, signatureValue or CMS)"): a right one gives a file
// pdfsig accepts, at B-B and at B-LT (validation data added after it);
// garbage, a truncated CMS, one made for another document and one signed
// by another key are refused with ErrSignature, and the prepared signature
// can still be completed afterwards.
func TestCompleteCMS(t *testing.T) {
	p := testpki.New(t, nil)
	ctx := context.Background()
	byKey := func(prep *Prepared) func([]byte) []byte {
		return func(d []byte) []byte {
			s, err := p.SignerKey.Sign(rand.Reader, d, prep.SignerOpts())
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	for _, level := range []Level{LevelBB, LevelBLT} {
		t.Run(level.String(), func(t *testing.T) {
			in := makePDF(t, 3000, level == LevelBLT)
			prep, _, err := Prepare(ctx, bytes.NewReader(in), int64(len(in)), options(p, level))
			if err != nil {
				t.Fatal(err)
			}
			otherIn := makePDF(t, 5000, false)
			other, _, err := Prepare(ctx, bytes.NewReader(otherIn), int64(len(otherIn)), options(p, level))
			if err != nil {
				t.Fatal(err)
			}
			good := externalCMS(t, prep, byKey(prep))
			_, otherKey := p.IssueSigner(t, testpki.ECDSAP256, "Other")
			foreign := externalCMS(t, prep, func(d []byte) []byte {
				s, _ := otherKey.Sign(rand.Reader, d, prep.SignerOpts())
				return s
			})
			for name, cms := range map[string][]byte{
				"garbage":              []byte("not a CMS at all"),
				"empty":                nil,
				"truncated":            good[:len(good)-10],
				"trailing bytes":       append(append([]byte(nil), good...), 0, 0),
				"for another document": externalCMS(t, other, byKey(other)),
				"by another key":       foreign,
			} {
				if err := prep.CompleteCMS(ctx, cms); !errors.Is(err, ErrSignature) {
					t.Errorf("%s: CompleteCMS = %v, want ErrSignature", name, err)
				}
			}
			if err := prep.CompleteCMS(ctx, good); err != nil {
				t.Fatalf("CompleteCMS after refusals: %v", err)
			}
			var out bytes.Buffer
			if _, err := prep.WriteTo(&out); err != nil {
				t.Fatal(err)
			}
			pdfsig(t, writeTemp(t, out.Bytes()), 1, level == LevelBB)
			if level == LevelBLT {
				if certs, ocsps, _ := dssContents(t, out.Bytes()); len(certs) == 0 || len(ocsps) == 0 {
					t.Errorf("B-LT after CompleteCMS: /DSS with %d certificates, %d OCSP responses", len(certs), len(ocsps))
				}
			}
		})
	}
}

// FuzzCompleteCMS feeds CompleteCMS's check arbitrary bytes, seeded with a
// right CMS: it never panics, and accepts nothing whose message-digest or
// signature is wrong (every mutation of the signed attributes or the
// signature value must be refused).
func FuzzCompleteCMS(f *testing.F) {
	p := testpki.New(f, nil)
	in := makePDF(f, 1000, false)
	prep, digest, err := Prepare(context.Background(), bytes.NewReader(in), int64(len(in)), options(p, LevelBB))
	if err != nil {
		f.Fatal(err)
	}
	sig, err := p.SignerKey.Sign(rand.Reader, digest, prep.SignerOpts())
	if err != nil {
		f.Fatal(err)
	}
	good := prep.cms.encode(prep.signedAttrs, sig, nil)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{0x30, 0x03, 0x06, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkExternalCMS(b, prep.docDigest, p.Signer, prep)
		if err == nil && !bytes.Contains(b, prep.signedAttrs[2:]) {
			t.Fatalf("accepted a CMS whose signed attributes differ from the prepared ones")
		}
	})
}
