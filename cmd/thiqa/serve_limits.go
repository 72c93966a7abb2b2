package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/thiqa/thiqa/enrollment"
	"github.com/thiqa/thiqa/internal/node"
)

// Bounds of serve's limit flags.
const (
	minCodeTTL     = time.Minute
	maxCodeTTL     = 7 * 24 * time.Hour
	minDocumentMax = 1 << 10
	// maxDocumentMax keeps one base64-encoded PDF within the API's 32 MiB
	// request body.
	maxDocumentMax = 24 << 20
)

// limitFlags adds serve's flags for the activation code's lifetime and the
// sign requests' document limits. The function it returns checks them and
// sets them on the node's options; call it before opening the node.
func limitFlags(cmd *cobra.Command) func(*node.Options) error {
	var (
		codeTTL time.Duration
		maxDocs int
		maxSize int64
	)
	cmd.Flags().DurationVar(&codeTTL, "activation-code-ttl", 15*time.Minute,
		"how long an activation code given at a centre stays valid (1m to 168h)")
	cmd.Flags().IntVar(&maxDocs, "max-documents", 10,
		fmt.Sprintf("most PDFs in one sign request, all approved at once (1 to %d)", enrollment.MaxApprovalDigests))
	cmd.Flags().Int64Var(&maxSize, "max-document-size", 10<<20,
		"most bytes of one PDF in a sign request (1024 to 25165824; the API reads at most 32 MiB of JSON per request, where PDFs are base64)")
	return func(o *node.Options) error {
		switch {
		case codeTTL < minCodeTTL || codeTTL > maxCodeTTL:
			return fmt.Errorf("--activation-code-ttl %v: want %v to %v", codeTTL, minCodeTTL, maxCodeTTL)
		case maxDocs < 1 || maxDocs > enrollment.MaxApprovalDigests:
			return fmt.Errorf("--max-documents %d: want 1 to %d", maxDocs, enrollment.MaxApprovalDigests)
		case maxSize < minDocumentMax || maxSize > maxDocumentMax:
			return fmt.Errorf("--max-document-size %d: want %d to %d bytes", maxSize, minDocumentMax, maxDocumentMax)
		}
		o.ActivationCodeTTL, o.MaxDocuments, o.MaxDocumentSize = codeTTL, maxDocs, maxSize
		return nil
	}
}
