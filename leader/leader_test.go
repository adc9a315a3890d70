package leader_test

import (
	"context"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/leader"
	"github.com/jackc/pgx/v5"
)

// replica is one contender: its Elector, how many times it started to
// lead and to follow, and a stop.
type replica struct {
	e               *leader.Elector
	leads, follows  atomic.Int64
	leading         atomic.Bool
	stop            context.CancelFunc
	done            chan struct{}
	overlap         *atomic.Int64 // replicas leading at once, shared
	maxOverlap      *atomic.Int64
	followCancelled atomic.Int64
}

func startReplica(t *testing.T, cfg leader.Config, overlap, maxOverlap *atomic.Int64) *replica {
	t.Helper()
	e, err := leader.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{e: e, stop: cancel, done: make(chan struct{}), overlap: overlap, maxOverlap: maxOverlap}
	lead := func(ctx context.Context) error {
		r.leads.Add(1)
		n := r.overlap.Add(1)
		for m := r.maxOverlap.Load(); n > m && !r.maxOverlap.CompareAndSwap(m, n); m = r.maxOverlap.Load() {
		}
		r.leading.Store(true)
		<-ctx.Done()
		r.leading.Store(false)
		r.overlap.Add(-1)
		return nil
	}
	follow := func(ctx context.Context) error {
		r.follows.Add(1)
		<-ctx.Done()
		r.followCancelled.Add(1)
		return nil
	}
	go func() { defer close(r.done); _ = e.Run(ctx, lead, follow) }()
	t.Cleanup(r.close)
	return r
}

func (r *replica) close() {
	r.stop()
	<-r.done
}

// pgConfig is a Config on the test database with a key of its own, so
// that tests running at once elect apart; skipped without PostgreSQL.
func pgConfig(t *testing.T) leader.Config {
	t.Helper()
	dsn := os.Getenv(greenminttest.PostgresDSNEnv)
	if dsn == "" {
		t.Skipf("set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to elect on PostgreSQL", greenminttest.PostgresDSNEnv)
	}
	return leader.Config{DSN: dsn, Key: rand.Int64()}
}

// waitFor waits until cond holds, at most within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// leaders returns the replicas that lead now.
func leaders(rs ...*replica) []*replica {
	var out []*replica
	for _, r := range rs {
		if r.leading.Load() {
			out = append(out, r)
		}
	}
	return out
}

// The key is what its comment says: FNV-1a of "greenmint projector".
func TestProjectorKey(t *testing.T) {
	h := fnv.New64a()
	h.Write([]byte("greenmint projector"))
	if got, want := leader.ProjectorKey, int64(h.Sum64()); got != want {
		t.Fatalf("ProjectorKey = %#x, want %#x", got, want)
	}
}

// On SQLite the process leads at once and never follows.
func TestSQLiteAlwaysLeads(t *testing.T) {
	var overlap, maxOverlap atomic.Int64
	r := startReplica(t, leader.Config{DSN: filepath.Join(t.TempDir(), "greenmint.db")}, &overlap, &maxOverlap)
	waitFor(t, 2*time.Second, "the SQLite process leads", func() bool { return r.leading.Load() && r.e.Leading() })
	if r.follows.Load() != 0 {
		t.Fatalf("the SQLite process followed %d times", r.follows.Load())
	}
	r.close()
	if r.leading.Load() || r.e.Leading() {
		t.Fatal("the SQLite process still leads after Run returned")
	}
}

// Two contenders: exactly one leads, the other follows; when the leader
// stops, the other takes over within seconds; never two at once.
func TestExactlyOneLeads(t *testing.T) {
	cfg := pgConfig(t)
	var overlap, maxOverlap atomic.Int64
	a := startReplica(t, cfg, &overlap, &maxOverlap)
	b := startReplica(t, cfg, &overlap, &maxOverlap)
	waitFor(t, 10*time.Second, "one of two contenders leads", func() bool { return len(leaders(a, b)) == 1 })
	// Stable: the same one leads for a while, the other follows.
	first := leaders(a, b)[0]
	other := b
	if first == b {
		other = a
	}
	time.Sleep(3 * time.Second)
	if l := leaders(a, b); len(l) != 1 || l[0] != first || !first.e.Leading() || other.e.Leading() {
		t.Fatalf("leaders after 3 s = %d, want the first alone", len(l))
	}
	if other.follows.Load() != 1 || other.leads.Load() != 0 || first.leads.Load() != 1 {
		t.Fatalf("follower: %d follows %d leads; leader %d leads", other.follows.Load(), other.leads.Load(), first.leads.Load())
	}
	first.close() // a clean stop lets the lock go
	took := waitFor(t, 10*time.Second, "the other takes over after a stop", func() bool { return other.leading.Load() })
	t.Logf("took over %s after the leader stopped", took)
	if other.followCancelled.Load() != 1 {
		t.Fatalf("the follower's work was cancelled %d times, want once before it led", other.followCancelled.Load())
	}
	if m := maxOverlap.Load(); m != 1 {
		t.Fatalf("at most %d replicas led at once, want 1", m)
	}
}

