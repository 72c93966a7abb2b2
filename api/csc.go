package api

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/thiqa/thiqa/signing"
)

// Cloud Signature Consortium API v2 (2.0.0.2) at /csc/v2/, so that
// standard remote-signing clients can use citizens' credentials. The
// client authenticates with the citizen's session token (bearer), the
// credential is the citizen's signing certificate (its serial number is the
// credential ID), and authorisation is SCAL2 and asynchronous: the hashes
// are fixed by credentials/authorize, which answers 202 with an
// authorizationID; the citizen approves exactly those hashes in the app
// (/api/v1/csc-authorizations/{id}/approval/…); the client polls
// credentials/authorizeCheck until it returns the SAD, single-use and
// short-lived, and signatures/signHash refuses any hash not bound to it.
// The v1 field names hash and hashAlgo are accepted as aliases of hashes
// and hashAlgorithmOID. Errors are CSC error objects
// ({"error","error_description"}).

// CSCService is what the CSC endpoints and the app's approval of CSC
// authorizations need (*signing.Service).
type CSCService interface {
	CredentialOf(ctx context.Context, by signing.Principal) (signing.Credential, error)
	AuthorizeHashes(ctx context.Context, by signing.Principal, credentialID string, hashes [][]byte, hashAlg, description string) (signing.HashAuthorization, error)
	AuthorizeCheck(ctx context.Context, by signing.Principal, credentialID, id string) (signing.SAD, string, error)
	ExtendTransaction(ctx context.Context, by signing.Principal, credentialID, sad string) (signing.SAD, error)
	SignHash(ctx context.Context, by signing.Principal, credentialID, sad string, hashes [][]byte, hashAlg string) ([][]byte, error)
	Timestamp(ctx context.Context, hash []byte, hashAlg string) ([]byte, error)
	HashAuthorizationOf(ctx context.Context, by signing.Principal, id string) (signing.HashAuthorization, error)
	PendingHashAuthorizations(ctx context.Context, by signing.Principal) ([]signing.HashAuthorization, error)
	BeginHashApproval(ctx context.Context, by signing.Principal, id string) (signing.Challenge, error)
	ApproveHashes(ctx context.Context, by signing.Principal, id, ceremonyID string, assertion []byte) (signing.HashAuthorization, error)
	RejectHashes(ctx context.Context, by signing.Principal, id string) (signing.HashAuthorization, error)
}

var _ CSCService = (*signing.Service)(nil)

func init() {
	routeSets = append(routeSets, cscRoutes, cscApprovalRoutes)
	errorMap = append(errorMap, []struct {
		err    error
		status int
		slug   string
	}{
		{signing.ErrSAD, http.StatusBadRequest, "invalid-sad"},
	}...)
}

// cscVersion is the CSC API version served.
const cscVersion = "2.0.0.2"

// cscError is the CSC API's error object.
type cscError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// writeCSCError answers err as a CSC error object with the status the
// API's error map gives it.
func (s *Server) writeCSCError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := http.StatusInternalServerError, "server_error"
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		status, code = http.StatusRequestEntityTooLarge, "invalid_request"
	default:
		for _, e := range errorMap {
			if errors.Is(err, e.err) {
				status, code = e.status, "invalid_request"
				switch status {
				case http.StatusUnauthorized:
					code = "invalid_token"
				case http.StatusForbidden:
					code = "access_denied"
				case http.StatusServiceUnavailable:
					code = "temporarily_unavailable"
				}
				break
			}
		}
	}
	desc := err.Error()
	if status == http.StatusInternalServerError {
		s.opts.Logger.Error("internal error", "request_id", RequestID(r.Context()), "err", err)
		desc = "internal error (request " + RequestID(r.Context()) + ")"
	} else {
		s.opts.Logger.Warn("refused", "request_id", RequestID(r.Context()), "path", logPath(r), "err", desc)
	}
	writeJSON(w, status, cscError{Error: code, Description: desc})
}

