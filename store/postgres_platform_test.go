package store_test

import (
	"testing"

	"github.com/thiqa/thiqa/store/storetest"
)

func TestPostgresPlatformContract(t *testing.T) {
	storetest.RunPlatform(t, func(t *testing.T) storetest.PlatformStore { return openPostgres(t) })
}
