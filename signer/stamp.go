package signer

import (
	"time"

	"github.com/thiqa/thiqa/signer/internal/appearance"
)

// StampOptions describe the bilingual visible stamp drawn by
// [BilingualStamp]: the signer's name in Arabic (shaped, right to left)
// and in Latin script, the signing time, the reason and a QR code of
// VerifyBaseURL followed by the signature's identifier
// ([Prepared.SignatureID]).
type StampOptions struct {
	NameArabic, NameLatin string
	Reason                string
	// Location formats the signing time; nil means UTC.
	Location *time.Location
	// VerifyBaseURL is the start of the verification URL, such as
	// "https://verify.thiqa.jo/s/"; empty draws no QR code.
	VerifyBaseURL string
}

// BilingualStamp returns an [AppearanceFunc] drawing the stamp of s with
// package signer/internal/appearance.
func BilingualStamp(s StampOptions) AppearanceFunc {
	return func(info AppearanceInfo) ([]AppearanceObject, error) {
		url := ""
		if s.VerifyBaseURL != "" {
			url = s.VerifyBaseURL + info.ID
		}
		st, err := appearance.Build(appearance.Options{
			Width: info.Width, Height: info.Height,
			NameArabic: s.NameArabic, NameLatin: s.NameLatin,
			SigningTime: info.Time, Location: s.Location,
			Reason: s.Reason, VerifyURL: url,
		})
		if err != nil {
			return nil, err
		}
		out := make([]AppearanceObject, len(st.Objects))
		for i, o := range st.Objects {
			out[i] = AppearanceObject{Dict: o.Dict, Stream: o.Stream}
		}
		return out, nil
	}
}