// decodeCSC reads a CSC request body. Unknown members are ignored, as
// CSC clients send optional ones (clientData, signAlgoParams, …) that do
// not change the outcome here; the body limit still applies.
func decodeCSC(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

// cscHashes are the hash members of CSC requests, v2 names and v1 aliases.
type cscHashes struct {
	Hashes           []string `json:"hashes"`
	Hash             []string `json:"hash"` // v1
	HashAlgorithmOID string   `json:"hashAlgorithmOID"`
	HashAlgo         string   `json:"hashAlgo"` // v1
}

func (h cscHashes) decode() ([][]byte, string, error) {
	list := h.Hashes
	if len(list) == 0 {
		list = h.Hash
	}
	alg := h.HashAlgorithmOID
	if alg == "" {
		alg = h.HashAlgo
	}
	if len(list) > 64 {
		return nil, "", fmt.Errorf("%w: too many hashes", ErrBadRequest)
	}
	out := make([][]byte, len(list))
	for i, s := range list {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
				return nil, "", fmt.Errorf("%w: hash %d is not base64", ErrBadRequest, i)
			}
		}
		out[i] = b
	}
	if alg == "" {
		alg = signing.OIDSHA256
	}
	return out, alg, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func cscRoutes(s *Server, mux *http.ServeMux) {
	route := func(pattern string, h func(r *http.Request) (int, any, error)) {
		mux.HandleFunc(pattern, s.authorize(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.CSC == nil {
				s.writeCSCError(w, r, ErrUnavailable)
				return
			}
			status, v, err := h(r)
			if err != nil {
				s.writeCSCError(w, r, err)
				return
			}
			writeJSON(w, status, v)
		}))
	}
	by := signingPrincipal
	mux.HandleFunc("/csc/v2/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, cscError{Error: "invalid_request", Description: "no such CSC API method"})
	})
	route("POST /csc/v2/info", func(r *http.Request) (int, any, error) {
		return http.StatusOK, map[string]any{
			"specs": cscVersion, "name": "Thiqa", "logo": "", "region": "JO", "lang": "en",
			"description": "Thiqa remote signing with citizens' keys, approved with a passkey in the app (SCAL2).",
			"authType":    []string{"external"},
			"methods": []string{"credentials/list", "credentials/info", "credentials/authorize", "credentials/authorizeCheck",
				"credentials/extendTransaction", "signatures/signHash", "signatures/timestamp"},
			"signAlgorithms": map[string]any{"algos": []string{signing.OIDECDSASHA256}},
		}, nil
	})
	route("POST /csc/v2/credentials/list", func(r *http.Request) (int, any, error) {
		var req struct {
			CredentialInfo bool   `json:"credentialInfo"`
			Certificates   string `json:"certificates"`
			CertInfo       bool   `json:"certInfo"`
			AuthInfo       bool   `json:"authInfo"`
		}
		if err := decodeCSC(r, &req); err != nil {
			return 0, nil, err
		}
		c, err := s.CSC.CredentialOf(r.Context(), by(r))
		if err != nil {
			return 0, nil, err
		}
		out := map[string]any{"credentialIDs": []string{c.ID}}
		if req.CredentialInfo {
			info, err := credentialInfo(c, req.Certificates, req.CertInfo, req.AuthInfo)
			if err != nil {
				return 0, nil, err
			}
			info["credentialID"] = c.ID
			out["credentialInfos"] = []any{info}
		}
		return http.StatusOK, out, nil
	})
	route("POST /csc/v2/credentials/info", func(r *http.Request) (int, any, error) {
		var req struct {
			CredentialID string `json:"credentialID"`
			Certificates string `json:"certificates"`
			CertInfo     bool   `json:"certInfo"`
			AuthInfo     bool   `json:"authInfo"`
		}
		if err := decodeCSC(r, &req); err != nil {
			return 0, nil, err
		}
		c, err := s.CSC.CredentialOf(r.Context(), by(r))
		if err != nil {
			return 0, nil, err
		}
		if req.CredentialID != c.ID {
			return 0, nil, fmt.Errorf("%w: credentialID", signing.ErrNotFound)
		}
		info, err := credentialInfo(c, req.Certificates, req.CertInfo, req.AuthInfo)
		return http.StatusOK, info, err
	})
	route("POST /csc/v2/credentials/authorize", func(r *http.Request) (int, any, error) {
		var req struct {
			cscHashes
			CredentialID  string `json:"credentialID"`
			NumSignatures int    `json:"numSignatures"`
			Description   string `json:"description"`
		}
		if err := decodeCSC(r, &req); err != nil {
			return 0, nil, err
		}
		hashes, alg, err := req.decode()
		if err != nil {
			return 0, nil, err
		}
		if req.NumSignatures != len(hashes) {
			return 0, nil, fmt.Errorf("%w: numSignatures must equal the number of hashes (SCAL2)", ErrBadRequest)
		}
		a, err := s.CSC.AuthorizeHashes(r.Context(), by(r), req.CredentialID, hashes, alg, req.Description)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusAccepted, map[string]any{"authorizationID": a.ID, "expiresIn": int(a.Expires.Sub(a.Created).Seconds())}, nil
	})
	route("POST /csc/v2/credentials/authorizeCheck", func(r *http.Request) (int, any, error) {
		var req struct {
			CredentialID    string `json:"credentialID"`
			AuthorizationID string `json:"authorizationID"`
		}
		if err := decodeCSC(r, &req); err != nil {
			return 0, nil, err
		}
		sad, state, err := s.CSC.AuthorizeCheck(r.Context(), by(r), req.CredentialID, req.AuthorizationID)
		if err != nil {
			return 0, nil, err
		}
		if sad.SAD == "" {
			return http.StatusAccepted, map[string]string{"status": state}, nil
		}
		return http.StatusOK, map[string]any{"SAD": sad.SAD, "expiresIn": sad.ExpiresIn}, nil
	})
	route("POST /csc/v2/credentials/extendTransaction", func(r *http.Request) (int, any, error) {
		var req struct {
			CredentialID string `json:"credentialID"`
			SAD          string `json:"SAD"`
		}
		if err := decodeCSC(r, &req); err != nil {
			return 0, nil, err
		}
		sad, err := s.CSC.ExtendTransaction(r.Context(), by(r), req.CredentialID, req.SAD)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]any{"SAD": sad.SAD, "expiresIn": sad.ExpiresIn}, nil
	})
	route("POST /csc/v2/signatures/signHash", func(r *http.Request) (int, any, error) {
		var req struct {
			cscHashes
			CredentialID  string `json:"credentialID"`
			SAD           string `json:"SAD"`
			SignAlgo      string `json:"signAlgo"`
			OperationMode string `json:"operationMode"`
		}
		if err := decodeCSC(r, &req); err != nil {
			return 0, nil, err
		}
		if req.SignAlgo != "" && req.SignAlgo != signing.OIDECDSASHA256 && req.SignAlgo != signing.OIDECPublicKey {
			return 0, nil, fmt.Errorf("%w: signAlgo %q", ErrBadRequest, req.SignAlgo)
		}
		if req.OperationMode != "" && req.OperationMode != "S" {
			return 0, nil, fmt.Errorf("%w: only synchronous operationMode S", ErrBadRequest)
		}
		hashes, alg, err := req.decode()
		if err != nil {
			return 0, nil, err
		}
		sigs, err := s.CSC.SignHash(r.Context(), by(r), req.CredentialID, req.SAD, hashes, alg)
		if err != nil {
			return 0, nil, err
		}
		out := make([]string, len(sigs))
		for i, sg := range sigs {
			out[i] = b64(sg)
		}
		return http.StatusOK, map[string]any{"signatures": out}, nil
	})
	route("POST /csc/v2/signatures/timestamp", func(r *http.Request) (int, any, error) {
		var req struct {
			Hash             string `json:"hash"`
			HashAlgorithmOID string `json:"hashAlgorithmOID"`
			HashAlgo         string `json:"hashAlgo"`
		}
		if err := decodeCSC(r, &req); err != nil {
			return 0, nil, err
		}
		h := cscHashes{Hashes: []string{req.Hash}, HashAlgorithmOID: req.HashAlgorithmOID, HashAlgo: req.HashAlgo}
		hashes, alg, err := h.decode()
		if err != nil {
			return 0, nil, err
		}
		tok, err := s.CSC.Timestamp(r.Context(), hashes[0], alg)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]string{"timestamp": b64(tok)}, nil
	})
}

