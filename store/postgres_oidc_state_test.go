package store_test

import (
	"testing"

	"github.com/thiqa/thiqa/store/storetest"
)

func TestPostgresOIDCStateContract(t *testing.T) {
	storetest.RunOIDC(t, func(t *testing.T) storetest.OIDCStore { return openPostgres(t) })
}
