package api

import (
	"os"
	"testing"

	"github.com/thiqa/thiqa/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
