package store_test

import (
	"testing"

	"github.com/thiqa/thiqa/store/storetest"
)

func TestPostgresRequestsContract(t *testing.T) {
	storetest.RunRequests(t, func(t *testing.T) storetest.RequestsStore { return openPostgres(t) })
}
