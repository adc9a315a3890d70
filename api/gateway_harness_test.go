package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/keyring"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/readmodel"
	"github.com/greenmint/greenmint/statement"
	"github.com/greenmint/greenmint/webhook"
	"github.com/greenmint/greenmint/workspace"
	"golang.org/x/time/rate"
)

// testPassword is every seeded user's password in these tests.
const testPassword = "correct horse battery staple"

// cheapPasswords keep argon2id fast in tests (the product's defaults cost
// 64 MiB a hash).
var cheapPasswords = &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// gatewayEnv is a gateway over a fresh embedded network and one database,
// with one seeded admin per organisation and role.
type gatewayEnv struct {
	t       testing.TB
	net     *greenminttest.Network
	db      *store.DB
	auth    *auth.Service
	keyring *keyring.Keyring
	proj    *readmodel.Projector
	gw      *api.Gateway
	srv     *httptest.Server
	tokens  map[string]string // access tokens by seeded login
	kek     []byte            // the key-encryption key of auth's signing keys and the keyring
}

// seeded are the users every gatewayEnv starts with: login, organisation,
// role.
var seeded = []struct {
	login, org string
	role       greenmint.Role
}{
	{"registrar", consortium.RegistryMSP, greenmint.RoleRegistry},
	{"miner", consortium.MinerMSP, greenmint.RoleMiner},
	{"miner2", consortium.Miner2MSP, greenmint.RoleMiner},
	{"oracle", consortium.OracleAMSP, greenmint.RoleOracle},
	{"auditor", consortium.AuditorMSP, greenmint.RoleAuditor},
	{"buyer", consortium.BuyerMSP, greenmint.RoleBuyer},
}

type envOptions struct {
	limits api.Limits
	now    func() time.Time
}

// backend is the ledger a gatewayEnv serves: its consortium (whose CAs
// issue the users' identities unless ca is set) and the in-process
// oracle's database and identity.
type backend struct {
	ledger   greenmint.Ledger
	ws       *workspace.Workspace
	oracleDB *store.DB
	oracleID *greenmint.Identity
	ca       keyring.CA // the CA of the users' identities; nil: the consortium's own (ws.Consortium.Store)
}

// newGatewayEnv is a gatewayEnv over a fresh embedded network.
func newGatewayEnv(t testing.TB, db *store.DB, opts envOptions) *gatewayEnv {
	t.Helper()
	n := greenminttest.NewNetwork(t)
	e := newGatewayEnvOn(t, db, opts, backend{ledger: n.Ledger, ws: n.Workspace, oracleDB: n.DB, oracleID: n.OracleA})
	e.net = n
	return e
}

func newGatewayEnvOn(t testing.TB, db *store.DB, opts envOptions, be backend) *gatewayEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(ctx, db, auth.Config{Issuer: "https://greenmint.test", Audience: "greenmint-api", KEK: kek, RegistryOrg: consortium.RegistryMSP,
		PasswordParams: cheapPasswords, Now: opts.now})
	if err != nil {
		t.Fatal(err)
	}
	var ca keyring.CA = be.ws.Consortium.Store
	if be.ca != nil {
		ca = be.ca
	}
	kr, err := keyring.New(db, ca, keyring.Options{KEKs: []keyring.KEK{{ID: "k1", Key: kek}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := readmodel.New(ctx, be.ledger, db)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.Run(ctx) }()
	sub, err := be.ws.Submitter(be.oracleDB, consortium.OracleAMSP+":oracle")
	if err != nil {
		t.Fatal(err)
	}
	in := oracle.NewIngester(be.oracleDB, &oracle.LedgerMeters{Ledger: be.ledger, ID: be.oracleID, TTL: time.Second}, nil)
	lim := opts.limits
	if lim.AnonymousRate == 0 {
		lim.AnonymousRate, lim.CredentialRate = rate.Inf, rate.Inf
	}
	_, sk, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhook.NewService(db, webhook.ServiceConfig{MasterKey: kek, AllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := webhook.NewSender(db, webhook.Config{MasterKey: kek, ReadsEverything: webhook.RegistryAndAuditors(db, consortium.RegistryMSP),
		Changed: p.Changed, AllowPrivateNetworks: true, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = sender.Run(ctx) }()
	g, err := api.NewGateway(ctx, api.GatewayConfig{Ledger: be.ledger, DB: db, Auth: a, Keyring: kr, Projector: p, RegistryMSP: consortium.RegistryMSP,
		Oracle: &api.GatewayOracle{Ingester: in, Submitter: sub, DB: be.oracleDB}, Limits: lim, Now: opts.now,
		StatementKey: &statement.Key{ID: "statement-test", Private: sk}, Webhooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	e := &gatewayEnv{t: t, db: db, auth: a, keyring: kr, proj: p, gw: g, srv: srv, tokens: map[string]string{}, kek: kek}
	for _, u := range seeded {
		if _, err := a.CreateUser(ctx, auth.NewUser{Login: u.login, Org: u.org, Role: u.role, Admin: true, Password: testPassword}); err != nil {
			t.Fatal(err)
		}
		// Signed in through auth, not over HTTP, so that the setup spends
		// none of the rate limits a test sets (logins over HTTP are
		// tested on their own).
		s, err := a.Login(ctx, u.login, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.login] = s.AccessToken
	}
	return e
}

// response is what a call got back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a request with the bearer token tok (none when empty) and
// extra headers (name, value pairs).
func (e *gatewayEnv) do(method, path, tok string, body any, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := loadValidator()
	if err != nil {
		e.t.Fatalf("the OpenAPI document: %v", err)
	}
	if err := v.check(method, path, res.StatusCode, res.Header.Get("Content-Type"), raw); err != nil {
		e.t.Errorf("%v\n%s", err, raw)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// call is do that wants a status and decodes the body into out.
func (e *gatewayEnv) call(method, path, tok string, body any, want int, out any, hdr ...string) response {
	e.t.Helper()
	r := e.do(method, path, tok, body, hdr...)
	if r.Status != want {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, r.Body, err)
		}
	}
	return r
}

// as returns the access token of a seeded user.
func (e *gatewayEnv) as(login string) string { return e.tokens[login] }

// problem decodes an error answer and checks its status and code.
func (e *gatewayEnv) problem(r response, status int, code string) api.GatewayProblem {
	e.t.Helper()
	var p api.GatewayProblem
	if r.Status != status {
		e.t.Fatalf("status %d %s, want %d", r.Status, r.Body, status)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		e.t.Fatalf("content type %q of %s, want application/problem+json", ct, r.Body)
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		e.t.Fatal(err)
	}
	if p.Code != code || p.Status != status || p.Detail == "" || p.RequestID == "" {
		e.t.Fatalf("problem %+v, want status %d code %s with a detail and request ID", p, status, code)
	}
	return p
}

// waitVisible waits until the read model has applied transaction txID.
func (e *gatewayEnv) waitVisible(txID string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.proj.WaitTx(ctx, txID); err != nil {
		e.t.Fatalf("transaction %s never reached the read model: %v", txID, err)
	}
}
