package ingest

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/launchdarkly/go-sdk-common/v3/ldcontext"

	"github.com/metricsd/metricsd/internal/core"
)

// noFlags is the evaluation answer for every context: metricsd manages no
// feature flags, so the flag map is always empty.
var noFlags = []byte("{}\n")

// ContextFromBase64 decodes the context of a GET evaluation path segment:
// base64url with or without padding, holding a context (or an old-style
// user) as JSON. What it accepts and refuses is what LaunchDarkly's Go SDK
// accepts and refuses.
func ContextFromBase64(seg string) (ldcontext.Context, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return ldcontext.Context{}, core.Errorf(core.KindInvalid, "the context in the path is not base64url-encoded")
	}
	return ContextFromJSON(raw)
}

// ContextFromJSON decodes and validates a context as JSON.
func ContextFromJSON(raw []byte) (ldcontext.Context, error) {
	var c ldcontext.Context
	if err := c.UnmarshalJSON(raw); err != nil {
		return ldcontext.Context{}, core.Errorf(core.KindInvalid, "the context is not valid: %s", err)
	}
	return c, nil
}

// evalContextPath answers GET /sdk/evalx/{clientSideId}/contexts/{context}
// (and the older …/users/{user}).
func (b *Browser) evalContextPath(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), b.timeout)
	defer cancel()
	if _, err := b.environment(ctx, r.PathValue("clientSideId")); err != nil {
		return err
	}
	if _, err := ContextFromBase64(r.PathValue("context")); err != nil {
		return err
	}
	writeFlags(w)
	return nil
}

// evalContextBody answers REPORT /sdk/evalx/{clientSideId}/context (and the
// older …/user), the form SDKs configured with useReport send: the context
// is the request body.
func (b *Browser) evalContextBody(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), b.timeout)
	defer cancel()
	if _, err := b.environment(ctx, r.PathValue("clientSideId")); err != nil {
		return err
	}
	body, err := b.readBody(w, r)
	if err != nil {
		return err
	}
	if _, err := ContextFromJSON(body); err != nil {
		return err
	}
	writeFlags(w)
	return nil
}

// readBody reads a request body of at most maxBody bytes.
func (b *Browser) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.maxBody))
	if tooBig := new(http.MaxBytesError); errors.As(err, &tooBig) {
		return nil, core.Errorf(kindTooLarge, "request body is larger than %d bytes", b.maxBody)
	}
	if err != nil {
		return nil, core.Errorf(core.KindInvalid, "request body could not be read")
	}
	return body, nil
}

func writeFlags(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(noFlags)
}
