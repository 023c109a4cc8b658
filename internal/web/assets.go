package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
)

// templateFS holds the pages' templates, staticFS the stylesheet and the
// JavaScript modules. Both are compiled into the binary: the UI needs no
// network, CDN or build step.
//
//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// assets serves static/ under /static/HASH/, HASH being a digest of every
// file in it: a release that changes any asset changes every URL, so the
// files can be cached for a year, and modules import each other by
// relative paths within the same HASH.
type assets struct {
	hash  string
	files map[string][]byte
}

func loadAssets() *assets {
	a := &assets{files: map[string][]byte{}}
	var names []string
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := p[len("static/"):]
		a.files[name] = b
		names = append(names, name)
		return nil
	})
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(a.files[n])
		h.Write([]byte{0})
	}
	a.hash = hex.EncodeToString(h.Sum(nil))[:16]
	return a
}

// url is the address of the static file name; a file that is not
// embedded is an error, which fails the template that names it.
func (a *assets) url(name string) (string, error) {
	if _, ok := a.files[name]; !ok {
		return "", fs.ErrNotExist
	}
	return "/static/" + a.hash + "/" + name, nil
}

// static serves an embedded asset. An old hash is a 404: the page that
// asked for it is from another release and reloading it fixes that.
func (u *UI) static(w http.ResponseWriter, r *http.Request) error {
	b, ok := u.assets.files[r.PathValue("file")]
	if !ok || r.PathValue("hash") != u.assets.hash {
		http.NotFound(w, r)
		return nil
	}
	ct := mime.TypeByExtension(path.Ext(r.PathValue("file")))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(b)
	return nil
}
