package store_test

import (
	"testing"

	"github.com/thiqa/thiqa/store/storetest"
)

func TestPostgresSigningContract(t *testing.T) {
	storetest.RunSigning(t, func(t *testing.T) storetest.SigningStore { return openPostgres(t) })
}

func TestPostgresRateLimits(t *testing.T) {
	storetest.RunRateLimits(t, func(t *testing.T) storetest.RateLimitStore { return openPostgres(t) })
}
