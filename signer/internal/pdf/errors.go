package pdf

import "errors"

// Errors returned by the reader. They are wrapped with context; test with
// errors.Is.
var (
	// ErrNotPDF means the input has no "%PDF-" header.
	ErrNotPDF = errors.New("pdf: not a PDF file")
	// ErrEncrypted means the file is encrypted (has /Encrypt); Thiqa does
	// not sign encrypted files.
	ErrEncrypted = errors.New("pdf: encrypted file")
	// ErrMalformed means the file's syntax or structure is broken beyond
	// what the reader recovers from.
	ErrMalformed = errors.New("pdf: malformed file")
	// ErrLimit means a size, count or depth limit of [Limits] was reached.
	ErrLimit = errors.New("pdf: limit exceeded")
	// ErrUnsupported means the file uses a feature the reader lacks (for
	// example a stream filter other than FlateDecode in an xref stream).
	ErrUnsupported = errors.New("pdf: unsupported feature")
	// ErrNotFound means a referenced object does not exist.
	ErrNotFound = errors.New("pdf: object not found")
)
