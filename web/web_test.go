package web

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/greenmint/greenmint"
)

func TestAssets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		code  string
	}{
		{"built", fstest.MapFS{"dist/index.html": {Data: []byte(`<div id="root"></div>`)}, "dist/assets/index-x.js": {Data: []byte("x")}}, ""},
		{"placeholder only", fstest.MapFS{"dist/.gitkeep": {}}, greenmint.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := assets(tc.files)
			if code := greenmint.ErrorCode(err); code != tc.code {
				t.Fatalf("assets() error %v (code %q), want code %q", err, code, tc.code)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "make web") {
					t.Fatalf("assets() error %q does not say how to build the app", err)
				}
				return
			}
			if _, err := fs.Stat(got, "assets/index-x.js"); err != nil {
				t.Fatalf("the built app lacks its assets: %v", err)
			}
		})
	}
}

// TestEmbeddedAssets checks what this binary embeds: the built app, or
// nothing but the placeholder (and then a clear error).
func TestEmbeddedAssets(t *testing.T) {
	a, err := Assets()
	if err != nil {
		if greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
			t.Fatalf("Assets() = %v, want the app or not_found", err)
		}
		t.Logf("the web app is not built: %v", err)
		return
	}
	index, err := fs.ReadFile(a, "index.html")
	if err != nil || !strings.Contains(string(index), `id="root"`) {
		t.Fatalf("index.html = %q, %v; want the app's page", index, err)
	}
}
