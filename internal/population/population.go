// Package population reads and writes files of identities proofed outside
// Thiqa (CSV or JSON Lines, one [enrollment.ImportRecord] a row), imports
// them in batches through [enrollment.Service.Import], and generates
// synthetic populations for tests and load.
//
// It is the library behind `thiqa admin import-identities` and `thiqa admin
// generate-population`. It uses the trust core only through enrollment's
// public API and must not import api, cmd or internal/node.
package population

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Format is the encoding of a population file.
type Format string

// Formats.
const (
	// CSV is RFC 4180 with a header line naming the columns
	// ([enrollment.ImportFields], in any order).
	CSV Format = "csv"
	// JSONL is one JSON object per line (JSON Lines), with the same names.
	JSONL Format = "jsonl"
)

// ErrFormat means a file's format is unknown or its structure is broken
// (no header, a header with unknown columns, a line too long); nothing
// after it can be read.
var ErrFormat = errors.New("bad population file")

// ParseFormat returns the format named by name ("csv", "jsonl"), or by the
// extension of the file name name when it is a path.
func ParseFormat(name string) (Format, error) {
	f := strings.ToLower(name)
	if ext := filepath.Ext(f); ext != "" {
		f = ext[1:]
	}
	switch f {
	case "csv":
		return CSV, nil
	case "jsonl", "ndjson":
		return JSONL, nil
	}
	return "", fmt.Errorf("%w: format of %q: want csv or jsonl (by extension, or --format)", ErrFormat, name)
}
