package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/readmodel"
	"github.com/greenmint/greenmint/webhook"
)

// rig is a fresh embedded network, its read model projected into db by a
// running projector, and a webhook service on db.
type rig struct {
	n   *greenminttest.Network
	db  *store.DB
	p   *readmodel.Projector
	svc *webhook.Service
	key []byte
	// setup is the set-up's last transaction (the buyer's account).
	setup *greenmint.TxResult
}

var masterKey = []byte("0123456789abcdef0123456789abcdef")

// newRig builds the rig and waits until the read model holds the set-up's
// events (the buyer's account opened last), so that subscriptions made
// afterwards start after them.
func newRig(t *testing.T, db *store.DB, now func() time.Time) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n := greenminttest.NewNetwork(t)
	p, err := readmodel.New(ctx, n.Ledger, db)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	svc, err := webhook.NewService(db, webhook.ServiceConfig{MasterKey: masterKey, AllowHTTP: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{n: n, db: db, p: p, svc: svc, key: masterKey}
	r.setup = r.submit(t, n.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
	return r
}

// submit submits a transaction and waits until the read model applied it.
func (r *rig) submit(t *testing.T, id *greenmint.Identity, fn string, req, resp any) *greenmint.TxResult {
	t.Helper()
	ctx := context.Background()
	res, err := greenmint.SubmitJSON(ctx, r.n.Ledger, id, fn, req, resp)
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.p.WaitTx(wctx, res.TxID); err != nil {
		t.Fatalf("%s: waiting for the read model: %v", fn, err)
	}
	return res
}

// sender runs a sender on the rig's database until stop or the test's end;
// cfg's zero fields get the rig's key, the demo's registry and auditors as
// the organisations that read everything, the projector's notifications,
// a 20 ms poll and private networks allowed.
func (r *rig) sender(t *testing.T, cfg webhook.Config) (stop func()) {
	t.Helper()
	if cfg.MasterKey == nil {
		cfg.MasterKey = r.key
	}
	if cfg.ReadsEverything == nil {
		cfg.ReadsEverything = webhook.RegistryAndAuditors(r.db, consortium.RegistryMSP)
	}
	if cfg.Changed == nil {
		cfg.Changed = r.p.Changed
	}
	if cfg.Poll == 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	cfg.AllowPrivateNetworks = true
	s, err := webhook.NewSender(r.db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func (r *rig) subscribe(t *testing.T, org string, url string, public bool, functions ...string) webhook.Subscription {
	t.Helper()
	s, err := r.svc.Subscribe(context.Background(), webhook.SubscribeRequest{Org: org, CreatedBy: "usr_test", URL: url, Public: public, Functions: functions})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// received is one request a receiver got.
type received struct {
	Header http.Header
	Body   []byte
	At     time.Time
	Event  webhook.Event
}

// receiver is a real HTTP server that records every request and answers
// status(n) to the n-th (1, 2, …): 204 unless set.
type receiver struct {
	srv    *httptest.Server
	now    func() time.Time
	mu     sync.Mutex
	got    []received
	status func(n int) int
}

func newReceiver(t *testing.T, now func() time.Time) *receiver {
	t.Helper()
	rc := &receiver{now: now}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var ev webhook.Event
		_ = json.Unmarshal(body, &ev)
		rc.mu.Lock()
		rc.got = append(rc.got, received{Header: req.Header.Clone(), Body: body, At: rc.now(), Event: ev})
		n := len(rc.got)
		status := rc.status
		rc.mu.Unlock()
		code := http.StatusNoContent
		if status != nil {
			code = status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// verified checks that every request is signed for sub, and returns the
// events' types in order of arrival.
func (rc *receiver) verified(t *testing.T, sub webhook.Subscription) []string {
	t.Helper()
	var types []string
	for _, r := range rc.requests() {
		if err := webhook.VerifyAt(sub.Secret, r.Header, r.Body, 5*time.Minute, r.At); err != nil {
			t.Fatalf("request %s to %s: Verify = %v", r.Header.Get(webhook.HeaderID), sub.Org, err)
		}
		if r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("Content-Type = %q", r.Header.Get("Content-Type"))
		}
		types = append(types, r.Event.Type)
	}
	return types
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// flow mints a batch to the miner and has it transferred to the buyer,
// listed, reserved, sold, retired by the buyer and flagged by the auditor;
// it returns the last transaction.
func flow(t *testing.T, r *rig, period greenminttest.Period) *greenmint.TxResult {
	t.Helper()
	n := r.n
	sa, err := n.Attest(n.Site, greenmint.EAC, period, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	var minted greenmint.MintResult
	r.submit(t, n.OracleA, greenmint.TxMint, greenmint.MintRequest{Attestation: *sa}, &minted)
	q := minted.Quantity
	r.submit(t, n.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: minted.BatchID, To: n.Buyer.MSPID, Quantity: q / 10}, nil)
	var l greenmint.Listing
	r.submit(t, n.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: minted.BatchID, Quantity: q / 4, PriceMinor: 10_000, Currency: "EUR"}, &l)
	r.submit(t, n.Buyer, greenmint.TxReserveListing, greenmint.ListingRequest{ListingID: l.ID}, nil)
	r.submit(t, n.Miner, greenmint.TxConfirmPayment, greenmint.ListingRequest{ListingID: l.ID}, nil)
	r.submit(t, n.Buyer, greenmint.TxRetire, greenmint.RetireRequest{
		Parts:       []greenmint.RetirePart{{BatchID: minted.BatchID, Quantity: q / 8}},
		Beneficiary: "Acme Offsets GmbH", Jurisdiction: "DE-BE", Purpose: greenmint.PurposeVoluntary, ReportingYear: 2023, Reason: "office electricity",
	}, nil)
	return r.submit(t, n.Auditor, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: minted.BatchID, Reason: "meter data under review"}, nil)
}

// TestEventsReachSubscribers: over the real ledger and read model, every
// subscriber gets, signed and once each, in ledger order, exactly the
// events it may see (R11): its own data's, its own transactions', every
// event for an admitted auditor, only the public objects of mints and
// retirements for a public subscription, and nothing of another
// organisation's private events.
func TestEventsReachSubscribers(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := newRig(t, db, nil)
			type sub struct {
				rc   *receiver
				s    webhook.Subscription
				want []string
			}
			mk := func(org string, public bool, want []string, functions ...string) *sub {
				rc := newReceiver(t, time.Now)
				return &sub{rc: rc, s: r.subscribe(t, org, rc.srv.URL+"/hook", public, functions...), want: want}
			}
			miner := mk(consortium.MinerMSP, false, []string{"Mint", "Transfer", "ListForSale", "ReserveListing", "ConfirmPayment", "FlagBatch"})
			buyer := mk(consortium.BuyerMSP, false, []string{"Transfer", "ReserveListing", "ConfirmPayment", "Retire", "FlagBatch"})
			miner2 := mk(consortium.Miner2MSP, false, nil)
			public := mk(consortium.Miner2MSP, true, []string{"Mint", "Retire"})
			transfers := mk(consortium.MinerMSP, false, []string{"Transfer"}, greenmint.TxTransfer)
			auditor := mk(consortium.AuditorMSP, false, []string{"Mint", "Transfer", "ListForSale", "ReserveListing", "ConfirmPayment", "Retire", "FlagBatch"})
			all := []*sub{miner, buyer, miner2, public, transfers, auditor}

			r.sender(t, webhook.Config{})
			last := flow(t, r, greenminttest.DemoWeek)
			for _, s := range all {
				waitFor(t, s.s.Org+"'s events", func() bool { return len(s.rc.requests()) >= len(s.want) })
			}
			// Everything enqueued is delivered, and nothing more arrives.
			waitFor(t, "the cursor to reach the flag", func() bool {
				c, err := db.WebhookCursor(ctx)
				b, i, ok, _ := db.ReadModelTxPosition(ctx, last.TxID)
				return err == nil && ok && c == store.EventPosition{Block: int64(b), Index: i}
			})
			time.Sleep(200 * time.Millisecond)
			for _, s := range all {
				if got := s.rc.verified(t, s.s); !slices.Equal(got, s.want) {
					t.Errorf("%s (public %v, functions %v) received %v, want %v", s.s.Org, s.s.Public, s.s.Functions, got, s.want)
				}
			}

			// The auditor's events are the read model's after the set-up, in
			// order, once each.
			sb, si, _, err := db.ReadModelTxPosition(ctx, r.setup.TxID)
			if err != nil {
				t.Fatal(err)
			}
			evs, err := db.ReadModelEvents(ctx, int64(sb), si, store.MaxPageLimit)
			if err != nil {
				t.Fatal(err)
			}
			var wantIDs []string
			for _, e := range evs {
				wantIDs = append(wantIDs, webhook.EventID(store.EventPosition{Block: int64(e.Block), Index: e.Index}))
			}
			var gotIDs, msgIDs []string
			for _, rq := range auditor.rc.requests() {
				gotIDs = append(gotIDs, rq.Event.ID)
				msgIDs = append(msgIDs, rq.Header.Get(webhook.HeaderID))
				if rq.Event.TxID == "" || rq.Event.Timestamp == "" || rq.Event.Creator == "" || len(rq.Event.Objects) == 0 {
					t.Errorf("auditor's event %s lacks fields: %+v", rq.Event.ID, rq.Event)
				}
			}
			if !slices.Equal(gotIDs, wantIDs) {
				t.Errorf("auditor's event IDs %v, want %v", gotIDs, wantIDs)
			}
			if len(slices.Compact(slices.Sorted(slices.Values(msgIDs)))) != len(msgIDs) {
				t.Errorf("webhook-ids %v repeat", msgIDs)
			}

			// Another organisation's holdings, holders and accounts are
			// never named, except in a transaction the subscriber made.
			for _, s := range []*sub{miner, buyer, public, transfers} {
				for _, rq := range s.rc.requests() {
					for _, o := range rq.Event.Objects {
						kind, rest, _ := strings.Cut(o, "/")
						parts := strings.Split(rest, "/")
						var owner string
						switch kind {
						case "holding", "account":
							owner = parts[0]
						case "holder":
							owner = parts[len(parts)-1]
						default:
							continue
						}
						if owner != s.s.Org && rq.Event.Creator != s.s.Org {
							t.Errorf("%s got %s's object %s in %s by %s", s.s.Org, owner, o, rq.Event.Type, rq.Event.Creator)
						}
					}
				}
			}
			for _, rq := range public.rc.requests() {
				for _, o := range rq.Event.Objects {
					if kind, _, _ := strings.Cut(o, "/"); !slices.Contains([]string{"batch", "retirement", "attestation"}, kind) {
						t.Errorf("public subscription got %s in %s", o, rq.Event.Type)
					}
				}
			}

			// The deliveries are recorded as delivered, on the first attempt.
			ds, _, err := r.svc.Deliveries(ctx, consortium.MinerMSP, miner.s.ID, "", 0)
			if err != nil || len(ds) != len(miner.want) {
				t.Fatalf("Deliveries(miner) = %d, %v; want %d", len(ds), err, len(miner.want))
			}
			for _, d := range ds {
				if d.State != store.WebhookDelivered || d.Attempts != 1 || d.LastStatus != http.StatusNoContent || d.DeliveredAt.IsZero() || !json.Valid(d.Payload) {
					t.Errorf("delivery %+v, want delivered on the first attempt", d)
				}
			}
			if _, _, err := r.svc.Deliveries(ctx, consortium.BuyerMSP, miner.s.ID, "", 0); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Errorf("Deliveries(another organisation's subscription) = %v, want not_found", err)
			}
		})
	}
}

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestRetriesWithBackoff: a receiver that fails twice gets the message on
// the third attempt, each attempt after the backoff and not before, with
// the same webhook-id; one that always fails gets MaxAttempts attempts and
// the delivery fails. A replay sends the message again under a new
// webhook-id.
func TestRetriesWithBackoff(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{t: time.Now().Truncate(time.Second)}
			r := newRig(t, db, clk.Now)
			flaky := newReceiver(t, clk.Now)
			flaky.status = func(n int) int {
				if n <= 2 {
					return http.StatusInternalServerError
				}
				return http.StatusOK
			}
			dead := newReceiver(t, clk.Now)
			dead.status = func(int) int { return http.StatusServiceUnavailable }
			fs := r.subscribe(t, consortium.BuyerMSP, flaky.srv.URL, false, greenmint.TxTransfer)
			ds := r.subscribe(t, consortium.BuyerMSP, dead.srv.URL, false, greenmint.TxTransfer)
			r.sender(t, webhook.Config{Now: clk.Now, MaxAttempts: 3, Backoff: func(n int) time.Duration { return time.Duration(n) * time.Hour }})

			sa, err := r.n.Attest(r.n.Site, greenmint.EAC, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
			if err != nil {
				t.Fatal(err)
			}
			var minted greenmint.MintResult
			r.submit(t, r.n.OracleA, greenmint.TxMint, greenmint.MintRequest{Attestation: *sa}, &minted)
			r.submit(t, r.n.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: minted.BatchID, To: r.n.Buyer.MSPID, Quantity: 1000}, nil)

			delivery := func(sub webhook.Subscription) webhook.Delivery {
				t.Helper()
				d, _, err := r.svc.Deliveries(ctx, consortium.BuyerMSP, sub.ID, "", 0)
				if err != nil || len(d) != 1 {
					t.Fatalf("Deliveries = %+v, %v; want one", d, err)
				}
				return d[0]
			}
			attempts := func(sub webhook.Subscription, n int) func() bool {
				return func() bool {
					d, _, err := r.svc.Deliveries(ctx, consortium.BuyerMSP, sub.ID, "", 0)
					return err == nil && len(d) == 1 && d[0].Attempts == n
				}
			}
			start := clk.Now()
			for i, wantNext := range []time.Duration{time.Hour, 3 * time.Hour} {
				waitFor(t, "an attempt", attempts(fs, i+1))
				waitFor(t, "an attempt", attempts(ds, i+1))
				d := delivery(fs)
				if d.State != store.WebhookPending || d.LastStatus != 500 || d.LastError != "HTTP 500" || !d.NextAttemptAt.Equal(start.Add(wantNext)) {
					t.Fatalf("after attempt %d: %+v; want pending, HTTP 500, next at +%v", i+1, d, wantNext)
				}
				// Not before its time.
				clk.Add(time.Duration(i+1)*time.Hour - time.Second)
				time.Sleep(150 * time.Millisecond)
				if n := len(flaky.requests()); n != i+1 {
					t.Fatalf("%d requests before the backoff ran out, want %d", n, i+1)
				}
				clk.Add(time.Second)
			}
			waitFor(t, "the third attempt", attempts(fs, 3))
			waitFor(t, "the third attempt", attempts(ds, 3))
			d := delivery(fs)
			if d.State != store.WebhookDelivered || d.LastStatus != 200 || d.LastError != "" || !d.DeliveredAt.Equal(clk.Now()) {
				t.Fatalf("after the third attempt: %+v; want delivered", d)
			}
			if dd := delivery(ds); dd.State != store.WebhookFailed || dd.LastStatus != 503 {
				t.Fatalf("the dead receiver's delivery: %+v; want failed after 3 attempts", dd)
			}
			got := flaky.requests()
			if len(got) != 3 {
				t.Fatalf("flaky receiver got %d requests, want 3", len(got))
			}
			for i, rq := range got {
				if rq.Header.Get(webhook.HeaderID) != d.MessageID || rq.Event.Type != greenmint.TxTransfer {
					t.Fatalf("request %d: webhook-id %q, type %q; want %q, Transfer", i, rq.Header.Get(webhook.HeaderID), rq.Event.Type, d.MessageID)
				}
				if err := webhook.VerifyAt(fs.Secret, rq.Header, rq.Body, 0, rq.At); err != nil {
					t.Fatalf("request %d: %v (signed at the attempt's time)", i, err)
				}
			}

			// Replay: the same body, a new webhook-id.
			rp, err := r.svc.Replay(ctx, consortium.BuyerMSP, fs.ID, d.ID)
			if err != nil || rp.ReplayOf != d.ID || rp.State != store.WebhookPending || rp.EventID != d.EventID || rp.MessageID == d.MessageID {
				t.Fatalf("Replay = %+v, %v", rp, err)
			}
			waitFor(t, "the replay", func() bool { return len(flaky.requests()) == 4 })
			again := flaky.requests()[3]
			if string(again.Body) != string(got[0].Body) || again.Header.Get(webhook.HeaderID) != rp.MessageID {
				t.Fatalf("replayed %s %s, want the body %s under %s", again.Header.Get(webhook.HeaderID), again.Body, got[0].Body, rp.MessageID)
			}
			if err := webhook.VerifyAt(fs.Secret, again.Header, again.Body, 0, again.At); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the replay recorded", func() bool {
				x, err := r.svc.Delivery(ctx, consortium.BuyerMSP, fs.ID, rp.ID)
				return err == nil && x.State == store.WebhookDelivered
			})
			if x, err := r.svc.Delivery(ctx, consortium.BuyerMSP, fs.ID, d.ID); err != nil || x.State != store.WebhookDelivered || x.Attempts != 3 {
				t.Fatalf("the original after a replay: %+v, %v", x, err)
			}
			if _, err := r.svc.Replay(ctx, consortium.MinerMSP, fs.ID, d.ID); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("Replay(another organisation's) = %v, want not_found", err)
			}
		})
	}
}

