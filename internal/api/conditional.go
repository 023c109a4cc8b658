package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"github.com/metricsd/metricsd/internal/core"
)

// Conditional requests (a metricsd extension; LaunchDarkly's clients send
// no such headers and ignore the ETag):
//
//   - Every single-resource representation of a versioned resource (metric,
//     metric group) carries an ETag: `"<version token>:<digest>"`. The
//     version token names the stored version (catalog's VersionToken); the
//     digest covers the body bytes, so that the tag also changes with what
//     changes without a new version (usage counters, lastSeen, the
//     maintainer's name) and differs between expansions.
//   - GET and HEAD with If-None-Match naming the current tag (or "*")
//     answer 304 with no body.
//   - PATCH and DELETE with If-Match proceed only when one of the tags
//     names the current version (or is "*"), compared inside the write's
//     transaction on the locked row; otherwise 412 and nothing changes.
//     Only the version token is compared: a write is refused when the
//     resource was written since, not when a counter moved.

// encodeWithAccess encodes v with its _access
// (when acc is not nil), to bytes.
func encodeWithAccess(v any, acc *accessRep) ([]byte, error) {
	var buf bytes.Buffer
	if err := appendMember(&buf, newEncoder(&buf), v, acc); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// entityTag returns the ETag of body, a representation of version token.
func entityTag(token string, body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + token + ":" + hex.EncodeToString(sum[:8]) + `"`
}

// writeEntity writes an encoded representation with its ETag, or 304 when
// the request is a GET or HEAD whose If-None-Match names that tag.
func writeEntity(w http.ResponseWriter, r *http.Request, status int, etag string, body []byte) {
	h := w.Header()
	h.Set("ETag", etag)
	if status == http.StatusOK && (r.Method == http.MethodGet || r.Method == http.MethodHead) && noneMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	// Known up front: without it a body over net/http's 2 KB buffer
	// (one with _access) goes out chunked, in more writes.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeVersioned encodes v, a representation of version token, with its
// _access, and writes it with writeEntity.
func writeVersioned(w http.ResponseWriter, r *http.Request, status int, token string, v any, acc *accessRep) error {
	body, err := encodeWithAccess(v, acc)
	if err != nil {
		return err
	}
	writeEntity(w, r, status, entityTag(token, body), body)
	return nil
}

// noneMatch reports whether an If-None-Match header names etag (weak
// comparison) or is "*".
func noneMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// withIfMatch returns r's context carrying the version tokens of its
// If-Match header for the write to check (core.CheckIfMatch), or r's
// context unchanged when it has none. Weak tags never match (If-Match uses
// the strong comparison); a malformed header matches nothing.
func withIfMatch(r *http.Request) *http.Request {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return r
	}
	tokens := []string{}
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" {
				tokens = append(tokens, t)
				continue
			}
			if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
				continue
			}
			t = t[1 : len(t)-1]
			if i := strings.LastIndexByte(t, ':'); i > 0 {
				tokens = append(tokens, t[:i])
			}
		}
	}
	return r.WithContext(core.WithIfMatch(r.Context(), tokens))
}
