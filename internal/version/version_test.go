package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, c := range []struct {
		name string
		bi   debug.BuildInfo
		want Info
		str  string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26", Main: debug.Module{Version: "v1.4.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}}},
			Info{Version: "v1.4.0", Revision: "0123456789abcdef0123", GoVersion: "go1.26"}, "v1.4.0"},
		{"work tree", debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}}},
			Info{Version: "devel", Revision: "0123456789abcdef0123"}, "devel+0123456789ab"},
		{"dirty work tree", debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}},
			Info{Version: "devel", Revision: "abc", Modified: true}, "devel+abc-dirty"},
		{"no vcs", debug.BuildInfo{}, Info{Version: "devel"}, "devel"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := fromBuildInfo(&c.bi)
			if got != c.want {
				t.Errorf("fromBuildInfo = %+v, want %+v", got, c.want)
			}
			if s := got.String(); s != c.str {
				t.Errorf("String() = %q, want %q", s, c.str)
			}
		})
	}
}
