package hsm

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadKEK reads the software backend's key-encryption key. When env is not
// empty it is the key itself, in base64 (standard or URL alphabet); otherwise
// the key is read from the file at path, in the same encoding. When neither
// exists and create is true, a new random key is written to path with mode
// 0600 and created reports true.
func LoadKEK(path, env string, create bool) (kek []byte, created bool, err error) {
	if env != "" {
		kek, err = decodeKEK(env)
		return kek, false, err
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		kek, err = decodeKEK(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("read KEK file %s: %w", path, err)
		}
		return kek, false, nil
	case !errors.Is(err, fs.ErrNotExist) || !create:
		return nil, false, fmt.Errorf("read KEK file: %w", err)
	}
	kek = make([]byte, KEKSize)
	if _, err := io.ReadFull(rand.Reader, kek); err != nil {
		return nil, false, fmt.Errorf("create KEK: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create KEK: %w", err)
	}
	if err := writeNew(path, []byte(base64.StdEncoding.EncodeToString(kek)+"\n")); err != nil {
		return nil, false, fmt.Errorf("create KEK file %s: %w", path, err)
	}
	return kek, true, nil
}

func decodeKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KEKSize {
				return nil, fmt.Errorf("%w: want %d bytes, have %d", ErrBadKEK, KEKSize, len(b))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: not base64", ErrBadKEK)
}