// blockingTransport holds every request until released, as a sender
// stuck or killed mid-attempt would.
type blockingTransport struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	b.once.Do(func() { close(b.started) })
	<-b.release
	return nil, io.ErrUnexpectedEOF
}

// TestCrashLosesNothing: a sender that enqueued and claimed deliveries and
// died while attempting the first (its request never finishes) loses
// nothing: a new sender on the same database delivers every event once, in
// order, when the claim's lease runs out; the dead sender's late answer
// changes nothing.
func TestCrashLosesNothing(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{t: time.Now().Truncate(time.Second)}
			r := newRig(t, db, clk.Now)
			rc := newReceiver(t, time.Now)
			sub := r.subscribe(t, consortium.MinerMSP, rc.srv.URL, false)
			flow(t, r, greenminttest.DemoWeek)
			want := []string{"Mint", "Transfer", "ListForSale", "ReserveListing", "ConfirmPayment", "FlagBatch"}

			// The first sender enqueues the flow's events, claims them and
			// hangs on the first.
			bt := &blockingTransport{started: make(chan struct{}), release: make(chan struct{})}
			defer close(bt.release)
			r.sender(t, webhook.Config{Now: clk.Now, Client: &http.Client{Transport: bt}, Lease: time.Minute, Timeout: 10 * time.Second})
			<-bt.started
			ds, _, err := r.svc.Deliveries(ctx, consortium.MinerMSP, sub.ID, "", 0)
			if err != nil || len(ds) != len(want) {
				t.Fatalf("Deliveries = %d, %v; want %d", len(ds), err, len(want))
			}

			// The restart: a second sender delivers them once the claim's
			// lease ran out, in order.
			r.sender(t, webhook.Config{Now: clk.Now})
			time.Sleep(200 * time.Millisecond)
			if n := len(rc.requests()); n != 0 {
				t.Fatalf("%d requests before the lease ran out", n)
			}
			clk.Add(time.Minute)
			waitFor(t, "every event", func() bool { return len(rc.requests()) >= len(want) })
			time.Sleep(200 * time.Millisecond)
			if got := rc.verified(t, sub); !slices.Equal(got, want) {
				t.Fatalf("after the restart the receiver got %v, want %v", got, want)
			}
			ds, _, err = r.svc.Deliveries(ctx, consortium.MinerMSP, sub.ID, "", 0)
			if err != nil || len(ds) != len(want) {
				t.Fatalf("Deliveries = %d, %v", len(ds), err)
			}
			for _, d := range ds {
				if d.State != store.WebhookDelivered || d.Attempts != 1 {
					t.Fatalf("delivery %+v, want delivered on its one recorded attempt", d)
				}
			}
		})
	}
}