// credentialInfo describes a credential as credentials/info does.
func credentialInfo(c signing.Credential, certs string, certInfo, authInfo bool) (map[string]any, error) {
	leaf, err := x509.ParseCertificate(c.Chain[0])
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"description": "Thiqa citizen signing key (passkey approval in the app)",
		"key":         map[string]any{"status": "enabled", "algo": []string{signing.OIDECPublicKey}, "len": 256, "curve": signing.OIDCurveP256},
		"SCAL":        "2",
		"authMode":    "implicit",
		"multisign":   64,
		"lang":        "en",
	}
	cert := map[string]any{"status": "valid"}
	switch strings.ToLower(certs) {
	case "", "single":
		cert["certificates"] = []string{b64(c.Chain[0])}
	case "chain":
		var all []string
		for _, d := range c.Chain {
			all = append(all, b64(d))
		}
		cert["certificates"] = all
	case "none":
	default:
		return nil, fmt.Errorf("%w: certificates must be none, single or chain", ErrBadRequest)
	}
	if certInfo {
		cert["issuerDN"], cert["subjectDN"] = leaf.Issuer.String(), leaf.Subject.String()
		cert["serialNumber"] = leaf.SerialNumber.Text(16)
		cert["validFrom"], cert["validTo"] = leaf.NotBefore.UTC().Format("20060102150405Z"), leaf.NotAfter.UTC().Format("20060102150405Z")
	}
	out["cert"] = cert
	if authInfo {
		out["auth"] = map[string]any{"mode": "implicit", "description": "approve the hashes with your passkey in the Thiqa app"}
	}
	return out, nil
}

