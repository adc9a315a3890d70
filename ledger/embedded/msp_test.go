package embedded_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/identity"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// mspNet is a ledger whose organisation AliceMSP has two current users
// (alice, carol) and one whose certificate expired (old, issued by a CA
// made eleven years ago), with a clock the test moves.
type mspNet struct {
	dir, orgs string
	store     *identity.Store
	ledger    *embedded.Ledger
	alice     *greenmint.Identity
	carol     *greenmint.Identity
	bob       *greenmint.Identity // BobMSP
	old       *identity.Enrollment

	mu  sync.Mutex
	now time.Time
}

func (n *mspNet) clock() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.now
}

func (n *mspNet) set(t time.Time) {
	n.mu.Lock()
	n.now = t
	n.mu.Unlock()
}

func newMSPNet(tb testing.TB, opts embedded.Options) *mspNet {
	tb.Helper()
	root := tb.TempDir()
	n := &mspNet{dir: filepath.Join(root, "ledger"), orgs: filepath.Join(root, "orgs"), now: time.Now()}
	n.store = identity.NewStore(n.orgs)
	n.store.Now = func() time.Time { return time.Now().AddDate(-11, 0, 0) }
	for _, org := range []string{"AliceMSP", "BobMSP"} {
		if _, err := n.store.CreateOrg(org); err != nil {
			tb.Fatal(err)
		}
	}
	var err error
	if n.old, err = n.store.Enroll("AliceMSP", "old", greenmint.RoleMiner); err != nil {
		tb.Fatal(err)
	}
	n.store.Now = time.Now
	for _, u := range []struct {
		org, name string
		id        **greenmint.Identity
	}{{"AliceMSP", "alice", &n.alice}, {"AliceMSP", "carol", &n.carol}, {"BobMSP", "bob", &n.bob}} {
		e, err := n.store.Enroll(u.org, u.name, greenmint.RoleMiner)
		if err != nil {
			tb.Fatal(err)
		}
		*u.id = e.Identity()
	}
	cfg := embedded.ChannelConfig{ChannelID: "test", Chaincode: "kv"}
	for _, org := range []string{"AliceMSP", "BobMSP"} {
		pem, err := n.store.RootCertPEM(org)
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Orgs = append(cfg.Orgs, embedded.OrgConfig{MSPID: org, RootCertPEM: pem})
	}
	if err := embedded.Create(n.dir, cfg); err != nil {
		tb.Fatal(err)
	}
	opts.Clock = n.clock
	if opts.MSPDir == "" {
		opts.MSPDir = n.orgs
	}
	n.ledger = n.open(tb, opts)
	return n
}

func (n *mspNet) open(tb testing.TB, opts embedded.Options) *embedded.Ledger {
	tb.Helper()
	opts.Clock = n.clock
	l, err := embedded.Open(n.dir, kv{}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// submitAt endorses and commits, as id, a put stamped at.
func (n *mspNet) submitAt(l *embedded.Ledger, id *greenmint.Identity, at time.Time, key string) error {
	sp, err := embedded.NewSignedProposal(id, "test", "kv", "put", []string{key, "v"}, at)
	if err != nil {
		return err
	}
	tx, err := l.Endorse(context.Background(), sp)
	if err != nil {
		return err
	}
	_, err = l.Commit(context.Background(), tx)
	return err
}

func wantRefused(tb testing.TB, err error, code, reason string) {
	tb.Helper()
	if greenmint.ErrorCode(err) != code || !strings.Contains(err.Error(), reason) {
		tb.Fatalf("got %v; want %s: …%s…", err, code, reason)
	}
}

// TestExpiredCertificateIsRefusedWhateverTheTimestamp: the certificate's
// validity is checked against the ledger's clock, not the timestamp the
// client chose: a proposal backdated into the expired certificate's
// validity is refused, and so is a transaction endorsed while the
// certificate was valid but ordered after it expired.
func TestExpiredCertificateIsRefusedWhateverTheTimestamp(t *testing.T) {
	n := newMSPNet(t, embedded.Options{})
	old := n.old.Identity()
	backdated := n.old.Cert.NotAfter.Add(-24 * time.Hour)
	err := n.submitAt(n.ledger, old, backdated, "backdated")
	wantRefused(t, err, greenmint.EUNAUTHENTICATED, "expired")
	err = n.submitAt(n.ledger, old, n.clock(), "now")
	wantRefused(t, err, greenmint.EUNAUTHENTICATED, "expired")

	// Valid at endorsement, expired when ordered.
	n.set(n.old.Cert.NotAfter.Add(-time.Minute))
	sp, err := embedded.NewSignedProposal(old, "test", "kv", "put", []string{"late", "v"}, n.clock())
	if err != nil {
		t.Fatal(err)
	}
	tx, err := n.ledger.Endorse(context.Background(), sp)
	if err != nil {
		t.Fatalf("endorse a minute before expiry: %v", err)
	}
	n.set(n.old.Cert.NotAfter.Add(time.Minute))
	_, err = n.ledger.Commit(context.Background(), tx)
	wantRefused(t, err, greenmint.EUNAUTHENTICATED, "expired")
	if h := n.ledger.Height(); h != 1 {
		t.Fatalf("height = %d: something was committed", h)
	}
}

// TestProposalTimestampIsBounded: a proposal stamped far from the ledger's
// clock (years ahead, like one stamped 2035 to retire for 2036, or behind)
// is refused as invalid; within the bound it is accepted, and the bound is
// an option.
func TestProposalTimestampIsBounded(t *testing.T) {
	n := newMSPNet(t, embedded.Options{})
	now := n.clock()
	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"now", now, true},
		{"ten minutes ahead", now.Add(10 * time.Minute), true},
		{"ten minutes behind", now.Add(-10 * time.Minute), true},
		{"sixteen minutes ahead", now.Add(16 * time.Minute), false},
		{"sixteen minutes behind", now.Add(-16 * time.Minute), false},
		{"nine years ahead", now.AddDate(9, 0, 0), false},
		{"a year behind", now.AddDate(-1, 0, 0), false},
	}
	for _, tc := range tests {
		err := n.submitAt(n.ledger, n.alice, tc.at, "k-"+tc.name)
		if tc.ok && err != nil {
			t.Errorf("%s: %v, want accepted", tc.name, err)
		}
		if !tc.ok && (greenmint.ErrorCode(err) != greenmint.EINVALID || !strings.Contains(err.Error(), "from the ledger's time")) {
			t.Errorf("%s: %v, want invalid: …from the ledger's time…", tc.name, err)
		}
		if !tc.ok {
			if _, err := n.ledger.Evaluate(context.Background(), n.alice, "get", "x"); err != nil {
				t.Fatal(err)
			}
		}
	}
	n.ledger.Close()
	wide := n.open(t, embedded.Options{MaxClockSkew: time.Hour, MSPDir: n.orgs})
	if err := n.submitAt(wide, n.alice, now.Add(30*time.Minute), "wide"); err != nil {
		t.Fatalf("30 minutes ahead with a one-hour bound: %v", err)
	}
}

