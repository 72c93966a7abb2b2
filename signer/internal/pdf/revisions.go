package pdf

import (
	"bytes"
	"fmt"
)

// Revisions returns the end offset of each revision of the file: the
// offset just after each "%%EOF" marker (and its end-of-line), in file
// order. The last value is normally the file size. A signature whose
// /ByteRange ends at one of these offsets covers that revision exactly.
// The file is scanned in chunks; memory does not grow with its size.
func (rd *Reader) Revisions() ([]int64, error) {
	const chunk = 1 << 20
	marker := []byte("%%EOF")
	var out []int64
	for base := int64(0); base < rd.size; base += chunk - int64(len(marker)) {
		buf, err := rd.readAt(base, chunk+2)
		if err != nil {
			return nil, fmt.Errorf("find revisions: %w", err)
		}
		limit := len(buf)
		if base+int64(len(buf)) < rd.size {
			limit = len(buf) - 2
		}
		for i := 0; ; {
			j := bytes.Index(buf[i:limit], marker)
			if j < 0 {
				break
			}
			end := i + j + len(marker)
			if end < len(buf) && buf[end] == '\r' {
				end++
			}
			if end < len(buf) && buf[end] == '\n' {
				end++
			}
			off := base + int64(end)
			if len(out) == 0 || out[len(out)-1] < off {
				out = append(out, off)
			}
			i = i + j + len(marker)
		}
		if base+int64(len(buf)) >= rd.size {
			break
		}
	}
	return out, nil
}
