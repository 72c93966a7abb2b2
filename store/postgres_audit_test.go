package store_test

import (
	"testing"

	"github.com/thiqa/thiqa/store/storetest"
)

func TestPostgresAuditContract(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) storetest.AuditStore { return openPostgres(t) })
}
