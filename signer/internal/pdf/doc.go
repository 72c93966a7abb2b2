// Package pdf is Thiqa's lean PDF reader: the part of ISO 32000 that
// signing and signature validation need, and nothing else.
//
// It reads the trailer and every cross-reference section (classic tables,
// cross-reference streams, object streams and hybrid-reference files),
// follows /Prev through all incremental updates, returns objects by
// reference, walks the page tree and finds the AcroForm. [Reader.Revisions]
// gives the end offset of every revision (each "%%EOF"), which a validator
// compares with signature byte ranges. When the xref is unusable, [Open]
// rebuilds it by scanning the file for "N G obj" (see [Reader.Recovered]),
// unless [Options.NoRecover] is set. Encrypted files are refused with
// [ErrEncrypted]. [AppendObject] writes objects back in PDF syntax for
// incremental updates.
//
// # Input is hostile
//
// Every loop, size, count and recursion depth is bounded by [Limits]; errors
// are values ([ErrMalformed], [ErrLimit], ...), never panics. The file is read
// through an io.ReaderAt on demand: opening a 200 MB file reads its tail and
// its xref sections only, and stream data is never loaded unless asked for.
// A Reader parses an object each time it is asked for it, unless given a
// [Cache] ([Options.Cache]); readers of the revisions of one file share
// one, so that walking every revision does not parse the same bytes once
// per revision.
//
// # Why our own reader
//
// TestCompareReaders measures it against github.com/digitorus/pdf (the
// reader of the peer, pdfsign) on ../shared/corpus: of 174 files, this
// reader opens and walks the page tree of 144, digitorus/pdf of 140
// (encrypted files excluded for both), and digitorus/pdf panics on some
// broken inputs and hides object numbers, which an incremental update
// needs. pdfcpu reads whole files into memory, which the 64 MB peak-RSS
// target for 200 MB inputs forbids.
//
// The package lives under signer/internal because only package signer
// (signing and, later, validation) uses it. It must not import any other
// Thiqa package, and nothing of networking or cryptography.
package pdf
