package signer

import (
	"testing"

	"github.com/thiqa/thiqa/internal/testpki"
)

func TestSignLevels(t *testing.T) {
	p := testpki.New(t, nil)
	for _, xs := range []bool{false, true} {
		in := makePDF(t, 4000, xs)
		for _, level := range []Level{LevelBB, LevelBT, LevelBLT, LevelBLTA} {
			t.Run(level.String(), func(t *testing.T) {
				out := signBytes(t, in, p.SignerKey, options(p, level))
				path := writeTemp(t, out)
				qpdfCheck(t, path)
				pdfsig(t, path, 1, level != LevelBLT)
			})
		}
	}
}