// TestRevokedIdentityIsRefused revokes one user of AliceMSP with a CRL
// signed by AliceMSP's CA in its MSP folder: the running ledger refuses the
// revoked user's proposals and orders none of its endorsed transactions,
// the next opened ledger too, while another user of the same organisation
// goes on working, and the chain, which the revoked user wrote to before,
// still verifies.
func TestRevokedIdentityIsRefused(t *testing.T) {
	n := newMSPNet(t, embedded.Options{})
	ctx := context.Background()
	if err := n.submitAt(n.ledger, n.alice, n.clock(), "before"); err != nil {
		t.Fatal(err)
	}
	sp, err := embedded.NewSignedProposal(n.alice, "test", "kv", "put", []string{"held", "v"}, n.clock())
	if err != nil {
		t.Fatal(err)
	}
	held, err := n.ledger.Endorse(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}

	path, err := n.store.Revoke("AliceMSP", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(n.orgs, "AliceMSP", "msp", "crls", identity.CRLFile); path != want {
		t.Fatalf("CRL written to %s, want %s", path, want)
	}
	if _, err := n.store.Revoke("AliceMSP", "alice"); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
		t.Fatalf("revoking twice = %v, want conflict", err)
	}
	if err := n.ledger.ReloadRevocations(); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, n.submitAt(n.ledger, n.alice, n.clock(), "after"), greenmint.EUNAUTHENTICATED, "revoked")
	_, err = n.ledger.Evaluate(ctx, n.alice, "get", "before")
	wantRefused(t, err, greenmint.EUNAUTHENTICATED, "revoked")
	_, err = n.ledger.Commit(ctx, held)
	wantRefused(t, err, greenmint.EUNAUTHENTICATED, "revoked")
	if err := n.submitAt(n.ledger, n.carol, n.clock(), "carol"); err != nil {
		t.Fatalf("another user of the same organisation: %v", err)
	}
	if err := n.submitAt(n.ledger, n.bob, n.clock(), "bob"); err != nil {
		t.Fatalf("another organisation: %v", err)
	}
	n.ledger.Close()

	l := n.open(t, embedded.Options{MSPDir: n.orgs})
	wantRefused(t, n.submitAt(l, n.alice, n.clock(), "after"), greenmint.EUNAUTHENTICATED, "revoked")
	if err := n.submitAt(l, n.carol, n.clock(), "carol2"); err != nil {
		t.Fatalf("another user of the same organisation after reopening: %v", err)
	}
	if _, err := l.Verify(ctx); err != nil {
		t.Fatalf("a chain written by a since-revoked user: %v", err)
	}

	// A running ledger picks up a new list by itself.
	if _, err := n.store.Revoke("AliceMSP", "carol"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := n.submitAt(l, n.carol, n.clock(), "carol3")
		if greenmint.ErrorCode(err) == greenmint.EUNAUTHENTICATED && strings.Contains(err.Error(), "revoked") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running ledger did not pick up the new revocation list: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestForeignCRLIsRefused: a revocation list in AliceMSP's folder that
// AliceMSP's CA did not sign cannot revoke anything; it makes Open fail and,
// found by a running ledger, its organisation's creators are refused until
// a good list replaces it (fail closed).
func TestForeignCRLIsRefused(t *testing.T) {
	n := newMSPNet(t, embedded.Options{})
	bobCRL, err := n.store.Revoke("BobMSP", "bob")
	if err != nil {
		t.Fatal(err)
	}
	forged, err := os.ReadFile(bobCRL)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(n.orgs, "AliceMSP", "msp", "crls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "forged.pem"), forged, 0o644); err != nil {
		t.Fatal(err)
	}
	err = n.ledger.ReloadRevocations()
	wantRefused(t, err, greenmint.EINVALID, "not signed by AliceMSP's CA")
	wantRefused(t, n.submitAt(n.ledger, n.alice, n.clock(), "k"), greenmint.EUNAUTHENTICATED, "revocation list of AliceMSP cannot be used")
	n.ledger.Close()
	if _, err := embedded.Open(n.dir, kv{}, embedded.Options{MSPDir: n.orgs, Clock: n.clock}); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("open with a forged list = %v, want invalid", err)
	}
}
