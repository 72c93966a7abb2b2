package app

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
)

// Colours of the app (also in app.css and the manifest).
var (
	green = color.NRGBA{0x0b, 0x6e, 0x4f, 0xff}
	white = color.NRGBA{0xff, 0xff, 0xff, 0xff}
)

// icon draws the app's square icon of n×n pixels: a white seal with a check
// mark on green, inside the safe zone of a maskable icon (the middle 80%).
func icon(n int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	s := float64(n)
	cx, cy := s/2, s/2
	ring, width := 0.30*s, 0.045*s
	// The check mark: two strokes.
	a, b, c := [2]float64{0.36 * s, 0.52 * s}, [2]float64{0.46 * s, 0.62 * s}, [2]float64{0.65 * s, 0.40 * s}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			col := green
			d := math.Hypot(px-cx, py-cy)
			if math.Abs(d-ring) < width || segment(px, py, a, b) < width || segment(px, py, b, c) < width {
				col = white
			}
			img.SetNRGBA(x, y, col)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // encoding an in-memory image to a buffer does not fail
	}
	return buf.Bytes()
}

// segment is the distance from (x, y) to the segment p–q.
func segment(x, y float64, p, q [2]float64) float64 {
	dx, dy := q[0]-p[0], q[1]-p[1]
	t := ((x-p[0])*dx + (y-p[1])*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(x-(p[0]+t*dx), y-(p[1]+t*dy))
}
