package pkcs11

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Config says which token to use and how to log in to it. [ParseURI] makes
// one from a PKCS#11 URI.
type Config struct {
	// ModulePath is the absolute path of the PKCS#11 library
	// (module-path).
	ModulePath string
	// Token is the token's label (token); Serial, when set, must match its
	// serial number too (serial).
	Token, Serial string
	// KEKLabel is the label prefix of the key-encryption keys (object);
	// default "thiqa-kek".
	KEKLabel string
	// PIN is the user PIN, read from pin-source or given by pin-value.
	PIN string
	// MaxSessions bounds the session pool (max-sessions); 0 means the
	// token's own limit, at most DefaultMaxSessions.
	MaxSessions int
}

// DefaultMaxSessions bounds the session pool when neither the URI nor the
// token sets a smaller limit.
const DefaultMaxSessions = 32

// maxURILen and maxPINFile bound what ParseURI reads.
const (
	maxURILen  = 4096
	maxPINFile = 1024
)

// String returns the configuration as a URI, with the PIN left out.
func (c Config) String() string {
	path := "token=" + escape(c.Token)
	if c.Serial != "" {
		path += ";serial=" + escape(c.Serial)
	}
	if c.KEKLabel != "" {
		path += ";object=" + escape(c.KEKLabel)
	}
	return "pkcs11:" + path + "?module-path=" + escape(c.ModulePath)
}

func escape(s string) string {
	return strings.NewReplacer(";", "%3B", "&", "%26").Replace(url.PathEscape(s))
}

// ParseURI parses a PKCS#11 URI in the style of RFC 7512:
//
//	pkcs11:token=thiqa;object=thiqa-kek?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/thiqa/pin
//
// Path attributes: token (required), serial, object (the KEK label prefix).
// Query attributes: module-path (required, absolute), pin-source (a file
// path, optionally "file:"-prefixed; trailing newlines are dropped) or
// pin-value (tests), and max-sessions. Unknown or repeated attributes are
// errors, as is a URI with both or neither PIN attribute. The PIN file is
// read by ParseURI.
func ParseURI(uri string) (Config, error) {
	var c Config
	if len(uri) > maxURILen {
		return c, uriErr("longer than %d bytes", maxURILen)
	}
	rest, ok := strings.CutPrefix(uri, "pkcs11:")
	if !ok {
		return c, uriErr("scheme is not pkcs11")
	}
	path, query, _ := strings.Cut(rest, "?")
	pathAttrs, err := attributes(path, ";")
	if err != nil {
		return c, err
	}
	queryAttrs, err := attributes(query, "&")
	if err != nil {
		return c, err
	}
	for k, v := range pathAttrs {
		switch k {
		case "token":
			c.Token = v
		case "serial":
			c.Serial = v
		case "object":
			c.KEKLabel = v
		default:
			return c, uriErr("unknown path attribute %q", k)
		}
	}
	var pinSource string
	var hasPINValue bool
	for k, v := range queryAttrs {
		switch k {
		case "module-path":
			c.ModulePath = v
		case "pin-source":
			pinSource = v
		case "pin-value":
			c.PIN, hasPINValue = v, true
		case "max-sessions":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1024 {
				return c, uriErr("max-sessions %q is not a number from 1 to 1024", v)
			}
			c.MaxSessions = n
		default:
			return c, uriErr("unknown query attribute %q", k)
		}
	}
	switch {
	case c.Token == "":
		return c, uriErr("no token label (token=…)")
	case c.ModulePath == "":
		return c, uriErr("no module-path")
	case !filepath.IsAbs(c.ModulePath):
		return c, uriErr("module-path %q is not absolute", c.ModulePath)
	case pinSource != "" && hasPINValue:
		return c, uriErr("both pin-source and pin-value")
	case pinSource == "" && !hasPINValue:
		return c, uriErr("no pin-source or pin-value")
	}
	if pinSource != "" {
		if c.PIN, err = readPIN(pinSource); err != nil {
			return c, err
		}
	}
	if c.PIN == "" {
		return c, uriErr("empty PIN")
	}
	return c, nil
}

// attributes splits s into name=value pairs separated by sep and
// percent-decodes them.
func attributes(s, sep string) (map[string]string, error) {
	m := map[string]string{}
	if s == "" {
		return m, nil
	}
	for _, kv := range strings.Split(s, sep) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, uriErr("attribute %q is not name=value", kv)
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return nil, uriErr("attribute %s: %v", k, err)
		}
		if _, dup := m[k]; dup {
			return nil, uriErr("attribute %s given twice", k)
		}
		m[k] = dv
	}
	return m, nil
}

func readPIN(source string) (string, error) {
	path := strings.TrimPrefix(source, "file:")
	if strings.Contains(path, "://") || !filepath.IsAbs(path) {
		return "", uriErr("pin-source %q is not an absolute file path", source)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read PIN: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPINFile+1))
	if err != nil {
		return "", fmt.Errorf("read PIN: %w", err)
	}
	if len(b) > maxPINFile {
		return "", uriErr("PIN file %s is longer than %d bytes", path, maxPINFile)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func uriErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadURI}, args...)...)
}
