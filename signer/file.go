package signer

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// SignFile signs the PDF at in and writes the result to out through a
// temporary file in out's directory, synced and renamed into place, so a
// failure never leaves a partial out. in and out may be the same path.
func SignFile(ctx context.Context, in, out string, key crypto.Signer, opts *Options) error {
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("sign file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("sign file: %w", err)
	}
	p, err := prepareAndSign(ctx, f, st.Size(), key, opts)
	if err != nil {
		return err
	}
	return writeAtomic(out, p)
}

// writeAtomic writes src to a temporary file next to path, syncs it and
// renames it to path; on failure the temporary file is removed.
func writeAtomic(path string, src io.WriterTo) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = src.WriteTo(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
