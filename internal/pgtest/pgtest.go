// Package pgtest starts a throw-away PostgreSQL cluster for tests: initdb
// into a temporary directory, pg_ctl start on a free loopback port, a fresh
// database per caller, and the cluster stopped and removed when the test
// binary ends. Debian's postgresql package provides the binaries
// (./scripts/test installs it); as root, the cluster runs as the postgres
// user, since PostgreSQL refuses root. Under CI=true a missing PostgreSQL
// fails the test; elsewhere it is skipped. It is imported only by tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	once    sync.Once
	cluster *server
	initErr error
)

type server struct {
	dir, bin string
	port     int
	asUser   string // "" when not root
}

// Main runs the tests and stops the cluster afterwards. Call it from
// TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		cluster.stop()
	}
	return code
}

// DSN returns the connection string of a new, empty database.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(func() { cluster, initErr = start() })
	if initErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL: %v", initErr)
		}
		t.Skipf("PostgreSQL not available (./scripts/test installs it): %v", initErr)
	}
	ctx := context.Background()
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", cluster.port)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", cluster.port, name)
}

func findBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	return "", fmt.Errorf("pg_ctl not found (apt-get install postgresql)")
}

func start() (*server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "thiqa-pg-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		s.asUser = "postgres"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	data := filepath.Join(dir, "data")
	if out, err := s.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", s.port, dir)
	if out, err := s.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return nil, fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, log)
	}
	// Wait until it accepts TCP connections.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port))
		if err == nil {
			c.Close(context.Background())
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("PostgreSQL did not accept connections: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *server) run(prog string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, prog)
	if s.asUser != "" {
		args = append([]string{"-u", s.asUser, "--", path}, args...)
		path = "runuser"
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

func (s *server) stop() {
	s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}
