package appearance

import (
	"fmt"
	"strconv"

	"rsc.io/qr"
)

// quietZone is the white margin around a QR code, in modules (ISO/IEC
// 18004 asks for four).
const quietZone = 4

// qrCode is an encoded verification URL.
type qrCode struct {
	code *qr.Code
}

// encodeQR encodes url at error correction level M; an empty url gives no
// code.
func encodeQR(url string) (*qrCode, error) {
	if url == "" {
		return nil, nil
	}
	c, err := qr.Encode(url, qr.M)
	if err != nil {
		return nil, fmt.Errorf("encode verify url: %w: %v", ErrQR, err)
	}
	return &qrCode{code: c}, nil
}

// draw fills the QR box (quiet zone included) white and the dark modules
// black, one rectangle per horizontal run of dark modules, in a coordinate
// system of one unit per module.
func (q *qrCode) draw(b []byte, x, y, side float64) []byte {
	n := q.code.Size
	total := n + 2*quietZone
	m := side / float64(total)
	b = append(b, "q 1 g "...)
	b = rect(b, x, y, side, side)
	b = append(b, " f\n"...)
	b = num(b, m)
	b = append(b, " 0 0 "...)
	b = num(b, m)
	b = append(b, ' ')
	b = num(b, x+quietZone*m)
	b = append(b, ' ')
	b = num(b, y+quietZone*m)
	b = append(b, " cm 0 g\n"...)
	for row := 0; row < n; row++ {
		for col := 0; col < n; {
			if !q.code.Black(col, row) {
				col++
				continue
			}
			start := col
			for col < n && q.code.Black(col, row) {
				col++
			}
			b = appendInt(b, start)
			b = append(b, ' ')
			b = appendInt(b, n-1-row)
			b = append(b, ' ')
			b = appendInt(b, col-start)
			b = append(b, " 1 re\n"...)
		}
	}
	return append(b, "f Q\n"...)
}

func appendInt(b []byte, v int) []byte {
	return strconv.AppendInt(b, int64(v), 10)
}
