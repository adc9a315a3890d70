package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// TestWebAppIsServed checks that the web app's files are served, that the
// app's own routes get index.html, and that API paths never do.
func TestWebAppIsServed(t *testing.T) {
	e := newGatewayEnv(t, greenminttest.StoreDBs(t)["sqlite"], envOptions{})
	assets := fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><title>Greenmint</title>")},
		"assets/app-1a2b.js": {Data: []byte("console.log(1)")},
	}
	g, err := api.NewGateway(context.Background(), api.GatewayConfig{Ledger: e.net.Ledger, DB: e.db, Auth: e.auth, Keyring: e.keyring, Projector: e.proj,
		RegistryMSP: consortium.RegistryMSP, Web: assets})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	for _, c := range []struct {
		path, want, cache string
		status            int
	}{
		{"/", "<title>Greenmint</title>", "no-cache", 200},
		{"/sites/SITE0042", "<title>Greenmint</title>", "no-cache", 200},
		{"/verify/retirements/R1", "<title>Greenmint</title>", "no-cache", 200},
		{"/assets/app-1a2b.js", "console.log(1)", "immutable", 200},
		{"/v1/nothing-here", `"code":"not_found"`, "", 404},
		{"/.well-known/nothing", `"code":"not_found"`, "", 404},
	} {
		res, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, 4096)
		n, _ := res.Body.Read(body)
		res.Body.Close()
		if res.StatusCode != c.status || !strings.Contains(string(body[:n]), c.want) || !strings.Contains(res.Header.Get("Cache-Control"), c.cache) {
			t.Errorf("GET %s = %d %q (Cache-Control %q), want %d with %q and %q", c.path, res.StatusCode, body[:n], res.Header.Get("Cache-Control"), c.status, c.want, c.cache)
		}
	}
	// The app's files are not rate limited: a page load fetches several,
	// reloads fetch them again (the anonymous limit is 5 a second, burst 20).
	for i := 0; i < 40; i++ {
		res, err := http.Get(srv.URL + "/assets/app-1a2b.js")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("asset fetch %d answered %d", i, res.StatusCode)
		}
	}
}
