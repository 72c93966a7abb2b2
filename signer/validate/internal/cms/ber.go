package cms

import "fmt"

// maxBERDepth bounds the nesting of BER structures.
const maxBERDepth = 64

// toDER rewrites BER indefinite lengths as definite ones (the rest of
// BER, such as constructed strings, is kept and handled by the parser).
// Input that is already DER comes back unchanged. Trailing bytes after
// the first element are returned as they are.
func toDER(b []byte) ([]byte, error) {
	out := make([]byte, 0, len(b))
	out, n, err := berElement(out, b, 0)
	if err != nil {
		return nil, err
	}
	return append(out, b[n:]...), nil
}

// berElement appends the DER form of the element at the start of b and
// returns how many bytes of b it used.
func berElement(out, b []byte, depth int) ([]byte, int, error) {
	if depth > maxBERDepth {
		return nil, 0, fmt.Errorf("%w: nesting deeper than %d", ErrLimit, maxBERDepth)
	}
	if len(b) < 2 {
		return nil, 0, fmt.Errorf("%w: truncated element", ErrFormat)
	}
	hdr := 1
	if b[0]&0x1f == 0x1f {
		for hdr < len(b) && b[hdr]&0x80 != 0 {
			hdr++
			if hdr > 6 {
				return nil, 0, fmt.Errorf("%w: tag too long", ErrFormat)
			}
		}
		hdr++
	}
	if hdr >= len(b) {
		return nil, 0, fmt.Errorf("%w: truncated element", ErrFormat)
	}
	tag := b[:hdr]
	constructed := b[0]&0x20 != 0
	l := b[hdr]
	pos := hdr + 1
	if l == 0x80 {
		if !constructed {
			return nil, 0, fmt.Errorf("%w: indefinite length on a primitive", ErrFormat)
		}
		var body []byte
		for {
			if pos+1 >= len(b) {
				return nil, 0, fmt.Errorf("%w: missing end-of-contents", ErrFormat)
			}
			if b[pos] == 0 && b[pos+1] == 0 {
				pos += 2
				break
			}
			var n int
			var err error
			body, n, err = berElement(body, b[pos:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			pos += n
		}
		out = append(out, tag...)
		out = appendLength(out, len(body))
		return append(out, body...), pos, nil
	}
	length := 0
	if l < 0x80 {
		length = int(l)
	} else {
		nb := int(l & 0x7f)
		if nb > 4 || pos+nb > len(b) {
			return nil, 0, fmt.Errorf("%w: bad length", ErrFormat)
		}
		for i := 0; i < nb; i++ {
			length = length<<8 | int(b[pos+i])
		}
		pos += nb
	}
	if length < 0 || length > len(b)-pos {
		return nil, 0, fmt.Errorf("%w: length past the end", ErrFormat)
	}
	body := b[pos : pos+length]
	if !constructed || !hasIndefinite(body, depth) {
		// Re-encode the header minimally, keep the body.
		out = append(out, tag...)
		out = appendLength(out, length)
		return append(out, body...), pos + length, nil
	}
	var nb []byte
	for p := 0; p < len(body); {
		var n int
		var err error
		nb, n, err = berElement(nb, body[p:], depth+1)
		if err != nil {
			return nil, 0, err
		}
		p += n
	}
	out = append(out, tag...)
	out = appendLength(out, len(nb))
	return append(out, nb...), pos + length, nil
}

// hasIndefinite reports whether a constructed body holds an indefinite
// length anywhere (a cheap scan: any 0x80 length byte after a tag).
func hasIndefinite(body []byte, depth int) bool {
	for p := 0; p+1 < len(body); {
		hdr := 1
		if body[p]&0x1f == 0x1f {
			for p+hdr < len(body) && body[p+hdr]&0x80 != 0 && hdr < 6 {
				hdr++
			}
			hdr++
		}
		if p+hdr >= len(body) {
			return false
		}
		l := body[p+hdr]
		if l == 0x80 {
			return true
		}
		length, pos := 0, p+hdr+1
		if l < 0x80 {
			length = int(l)
		} else {
			nb := int(l & 0x7f)
			if nb > 4 || pos+nb > len(body) {
				return false
			}
			for i := 0; i < nb; i++ {
				length = length<<8 | int(body[pos+i])
			}
			pos += nb
		}
		if length < 0 || length > len(body)-pos {
			return false
		}
		if body[p]&0x20 != 0 && depth < maxBERDepth && hasIndefinite(body[pos:pos+length], depth+1) {
			return true
		}
		p = pos + length
	}
	return false
}

func appendLength(out []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(out, byte(n))
	case n < 0x100:
		return append(out, 0x81, byte(n))
	case n < 0x10000:
		return append(out, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		return append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
