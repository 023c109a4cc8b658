package app

import (
	"errors"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// redacted replaces every secret RedactDSN hides.
const redacted = "xxxxx"

// secretParams are the DSN parameters (URL query or key=value) whose values
// are secrets, lower case. sslkey and passfile name files: not secrets.
var secretParams = map[string]bool{"password": true, "sslpassword": true}

// schemeRE matches a URL scheme and its colon.
var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// RedactDSN returns dsn fit for a log: every secret it can carry replaced by
// xxxxx. See dsnSecrets for the forms understood.
func RedactDSN(dsn string) string {
	out, _ := dsnSecrets(dsn)
	return out
}

// dsnSecrets is the one place that knows where a database URL keeps its
// secrets. It returns dsn redacted and the secrets found, each in every
// spelling an error message may echo it in (as written, decoded, quoted).
// The forms:
//
//   - URL (postgres://user:PASSWORD@host/db?password=P&sslpassword=P): the
//     userinfo password and the secret query parameters, keys matched
//     case-insensitively and after percent-decoding. A URL that does not
//     parse is redacted whole after the scheme: where its password ends is
//     not known.
//   - opaque URL (sqlite:PATH?password=P): the secret query parameters.
//   - key=value (host=h password=P or password='p w'): the secret keys'
//     values, quoted or not.
func dsnSecrets(dsn string) (string, []string) {
	var s secretSet
	switch scheme := schemeRE.FindString(dsn); {
	case scheme != "" && strings.HasPrefix(dsn[len(scheme):], "//"):
		u, err := url.Parse(dsn)
		if err != nil {
			s.add(dsn[len(scheme)+2:])
			return scheme + "//" + redacted, s.list()
		}
		if pw, ok := u.User.Password(); ok && pw != "" {
			s.add(pw)
			s.add(rawPassword(dsn[len(scheme)+2:]))
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
		u.RawQuery = redactQuery(u.RawQuery, &s)
		// Query and fragment are not re-escaped by String.
		return u.String(), s.list()
	case scheme != "":
		rest, query, ok := strings.Cut(dsn, "?")
		if !ok {
			return dsn, nil
		}
		return rest + "?" + redactQuery(query, &s), s.list()
	default:
		return redactKeyValues(dsn, &s), s.list()
	}
}

// rawPassword returns the password of a URL's authority (what follows
// "scheme://") as written, before percent-decoding, the way url.Parse
// splits it.
func rawPassword(rest string) string {
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	i := strings.LastIndex(rest, "@")
	if i < 0 {
		return ""
	}
	_, pw, _ := strings.Cut(rest[:i], ":")
	return pw
}

// redactQuery replaces the values of secret parameters in a raw query,
// keeping everything else as written.
func redactQuery(raw string, s *secretSet) string {
	if raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		if !ok || !secretParams[strings.ToLower(key)] || v == "" {
			continue
		}
		s.add(v)
		if dv, err := url.QueryUnescape(v); err == nil {
			s.add(dv)
		}
		parts[i] = k + "=" + redacted
	}
	return strings.Join(parts, "&")
}

// redactKeyValues replaces the values of secret keys in a libpq key=value
// connection string: pairs separated by white space, a value either bare
// or in single quotes, a backslash escaping the next character.
func redactKeyValues(dsn string, s *secretSet) string {
	var b strings.Builder
	i := 0
	for i < len(dsn) {
		// The key, up to "=" (white space may surround it).
		j := i
		for j < len(dsn) && dsn[j] != '=' && !isSpace(dsn[j]) {
			j++
		}
		key := dsn[i:j]
		for j < len(dsn) && isSpace(dsn[j]) {
			j++
		}
		if j >= len(dsn) || dsn[j] != '=' {
			// Not a pair: keep it and go on after it.
			b.WriteString(dsn[i:j])
			i = j
			continue
		}
		j++
		for j < len(dsn) && isSpace(dsn[j]) {
			j++
		}
		b.WriteString(dsn[i:j])
		// The value.
		v := j
		var val strings.Builder
		if j < len(dsn) && dsn[j] == '\'' {
			j++
			for j < len(dsn) && dsn[j] != '\'' {
				if dsn[j] == '\\' && j+1 < len(dsn) {
					j++
				}
				val.WriteByte(dsn[j])
				j++
			}
			if j < len(dsn) {
				j++ // the closing quote
			}
		} else {
			for j < len(dsn) && !isSpace(dsn[j]) {
				if dsn[j] == '\\' && j+1 < len(dsn) {
					j++
				}
				val.WriteByte(dsn[j])
				j++
			}
		}
		if secretParams[strings.ToLower(key)] && j > v {
			s.add(dsn[v:j])
			if dsn[v] == '\'' && j-v >= 2 {
				s.add(dsn[v+1 : j-1])
			}
			s.add(val.String())
			b.WriteString(redacted)
		} else {
			b.WriteString(dsn[v:j])
		}
		// The white space after the pair.
		i = j
		for j < len(dsn) && isSpace(dsn[j]) {
			j++
		}
		b.WriteString(dsn[i:j])
		i = j
	}
	return b.String()
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// secretSet collects secrets in their spellings.
type secretSet struct{ m map[string]bool }

func (s *secretSet) add(v string) {
	if v == "" || v == redacted {
		return
	}
	if s.m == nil {
		s.m = map[string]bool{}
	}
	s.m[v] = true
	// As %q shows it, e.g. in url.Parse's errors.
	if q := strconv.Quote(v); q[1:len(q)-1] != v {
		s.m[q[1:len(q)-1]] = true
	}
}

// list returns the secrets, longest first, so that a secret holding
// another is replaced whole.
func (s *secretSet) list() []string {
	out := make([]string, 0, len(s.m))
	for v := range s.m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// redactText replaces dsn and each of its secrets in text.
func redactText(text, dsn string) string {
	clean, secrets := dsnSecrets(dsn)
	if dsn != "" {
		text = strings.ReplaceAll(text, dsn, clean)
	}
	for _, v := range secrets {
		text = strings.ReplaceAll(text, v, redacted)
	}
	return text
}

// redactError returns err's message, prefixed, with dsn and its secrets
// replaced. It does not wrap err: unwrapping would give the raw message
// back.
func redactError(prefix, dsn string, err error) error {
	return errors.New(prefix + ": " + redactText(err.Error(), dsn))
}

// checkDSN rejects a database URL that does not parse, without echoing it
// the way url.Parse's error does.
func checkDSN(dsn string) error {
	scheme := schemeRE.FindString(dsn)
	if scheme == "" || !strings.HasPrefix(dsn[len(scheme):], "//") {
		return nil
	}
	if _, err := url.Parse(dsn); err != nil {
		// url.Parse's reason may quote a piece of the password: not shown.
		return errors.New("database URL " + RedactDSN(dsn) + " is not a valid URL; percent-encode special characters in the user name and password (for example # as %23, / as %2F, @ as %40)")
	}
	return nil
}
