// Package web holds the web app's built assets (web/dist, built by `make
// web` from the React sources beside this file) for the gateway to serve
// (api.GatewayConfig.Web). A checkout that was never built embeds only
// dist/.gitkeep, so the module still compiles; Assets then says how to
// build the app.
package web

import (
	"embed"
	"io/fs"

	"github.com/greenmint/greenmint"
)

//go:embed all:dist
var dist embed.FS

// Assets returns the built app: index.html and assets/ at its root.
// ENOTFOUND if the app was not built into web/dist before the binary.
func Assets() (fs.FS, error) { return assets(dist) }

// assets is the app under dist/ of fsys, if it was built.
func assets(fsys fs.FS) (fs.FS, error) {
	sub, err := fs.Sub(fsys, "dist")
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "web.Assets", err, "")
	}
	if _, err := fs.Stat(sub, "index.html"); err != nil {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "web.Assets: the web app is not built into this binary (run make web, then build again)")
	}
	return sub, nil
}
