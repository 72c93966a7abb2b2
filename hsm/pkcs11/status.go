package pkcs11

import (
	"context"
	"fmt"
	"strings"

	p11 "github.com/miekg/pkcs11"

	"github.com/thiqa/thiqa/hsm"
)

// Status describes the token a custody uses, for operators.
type Status struct {
	// Token, Serial, Manufacturer and Model come from the token's
	// information; Slot is where it was found.
	Token, Serial, Manufacturer, Model string
	Slot                               uint
	// Keys lists the keys on the token (CA, OCSP, TSA, e-seal keys).
	Keys []hsm.KeyID
	// KEKs lists the generations of key-encryption keys for wrapped
	// citizen keys, oldest first; the last one wraps new keys. Empty means
	// no citizen key can be made or used.
	KEKs []string
	// Sessions is the size of the session pool.
	Sessions int
	// WrapMechanism names the key-wrapping mechanism.
	WrapMechanism string
}

// Status reads the token's information, keys and key-encryption keys.
func (c *Custody) Status(ctx context.Context) (Status, error) {
	var st Status
	keys, err := c.Keys(ctx)
	if err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	keks, err := c.KEKs(ctx)
	if err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	var info p11.TokenInfo
	var slot uint
	var sessions int
	err = c.do(ctx, func(s session) error {
		slot, sessions = s.cn.slot, cap(s.cn.sem)
		info, err = s.ctx().GetTokenInfo(slot)
		return err
	})
	if err != nil {
		return st, fmt.Errorf("status: token information: %w", err)
	}
	trim := func(s string) string { return strings.TrimRight(s, " \x00") }
	return Status{
		Token: trim(info.Label), Serial: trim(info.SerialNumber), Manufacturer: trim(info.ManufacturerID),
		Model: trim(info.Model), Slot: slot, Keys: keys, KEKs: keks, Sessions: sessions,
		WrapMechanism: "CKM_AES_KEY_WRAP_PAD",
	}, nil
}