// TestPrivateNetworksRefused: by default the sender connects to public
// addresses only, so a subscription cannot make the gateway post into its
// own network.
func TestPrivateNetworksRefused(t *testing.T) {
	db := greenminttest.StoreDBs(t)["sqlite"]
	ctx := context.Background()
	r := newRig(t, db, nil)
	rc := newReceiver(t, time.Now)
	sub := r.subscribe(t, consortium.Miner2MSP, rc.srv.URL, false)
	s, err := webhook.NewSender(db, webhook.Config{MasterKey: masterKey, ReadsEverything: webhook.RegistryAndAuditors(db, consortium.RegistryMSP), Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(rctx) }()
	defer func() { cancel(); <-done }()
	r.submit(t, r.n.Miner2, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
	waitFor(t, "an attempt", func() bool {
		ds, _, err := r.svc.Deliveries(ctx, consortium.Miner2MSP, sub.ID, "", 0)
		return err == nil && len(ds) == 1 && ds[0].Attempts == 1
	})
	ds, _, _ := r.svc.Deliveries(ctx, consortium.Miner2MSP, sub.ID, "", 0)
	if !strings.Contains(ds[0].LastError, "not a public address") || ds[0].State != store.WebhookPending {
		t.Fatalf("delivery to 127.0.0.1: %+v; want refused, to retry", ds[0])
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}
}
