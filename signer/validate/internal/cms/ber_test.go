package cms

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestToDER(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		err            error
	}{
		{"DER unchanged", "3003020101", "3003020101", nil},
		{"indefinite sequence", "30800201010000", "3003020101", nil},
		{"nested indefinite", "3080308002010100000000", "30053003020101", nil},
		{"constructed octet string kept", "248004036162630401640000", "24080403616263040164", nil},
		{"long form length made minimal", "30810302010100", "300302010100", nil},
		{"trailing padding kept", "3003020101000000", "3003020101000000", nil},
		{"missing end-of-contents", "3080020101", "", ErrFormat},
		{"indefinite primitive", "0480", "", ErrFormat},
		{"length past the end", "3005020101", "", ErrFormat},
		{"too deep", strings.Repeat("3080", 100) + strings.Repeat("0000", 100), "", ErrLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := hex.DecodeString(tc.in)
			got, err := toDER(in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, _ := hex.DecodeString(tc.want)
			if !bytes.Equal(got, want) {
				t.Errorf("got %x, want %x", got, want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		err  error
	}{
		{"empty", nil, ErrFormat},
		{"not a sequence", []byte{0x04, 0x00}, ErrFormat},
		{"data content type", mustHex("300d06092a864886f70d010701a000"), ErrFormat},
		{"too large", make([]byte, MaxSize+1), ErrLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.in); !errors.Is(err, tc.err) {
				t.Errorf("err %v, want %v", err, tc.err)
			}
		})
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
