package pdf

import (
	"bytes"
	"fmt"
	"testing"
)

// twoRevisions returns a file whose second revision redefines object 2,
// and the end of the first revision.
func twoRevisions(t *testing.T) ([]byte, int64) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	o1 := b.Len()
	b.WriteString("1 0 obj\n<</Type /Catalog /Pages 3 0 R /V 2 0 R>>\nendobj\n")
	o2 := b.Len()
	b.WriteString("2 0 obj\n(first)\nendobj\n")
	o3 := b.Len()
	b.WriteString("3 0 obj\n<</Type /Pages /Kids [] /Count 0>>\nendobj\n")
	x1 := b.Len()
	fmt.Fprintf(&b, "xref\n0 4\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n%010d 00000 n \n", o1, o2, o3)
	fmt.Fprintf(&b, "trailer\n<</Size 4 /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", x1)
	end1 := int64(b.Len())
	o2b := b.Len()
	b.WriteString("2 0 obj\n(second)\nendobj\n")
	x2 := b.Len()
	fmt.Fprintf(&b, "xref\n2 1\n%010d 00000 n \ntrailer\n<</Size 4 /Root 1 0 R /Prev %d>>\nstartxref\n%d\n%%%%EOF\n", o2b, x1, x2)
	return b.Bytes(), end1
}

// TestCacheSharedByRevisions checks that readers of two revisions sharing
// a cache each see their own version of a redefined object and the same
// unchanged objects, whichever reads first.
func TestCacheSharedByRevisions(t *testing.T) {
	file, end1 := twoRevisions(t)
	for _, newestFirst := range []bool{false, true} {
		c := NewCache(0)
		open := func(n int64) *Reader {
			rd, err := Open(bytes.NewReader(file[:n]), n, &Options{Cache: c})
			if err != nil {
				t.Fatal(err)
			}
			return rd
		}
		var r1, r2 *Reader
		if newestFirst {
			r2, r1 = open(int64(len(file))), open(end1)
		} else {
			r1, r2 = open(end1), open(int64(len(file)))
		}
		for _, tc := range []struct {
			rd   *Reader
			want string
		}{{r1, "first"}, {r2, "second"}, {r1, "first"}} {
			o, err := tc.rd.Get(Ref{Num: 2})
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := o.(String); string(s) != tc.want {
				t.Errorf("newest first %v: object 2 is %v, want %q", newestFirst, o, tc.want)
			}
		}
		p1, _ := r1.Catalog()
		p2, _ := r2.Catalog()
		if p1 == nil || p2 == nil || p1["Pages"] != p2["Pages"] {
			t.Errorf("catalogs differ: %v %v", p1, p2)
		}
		if len(c.m) == 0 {
			t.Error("nothing cached")
		}
	}
}

// TestCacheNotPastReaderEnd checks that an object parsed by a reader of
// the whole file is not served to a reader whose bytes end inside it.
func TestCacheNotPastReaderEnd(t *testing.T) {
	c := NewCache(0)
	c.store(100, 5, String("long"), 150, 1000)
	if _, ok := c.lookup(100, 5, 120); ok {
		t.Error("served to a reader of 120 bytes an object ending at 150")
	}
	if _, ok := c.lookup(100, 6, 1000); ok {
		t.Error("served object 5 as object 6")
	}
	if o, ok := c.lookup(100, 5, 1000); !ok || o.(String) == nil {
		t.Error("not served to a reader of the same bytes")
	}
	c.store(200, 7, String("at end"), 300, 300)
	if _, ok := c.lookup(200, 7, 1000); ok {
		t.Error("kept an object whose parse reached the end of its reader")
	}
	c.store(400, 8, &Stream{Dict: Dict{}}, 450, 1000)
	if _, ok := c.lookup(400, 8, 1000); ok {
		t.Error("kept a stream")
	}
	var nilCache *Cache
	nilCache.store(1, 1, Null{}, 2, 3)
	if _, ok := nilCache.lookup(1, 1, 3); ok {
		t.Error("a nil cache served an object")
	}
}
