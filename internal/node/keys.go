package node

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/pkcs11"
)

// custody is the key custody a node opened, with what it needs to close.
type custody struct {
	keys    hsm.Custody
	wrapped hsm.WrappedCustody
	sealer  hsm.Sealer // officers' TOTP secrets
	close   func() error
	// kekCreated reports a new software KEK file.
	kekCreated bool
}

// openKeys opens the PKCS#11 token named by opts.HSM or, without one, the
// software backend in Dir/keys under its KEK. With Create, a token without
// a key-encryption key for citizens' keys gets one.
func openKeys(ctx context.Context, opts Options) (custody, error) {
	if opts.HSM != "" {
		c, err := pkcs11.OpenURI(ctx, opts.HSM, &pkcs11.Options{CreateKEK: opts.Create})
		if err != nil {
			return custody{}, err
		}
		return custody{keys: c, wrapped: c, sealer: c, close: c.Close}, nil
	}
	if err := rotating(opts); err != nil {
		return custody{}, err
	}
	kekFile := opts.KEKFile
	if kekFile == "" {
		kekFile = filepath.Join(opts.Dir, "kek")
	}
	kek, created, err := hsm.LoadKEK(kekFile, opts.KEK, opts.Create)
	if err != nil {
		return custody{}, err
	}
	s, err := hsm.OpenSoftware(filepath.Join(opts.Dir, "keys"), kek, nil)
	clear(kek)
	if err != nil {
		return custody{}, fmt.Errorf("software custody: %w", err)
	}
	return custody{keys: s, wrapped: s, sealer: s, close: func() error { return nil }, kekCreated: created}, nil
}