// Terminating the leader's database session (as a dead process or a cut
// connection does) hands the leadership over within seconds; the old
// leader stops leading, follows, and never leads together with the new
// one.
func TestLeaderSessionKilled(t *testing.T) {
	cfg := pgConfig(t)
	ctx := context.Background()
	var overlap, maxOverlap atomic.Int64
	a := startReplica(t, cfg, &overlap, &maxOverlap)
	waitFor(t, 10*time.Second, "a leads alone", func() bool { return a.leading.Load() })
	b := startReplica(t, cfg, &overlap, &maxOverlap)
	waitFor(t, 5*time.Second, "b follows", func() bool { return b.follows.Load() == 1 })

	admin, err := pgx.Connect(ctx, cfg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	// An advisory lock on a bigint key shows its high half as classid,
	// its low half as objid and objsubid 1.
	key := uint64(cfg.Key)
	err = admin.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) t`,
		int64(key>>32), int64(key&0xffffffff)).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminating the leader's session: %d sessions, %v", killed, err)
	}
	start := time.Now()
	waitFor(t, 5*time.Second, "the old leader stops leading", func() bool { return !a.leading.Load() })
	waitFor(t, 10*time.Second, "b takes over", func() bool { return b.leading.Load() })
	t.Logf("b took over %s after the leader's session ended", time.Since(start))
	// Every replica follows from its start until it leads: the old leader's
	// second time.
	waitFor(t, 5*time.Second, "the old leader follows", func() bool { return a.follows.Load() == 2 })
	time.Sleep(2 * time.Second)
	if a.leading.Load() || !b.leading.Load() {
		t.Fatal("the leadership moved again")
	}
	if m := maxOverlap.Load(); m != 1 {
		t.Fatalf("at most %d replicas led at once, want 1", m)
	}
}

// Many contenders, and leaders stopped one after another: one leads at a
// time throughout.
func TestContendersTakeTurns(t *testing.T) {
	cfg := pgConfig(t)
	cfg.Retry = 200 * time.Millisecond
	cfg.Check = 200 * time.Millisecond
	cfg.Lease = time.Second
	var overlap, maxOverlap atomic.Int64
	rs := make([]*replica, 4)
	var wg sync.WaitGroup
	for i := range rs {
		wg.Go(func() { rs[i] = startReplica(t, cfg, &overlap, &maxOverlap) })
	}
	wg.Wait()
	for n := len(rs); n > 0; n-- {
		var l []*replica
		waitFor(t, 10*time.Second, "one leads", func() bool { l = leaders(rs...); return len(l) == 1 })
		l[0].close()
		for i, r := range rs {
			if r == l[0] {
				rs = append(rs[:i], rs[i+1:]...)
				break
			}
		}
	}
	if m := maxOverlap.Load(); m != 1 {
		t.Fatalf("at most %d replicas led at once, want 1", m)
	}
}

// A function that returns early is started again; a bad lease is
// refused.
func TestRestartsAndSettings(t *testing.T) {
	if _, err := leader.New(leader.Config{Check: time.Second, Lease: 2 * time.Second}); err == nil {
		t.Fatal("New accepted a lease of two checks")
	}
	if _, err := leader.New(leader.Config{DSN: "postgres://%zz"}); err == nil {
		t.Fatal("New accepted a DSN that does not parse")
	}
	e, err := leader.New(leader.Config{DSN: filepath.Join(t.TempDir(), "x.db"), Retry: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.Run(ctx, func(context.Context) error { runs.Add(1); return nil }, nil)
	}()
	waitFor(t, 5*time.Second, "lead started again", func() bool { return runs.Load() >= 3 })
	cancel()
	<-done
}

// A replica that cannot reach the database follows (its follower's work
// runs) and never leads; Run returns when its context ends.
func TestUnreachableDatabaseFollows(t *testing.T) {
	var overlap, maxOverlap atomic.Int64
	r := startReplica(t, leader.Config{DSN: "postgres://greenmint@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", Retry: 100 * time.Millisecond}, &overlap, &maxOverlap)
	waitFor(t, 5*time.Second, "the follower's work runs", func() bool { return r.follows.Load() == 1 })
	time.Sleep(500 * time.Millisecond)
	if r.leads.Load() != 0 || r.e.Leading() {
		t.Fatal("a replica without its database leads")
	}
	r.close()
	if r.followCancelled.Load() != 1 {
		t.Fatalf("the follower's work was cancelled %d times at the end, want once", r.followCancelled.Load())
	}
}
