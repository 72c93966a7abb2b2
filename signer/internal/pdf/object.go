package pdf

import "fmt"

// Object is a PDF object: one of [Null], [Bool], [Int], [Real], [String],
// [Name], [Array], [Dict], [Ref] or *[Stream].
type Object interface{}

// Null is the PDF null object.
type Null struct{}

// Bool is a PDF boolean.
type Bool bool

// Int is a PDF integer.
type Int int64

// Real is a PDF real number.
type Real float64

// String is a PDF string (literal or hexadecimal), as raw bytes.
type String []byte

// Name is a PDF name without the leading slash, with #xx escapes decoded.
type Name string

// Array is a PDF array.
type Array []Object

// Dict is a PDF dictionary.
type Dict map[Name]Object

// Ref is an indirect reference "Num Gen R".
type Ref struct {
	Num uint32
	Gen uint16
}

// String returns "Num Gen R".
func (r Ref) String() string { return fmt.Sprintf("%d %d R", r.Num, r.Gen) }

// Stream is a PDF stream: its dictionary and where its encoded data lies in
// the file. The data is read only on demand ([Reader.StreamData]).
type Stream struct {
	Dict   Dict
	Offset int64 // file offset of the first byte of data
	Length int64 // encoded length in bytes
	// data holds the encoded bytes when the stream does not live in the file
	// (never for streams read from a file).
	data []byte
}

// NewStream returns an in-memory stream with the given dictionary and
// encoded data, for writing.
func NewStream(d Dict, data []byte) *Stream {
	return &Stream{Dict: d, Length: int64(len(data)), data: data}
}

// Data returns the encoded bytes of an in-memory stream made by [NewStream].
func (s *Stream) Data() []byte { return s.data }

// AsInt returns o as an integer if it is an [Int] (or an integral [Real]).
func AsInt(o Object) (int64, bool) {
	switch v := o.(type) {
	case Int:
		return int64(v), true
	case Real:
		if float64(int64(v)) == float64(v) {
			return int64(v), true
		}
	}
	return 0, false
}

// AsNumber returns o as a float64 if it is a number.
func AsNumber(o Object) (float64, bool) {
	switch v := o.(type) {
	case Int:
		return float64(v), true
	case Real:
		return float64(v), true
	}
	return 0, false
}

// Clone returns a deep copy of a dictionary (nested arrays and dictionaries
// are copied; streams are shared).
func (d Dict) Clone() Dict {
	if d == nil {
		return nil
	}
	c := make(Dict, len(d))
	for k, v := range d {
		c[k] = cloneObject(v)
	}
	return c
}

func cloneObject(o Object) Object {
	switch v := o.(type) {
	case Dict:
		return v.Clone()
	case Array:
		c := make(Array, len(v))
		for i, e := range v {
			c[i] = cloneObject(e)
		}
		return c
	case String:
		return append(String(nil), v...)
	}
	return o
}
