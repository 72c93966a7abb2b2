//go:debug x509negativeserial=1

package validate

// Old certificates in the corpus (and in real archives) carry negative
// serial numbers, which crypto/x509 refuses unless this setting is on;
// cmd/thiqa sets it too.
