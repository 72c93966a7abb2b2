package pdf

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// bombData is 80 MiB of zeros compressed with zlib: about 100 KB.
var bombData = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&b, zlib.BestSpeed)
	zero := make([]byte, 1<<20)
	for range 80 {
		zw.Write(zero)
	}
	zw.Close()
	return b.Bytes()
})

// xrefRow is one xref stream row with /W [1 4 2].
func xrefRow(typ byte, f2 uint32, f3 uint16) []byte {
	r := []byte{typ, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(r[1:], f2)
	binary.BigEndian.PutUint16(r[5:], f3)
	return r
}

// xrefBomb is a PDF whose only xref stream decompresses to 80 MiB.
func xrefBomb() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	b.WriteString("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	b.WriteString("2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
	x := b.Len()
	z := bombData()
	fmt.Fprintf(&b, "3 0 obj\n<< /Type /XRef /Size 4000000 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d >>\nstream\n", len(z))
	b.Write(z)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

// objStmBomb is a PDF whose catalog lives in an object stream that
// decompresses to 80 MiB; its xref stream is honest.
func objStmBomb() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	o2 := b.Len()
	z := bombData()
	fmt.Fprintf(&b, "2 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n", len(z))
	b.Write(z)
	b.WriteString("\nendstream\nendobj\n")
	x := b.Len()
	var rows []byte
	rows = append(rows, xrefRow(0, 0, 65535)...)
	rows = append(rows, xrefRow(2, 2, 0)...)
	rows = append(rows, xrefRow(1, uint32(o2), 0)...)
	rows = append(rows, xrefRow(1, uint32(x), 0)...)
	fmt.Fprintf(&b, "3 0 obj\n<< /Type /XRef /Size 4 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n", len(rows))
	b.Write(rows)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

// TestDecompressionBomb checks that an xref stream or object stream that
// inflates far beyond what real files need is refused with ErrLimit after
// the reader has allocated about Limits.MaxIndexSize (8 MiB; at most twice
// that is accepted), not the 64 MiB bound of other streams: with that
// bound and io.ReadAll the same files cost 157 MiB of allocations.
func TestDecompressionBomb(t *testing.T) {
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"xref stream", xrefBomb()},
		{"object stream", objStmBomb()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Open(bytes.NewReader(tc.file), int64(len(tc.file)), nil)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("Open(%d-byte bomb) = %v, want ErrLimit", len(tc.file), err)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d-byte file: %v; %d MiB allocated", len(tc.file), err, alloc>>20)
			if max := uint64(2 * (8 << 20)); alloc > max {
				t.Errorf("allocated %d bytes reading the bomb, want at most %d", alloc, max)
			}
		})
	}
}

// TestUnfilteredIndexStreamLimit checks that an xref stream stored
// without a filter is held to the same bound as a compressed one.
func TestUnfilteredIndexStreamLimit(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	x := b.Len()
	rows := make([]byte, 7*((8<<20)/7+1)) // just over 8 MiB of free entries
	fmt.Fprintf(&b, "3 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n", len(rows)/7, len(rows))
	b.Write(rows)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", x)
	_, err := Open(bytes.NewReader(b.Bytes()), int64(b.Len()), nil)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("Open = %v, want ErrLimit", err)
	}
	t.Log(err)
}
