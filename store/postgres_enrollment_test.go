package store_test

import (
	"testing"

	"github.com/thiqa/thiqa/store/storetest"
)

func TestPostgresEnrollmentContract(t *testing.T) {
	storetest.RunEnrollment(t, func(t *testing.T) storetest.EnrollmentStore { return openPostgres(t) })
}
