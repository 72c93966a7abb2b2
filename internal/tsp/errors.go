package tsp

import (
	"errors"
	"fmt"
	"strings"
)

// FailureInfo is the PKIFailureInfo of RFC 3161 section 2.4.2: a set of
// failure reasons, one bit each, numbered as in the RFC.
type FailureInfo uint32

// Failure reasons (RFC 3161 section 2.4.2).
const (
	FailBadAlg              FailureInfo = 1 << 0  // unrecognized or unsupported algorithm
	FailBadRequest          FailureInfo = 1 << 2  // transaction not permitted or supported
	FailBadDataFormat       FailureInfo = 1 << 5  // the data submitted has the wrong format
	FailTimeNotAvailable    FailureInfo = 1 << 14 // the TSA's time source is not available
	FailUnacceptedPolicy    FailureInfo = 1 << 15 // the requested TSA policy is not supported
	FailUnacceptedExtension FailureInfo = 1 << 16 // the requested extension is not supported
	FailAddInfoNotAvailable FailureInfo = 1 << 17 // the additional information requested could not be understood or is not available
	FailSystemFailure       FailureInfo = 1 << 25 // the request cannot be handled due to system failure
)

var failureNames = [...]struct {
	f    FailureInfo
	name string
}{
	{FailBadAlg, "badAlg"},
	{FailBadRequest, "badRequest"},
	{FailBadDataFormat, "badDataFormat"},
	{FailTimeNotAvailable, "timeNotAvailable"},
	{FailUnacceptedPolicy, "unacceptedPolicy"},
	{FailUnacceptedExtension, "unacceptedExtension"},
	{FailAddInfoNotAvailable, "addInfoNotAvailable"},
	{FailSystemFailure, "systemFailure"},
}

// String returns the RFC 3161 names of the bits set in f, joined by '|'.
func (f FailureInfo) String() string {
	var names []string
	for _, n := range failureNames {
		if f&n.f != 0 {
			names = append(names, n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		names = append(names, fmt.Sprintf("0x%x", uint32(f)))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// Status is the PKIStatus of a TimeStampResp (RFC 3161 section 2.4.2).
type Status int

// PKIStatus values.
const (
	StatusGranted                Status = 0
	StatusGrantedWithMods        Status = 1
	StatusRejection              Status = 2
	StatusWaiting                Status = 3
	StatusRevocationWarning      Status = 4
	StatusRevocationNotification Status = 5
)

// String returns the RFC 3161 name of s.
func (s Status) String() string {
	switch s {
	case StatusGranted:
		return "granted"
	case StatusGrantedWithMods:
		return "grantedWithMods"
	case StatusRejection:
		return "rejection"
	case StatusWaiting:
		return "waiting"
	case StatusRevocationWarning:
		return "revocationWarning"
	case StatusRevocationNotification:
		return "revocationNotification"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// RequestError is the error of [ParseRequest] and of a request that the
// [Authority] refuses: the failure reason sent back to the client and a
// human-readable reason that becomes the response's statusString.
type RequestError struct {
	Failure FailureInfo
	Reason  string
}

func (e *RequestError) Error() string {
	return "time-stamp request: " + e.Failure.String() + ": " + e.Reason
}

func reqErr(f FailureInfo, format string, args ...any) *RequestError {
	return &RequestError{Failure: f, Reason: fmt.Sprintf(format, args...)}
}

// Sentinel errors of the package.
var (
	// ErrCertificate means the TSU certificate given to [New] is not fit for
	// time-stamping (RFC 3161 section 2.3) or does not match the key.
	ErrCertificate = errors.New("tsp: unsuitable time-stamping certificate")
	// ErrKey means the signing key given to [New] is of an unsupported type.
	ErrKey = errors.New("tsp: unsupported signing key")
	// ErrOptions means the [Options] given to [New] are invalid.
	ErrOptions = errors.New("tsp: invalid options")
	// ErrCertificateNotValid means the TSU certificate is not valid at the
	// time given by the clock, so no token can be issued.
	ErrCertificateNotValid = errors.New("tsp: time-stamping certificate not valid now")
	// ErrSign means the signing key failed to sign a token.
	ErrSign = errors.New("tsp: signing failed")
	// ErrRand means the random source failed to give a serial number.
	ErrRand = errors.New("tsp: random source failed")
	// ErrMalformedResponse means [ParseResponse] was given bytes that are not
	// a well-formed TimeStampResp.
	ErrMalformedResponse = errors.New("tsp: malformed time-stamp response")
)
