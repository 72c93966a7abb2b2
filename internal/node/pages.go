package node

import "net/url"

// verifyBaseURL is the start of the URL in the QR code of visible
// stamps: the public verification page (package web) on the origin of
// the issuer, followed by the signature's identifier.
func verifyBaseURL(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/verify/?sig="
}
