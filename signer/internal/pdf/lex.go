package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// errShort means the parser ran off the end of its buffer; the caller may
// retry with a larger window of the file.
var errShort = errors.New("unexpected end of data")

const maxNesting = 64

func isWhite(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isRegular(c byte) bool { return !isWhite(c) && !isDelim(c) }

// parser parses PDF objects from a byte window. eof reports whether the
// window ends at the end of the file (so running off it is final).
type parser struct {
	b   []byte
	pos int
	eof bool
}

func (p *parser) short() error {
	return errShort
}

// skipSpace skips white space and comments.
func (p *parser) skipSpace() {
	for p.pos < len(p.b) {
		c := p.b[p.pos]
		if isWhite(c) {
			p.pos++
			continue
		}
		if c == '%' {
			for p.pos < len(p.b) && p.b[p.pos] != '\n' && p.b[p.pos] != '\r' {
				p.pos++
			}
			continue
		}
		return
	}
}

// keyword reads a run of regular characters.
func (p *parser) keyword() []byte {
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.b) && isRegular(p.b[p.pos]) {
		p.pos++
	}
	return p.b[start:p.pos]
}

// object parses one object; refs "N G R" are recognised.
func (p *parser) object(depth int) (Object, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("%w: objects nested deeper than %d", ErrLimit, maxNesting)
	}
	p.skipSpace()
	if p.pos >= len(p.b) {
		return nil, p.short()
	}
	c := p.b[p.pos]
	switch {
	case c == '/':
		return p.name()
	case c == '(':
		return p.literal()
	case c == '<':
		if p.pos+1 >= len(p.b) {
			return nil, p.short()
		}
		if p.b[p.pos+1] == '<' {
			return p.dict(depth)
		}
		return p.hex()
	case c == '[':
		p.pos++
		var a Array
		for {
			p.skipSpace()
			if p.pos >= len(p.b) {
				return nil, p.short()
			}
			if p.b[p.pos] == ']' {
				p.pos++
				return a, nil
			}
			o, err := p.object(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, o)
		}
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	case isRegular(c):
		start := p.pos
		k := p.keyword()
		if p.pos >= len(p.b) && !p.eof {
			return nil, p.short()
		}
		switch string(k) {
		case "true":
			return Bool(true), nil
		case "false":
			return Bool(false), nil
		case "null":
			return Null{}, nil
		}
		p.pos = start
		return nil, errors.New("unexpected keyword " + strconv.Quote(string(trunc(k))))
	}
	return nil, errors.New("unexpected character " + strconv.Quote(string(c)))
}

func trunc(b []byte) []byte {
	if len(b) > 20 {
		return b[:20]
	}
	return b
}

func (p *parser) number() (Object, error) {
	start := p.pos
	for p.pos < len(p.b) && isRegular(p.b[p.pos]) {
		p.pos++
	}
	if p.pos >= len(p.b) && !p.eof {
		return nil, p.short()
	}
	tok := p.b[start:p.pos]
	if n, ok := parseInt(tok); ok {
		// Look ahead for "G R".
		save := p.pos
		g := p.keyword()
		if gn, ok := parseUint(g); ok && n >= 0 {
			r := p.keyword()
			if string(r) == "R" && n <= 1<<31 && gn <= 65535 {
				return Ref{Num: uint32(n), Gen: uint16(gn)}, nil
			}
			if p.pos >= len(p.b) && !p.eof {
				return nil, p.short()
			}
		} else if p.pos >= len(p.b) && !p.eof {
			return nil, p.short()
		}
		p.pos = save
		return Int(n), nil
	}
	// Reals; tolerate oddities such as "--5" or "5-" the way readers do.
	s := string(tok)
	for len(s) > 1 && (s[0] == '-' || s[0] == '+') && (s[1] == '-' || s[1] == '+') {
		s = s[1:]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if i := bytes.IndexAny(tok[1:], "+-"); i >= 0 {
			if f2, err2 := strconv.ParseFloat(string(tok[:i+1]), 64); err2 == nil {
				return Real(f2), nil
			}
		}
		return Real(0), nil
	}
	return Real(f), nil
}

func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	neg := false
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		b = b[1:]
	}
	n, ok := parseUint(b)
	if neg {
		n = -n
	}
	return n, ok
}

func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (p *parser) name() (Object, error) {
	p.pos++ // '/'
	var out []byte
	for p.pos < len(p.b) && isRegular(p.b[p.pos]) {
		c := p.b[p.pos]
		if c == '#' && p.pos+2 < len(p.b) {
			h, ok1 := unhex(p.b[p.pos+1])
			l, ok2 := unhex(p.b[p.pos+2])
			if ok1 && ok2 {
				out = append(out, h<<4|l)
				p.pos += 3
				continue
			}
		}
		out = append(out, c)
		p.pos++
	}
	if p.pos >= len(p.b) && !p.eof {
		return nil, p.short()
	}
	return Name(out), nil
}

func (p *parser) hex() (Object, error) {
	p.pos++ // '<'
	var out []byte
	var hi byte
	half := false
	for {
		if p.pos >= len(p.b) {
			return nil, p.short()
		}
		c := p.b[p.pos]
		p.pos++
		if c == '>' {
			break
		}
		if isWhite(c) {
			continue
		}
		v, ok := unhex(c)
		if !ok {
			return nil, errors.New("bad character in hex string")
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return String(out), nil
}

func (p *parser) literal() (Object, error) {
	p.pos++ // '('
	var out []byte
	depth := 1
	for {
		if p.pos >= len(p.b) {
			return nil, p.short()
		}
		c := p.b[p.pos]
		p.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return String(out), nil
			}
		case '\r':
			if p.pos < len(p.b) && p.b[p.pos] == '\n' {
				p.pos++
			}
			c = '\n'
		case '\\':
			if p.pos >= len(p.b) {
				return nil, p.short()
			}
			e := p.b[p.pos]
			p.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if p.pos < len(p.b) && p.b[p.pos] == '\n' {
					p.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for i := 0; i < 2 && p.pos < len(p.b) && p.b[p.pos] >= '0' && p.b[p.pos] <= '7'; i++ {
						v = v*8 + int(p.b[p.pos]-'0')
						p.pos++
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
}

func (p *parser) dict(depth int) (Object, error) {
	p.pos += 2 // "<<"
	d := Dict{}
	for {
		p.skipSpace()
		if p.pos+1 >= len(p.b) {
			return nil, p.short()
		}
		if p.b[p.pos] == '>' && p.b[p.pos+1] == '>' {
			p.pos += 2
			return d, nil
		}
		if p.b[p.pos] != '/' {
			// Tolerate junk keys the way lenient readers do: skip one object.
			if _, err := p.object(depth + 1); err != nil {
				return nil, err
			}
			continue
		}
		k, err := p.name()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos+1 < len(p.b) && p.b[p.pos] == '>' && p.b[p.pos+1] == '>' {
			continue
		}
		v, err := p.object(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, null := v.(Null); !null {
			d[k.(Name)] = v
		}
	}
}
