// Package version reports which build of metricsd is running, from the
// build information the Go toolchain stamps into every binary.
package version

import (
	"runtime/debug"
	"strings"
)

// Info describes a build.
type Info struct {
	// Version is the module version (v1.2.3) when the binary was built by
	// "go install module@version", else "devel".
	Version string
	// Revision is the VCS commit the binary was built from, empty when the
	// build had no VCS information (go test, go run of a file).
	Revision string
	// Modified reports a build from a work tree with uncommitted changes.
	Modified bool
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "devel"}
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Version: "devel", GoVersion: bi.GoVersion}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		info.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the one-word version shown by /healthz and metricsd version:
// the module version, or devel+REVISION (12 hex digits) with "-dirty" for
// a modified work tree. A module version already names its commit when it
// is a pseudo-version, so only devel builds add the revision.
func (i Info) String() string {
	if i.Version != "devel" || i.Revision == "" {
		return i.Version
	}
	var b strings.Builder
	b.WriteString("devel+")
	b.WriteString(i.Revision[:min(12, len(i.Revision))])
	if i.Modified {
		b.WriteString("-dirty")
	}
	return b.String()
}
