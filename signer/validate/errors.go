package validate

import "errors"

// Errors returned by [Validate] and [ValidateFile]. A broken or hostile
// PDF is never an error: it gives a report with a FORMAT_FAILURE or
// INDETERMINATE verdict. Errors are for what stops validation itself.
var (
	// ErrOptions means the options are inconsistent.
	ErrOptions = errors.New("validate: bad options")
	// ErrTooLarge means the input is larger than Limits.MaxFileSize.
	ErrTooLarge = errors.New("validate: file too large")
	// ErrRead means the input could not be read.
	ErrRead = errors.New("validate: read failed")
)
