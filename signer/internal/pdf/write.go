package pdf

import (
	"math"
	"sort"
	"strconv"
)

// AppendObject appends the PDF syntax of o to b. Dictionary keys are
// written in sorted order so that output is deterministic. Strings are
// written in hexadecimal form. A *Stream is written as its dictionary with
// /Length and its in-memory data.
func AppendObject(b []byte, o Object) []byte {
	switch v := o.(type) {
	case nil, Null:
		return append(b, "null"...)
	case Bool:
		if v {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case Int:
		return strconv.AppendInt(b, int64(v), 10)
	case Real:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = 0
		}
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	case String:
		return AppendHexString(b, v)
	case Name:
		return AppendName(b, v)
	case Ref:
		b = strconv.AppendUint(b, uint64(v.Num), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(v.Gen), 10)
		return append(b, " R"...)
	case Array:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ' ')
			}
			b = AppendObject(b, e)
		}
		return append(b, ']')
	case Dict:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, string(k))
		}
		sort.Strings(keys)
		b = append(b, "<<"...)
		for _, k := range keys {
			b = AppendName(b, Name(k))
			b = append(b, ' ')
			b = AppendObject(b, v[Name(k)])
		}
		return append(b, ">>"...)
	case *Stream:
		d := v.Dict.Clone()
		if d == nil {
			d = Dict{}
		}
		d["Length"] = Int(len(v.data))
		b = AppendObject(b, d)
		b = append(b, "\nstream\n"...)
		b = append(b, v.data...)
		return append(b, "\nendstream"...)
	}
	return append(b, "null"...) // not a PDF object type
}

// AppendName appends /name, escaping irregular characters as #xx.
func AppendName(b []byte, n Name) []byte {
	b = append(b, '/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x21 || c > 0x7e || c == '#' || isDelim(c) {
			b = append(b, '#', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

// AppendHexString appends <hex>.
func AppendHexString(b []byte, s []byte) []byte {
	const hx = "0123456789ABCDEF"
	b = append(b, '<')
	for _, c := range s {
		b = append(b, hx[c>>4], hx[c&15])
	}
	return append(b, '>')
}

// AppendLiteralString appends (text) with the needed escapes.
func AppendLiteralString(b []byte, s string) []byte {
	b = append(b, '(')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '(', ')', '\\':
			b = append(b, '\\', c)
		case '\r':
			b = append(b, `\r`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return append(b, ')')
}