// cscApprovalRoutes are the app's endpoints to review and approve a CSC
// authorization.
func cscApprovalRoutes(s *Server, mux *http.ServeMux) {
	route := func(pattern string, h handler) {
		mux.HandleFunc(pattern, s.authorize(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.CSC == nil {
				s.writeError(w, r, ErrUnavailable)
				return
			}
			status, v, err := h(r)
			if err != nil {
				s.refuse(w, r, err)
				return
			}
			writeJSON(w, status, v)
		}))
	}
	by := signingPrincipal
	ok := func(v any, err error) (int, any, error) { return http.StatusOK, v, err }
	route("GET /api/v1/csc-authorizations", func(r *http.Request) (int, any, error) {
		return ok(s.CSC.PendingHashAuthorizations(r.Context(), by(r)))
	})
	route("GET /api/v1/csc-authorizations/{id}", func(r *http.Request) (int, any, error) {
		return ok(s.CSC.HashAuthorizationOf(r.Context(), by(r), r.PathValue("id")))
	})
	route("POST /api/v1/csc-authorizations/{id}/approval/begin", func(r *http.Request) (int, any, error) {
		if err := emptyBody(r); err != nil {
			return 0, nil, err
		}
		c, err := s.CSC.BeginHashApproval(r.Context(), by(r), r.PathValue("id"))
		return http.StatusOK, challengeReply{Challenge: c, Options: json.RawMessage(c.Options)}, err
	})
	route("POST /api/v1/csc-authorizations/{id}/approval/finish", func(r *http.Request) (int, any, error) {
		var req finishRequest
		if err := decodeJSON(r, &req); err != nil {
			return 0, nil, err
		}
		return ok(s.CSC.ApproveHashes(r.Context(), by(r), r.PathValue("id"), req.CeremonyID, req.Credential))
	})
	route("POST /api/v1/csc-authorizations/{id}/reject", func(r *http.Request) (int, any, error) {
		if err := emptyBody(r); err != nil {
			return 0, nil, err
		}
		return ok(s.CSC.RejectHashes(r.Context(), by(r), r.PathValue("id")))
	})
}
