package pkcs11_test

import (
	"testing"

	"github.com/thiqa/thiqa/hsm"
	"github.com/thiqa/thiqa/hsm/hsmtest"
)

func TestContract(t *testing.T) {
	hsmtest.Run(t, func(t *testing.T) hsm.Custody { return open(t, newToken(t)) })
}

func TestWrappedContract(t *testing.T) {
	hsmtest.RunWrapped(t, func(t *testing.T) hsm.WrappedCustody { return open(t, newToken(t)) })
}
