// Package leader elects, among the gateway's replicas on one PostgreSQL
// database, the one that runs the work that must run once per deployment:
// the read model's projector and the webhook sender. Leadership is a
// PostgreSQL session advisory lock (pg_try_advisory_lock) held by a
// connection dedicated to it for as long as the leadership lasts: losing
// that connection loses the leadership, and PostgreSQL releases the lock
// the moment the leader's session ends (its process killed, its
// connection cut), so another replica takes over within about a second.
// On SQLite, which one process opens by construction, the process always
// leads. See docs/replicas.md.
package leader

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/jackc/pgx/v5"
)

// ProjectorKey is the advisory lock key of the leadership over the
// projector and the webhook sender: the 64-bit FNV-1a hash of "greenmint
// projector" as a bigint. It never changes, so replicas of different
// versions elect one leader between them.
const ProjectorKey int64 = 0x4a4c2d36464b3e40

// Defaults of a Config.
const (
	DefaultRetry = time.Second
	DefaultCheck = time.Second
	DefaultLease = 5 * time.Second
)

// Config configures an Elector.
type Config struct {
	// DSN is the database the replicas share. A postgres:// or
	// postgresql:// URL elects by the advisory lock Key; anything else (a
	// SQLite file) makes this process the leader at once.
	DSN string
	// Key is the advisory lock's key (ProjectorKey when 0).
	Key int64
	// Retry is how often a follower tries to take the lock, and how long
	// a role's work waits before it is started again after it stopped
	// early (DefaultRetry when 0).
	Retry time.Duration
	// Check is how often the leader makes sure its connection still
	// holds the lock; a check not answered within Check loses the
	// leadership (DefaultCheck when 0).
	Check time.Duration
	// Lease is how long PostgreSQL keeps the lock of a leader it no
	// longer hears from (its session's idle_session_timeout): a leader cut
	// off from the database without its connection closing (a network
	// partition) steps down after at most two checks, and PostgreSQL
	// frees the lock for another replica after Lease (DefaultLease when
	// 0; more than 2 × Check).
	Lease time.Duration
	Log   *slog.Logger // discards when nil
}

// Elector runs one replica's part: the leader's work while it holds the
// lock, the follower's otherwise.
type Elector struct {
	cfg      Config
	postgres bool
	pgcfg    *pgx.ConnConfig
	leading  atomic.Bool

	unreachable bool // the last connection attempt failed (Run's goroutine only)
}

// New returns an Elector for cfg; a DSN that does not parse is invalid.
func New(cfg Config) (*Elector, error) {
	const op = "leader.New"
	if cfg.Key == 0 {
		cfg.Key = ProjectorKey
	}
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultRetry
	}
	if cfg.Check <= 0 {
		cfg.Check = DefaultCheck
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Lease <= 2*cfg.Check {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: the lease (%s) must be longer than two checks (%s)", op, cfg.Lease, 2*cfg.Check)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	e := &Elector{cfg: cfg}
	if strings.HasPrefix(cfg.DSN, "postgres://") || strings.HasPrefix(cfg.DSN, "postgresql://") {
		pc, err := pgx.ParseConfig(cfg.DSN)
		if err != nil {
			return nil, greenmint.E(greenmint.EINVALID, op, err, "the database URL does not parse")
		}
		e.postgres, e.pgcfg = true, pc
	}
	return e, nil
}

// Leading reports whether this replica leads now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Run runs this replica's part until ctx ends, then returns nil: lead
// while this replica holds the lock, under a context cancelled when it
// loses the lock (or ctx ends), and follow while it does not, under a
// context cancelled when it takes the lock. A replica starts as a
// follower and tries to take the lock at once, then every Retry; once it
// holds the lock it waits two checks more (time for a leader whose
// session PostgreSQL ended to notice and stop) before it stops follow and
// starts lead. Each function should return only when its context ends;
// one that returns earlier is logged and started again after Retry. Run
// waits for lead to return before it lets the lock go.
func (e *Elector) Run(ctx context.Context, lead, follow func(context.Context) error) error {
	if !e.postgres {
		e.leading.Store(true)
		defer e.leading.Store(false)
		e.cfg.Log.Info("leader: this process leads (one process opens a SQLite database)")
		e.supervise(ctx, "leader", lead)
		return nil
	}
	var yield time.Duration // after losing the lock: the others' turn first
	for ctx.Err() == nil {
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); e.supervise(fctx, "follower", follow) }()
		conn := e.acquire(ctx, yield)
		cancel()
		<-done
		if conn == nil {
			return nil
		}
		e.lead(ctx, conn, lead)
		e.closeConn(conn) // the session ends: the lock is free
		yield = e.cfg.Lease
	}
	return nil
}

// acquire tries to take the lock, after yield, until it holds it and its
// grace has passed; it returns the connection that holds it, nil when ctx
// ends. A replica that lost the lock yields for Lease, so that a follower
// whose connection is sound takes over rather than it.
func (e *Elector) acquire(ctx context.Context, yield time.Duration) *pgx.Conn {
	var conn *pgx.Conn
	logged := false
	if yield > 0 {
		e.cfg.Log.Info("leader: following (this replica lost the lock)", "key", e.cfg.Key)
		logged = true
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(yield):
		}
	}
	for {
		var held bool
		conn, held = e.try(ctx, conn)
		if held {
			select {
			case <-ctx.Done():
			case <-time.After(2 * e.cfg.Check):
			}
			if ctx.Err() == nil && e.check(ctx, conn) == nil {
				return conn
			}
			e.closeConn(conn)
			conn = nil
		} else if !logged && ctx.Err() == nil {
			e.cfg.Log.Info("leader: following (another replica leads)", "key", e.cfg.Key)
			logged = true
		}
		select {
		case <-ctx.Done():
			if conn != nil {
				e.closeConn(conn)
			}
			return nil
		case <-time.After(e.cfg.Retry):
		}
	}
}

// check makes sure conn answers within Check.
func (e *Elector) check(ctx context.Context, conn *pgx.Conn) error {
	cctx, cancel := context.WithTimeout(ctx, e.cfg.Check)
	defer cancel()
	_, err := conn.Exec(cctx, "SELECT 1")
	return err
}

// try tries to take the lock on conn, connecting first when conn is nil;
// it returns the connection to keep (nil after an error) and whether it
// now holds the lock.
func (e *Elector) try(ctx context.Context, conn *pgx.Conn) (*pgx.Conn, bool) {
	tctx, cancel := context.WithTimeout(ctx, max(e.cfg.Retry, 5*time.Second))
	defer cancel()
	if conn == nil {
		c, err := pgx.ConnectConfig(tctx, e.pgcfg.Copy())
		if err != nil {
			if ctx.Err() == nil && !e.unreachable {
				e.cfg.Log.Warn("leader: cannot reach the database; trying again every retry", "err", err)
				e.unreachable = true
			}
			return nil, false
		}
		// A session PostgreSQL does not hear from for Lease ends, and its
		// lock with it: the lease of a leader cut off from the database.
		if _, err := c.Exec(tctx, fmt.Sprintf("SET idle_session_timeout = %d", e.cfg.Lease.Milliseconds())); err != nil {
			e.cfg.Log.Warn("leader: the database cannot end a silent leader's session (PostgreSQL 14 or later can: idle_session_timeout)", "err", err)
		}
		if e.unreachable {
			e.cfg.Log.Info("leader: the database answers again")
			e.unreachable = false
		}
		conn = c
	}
	var held bool
	if err := conn.QueryRow(tctx, "SELECT pg_try_advisory_lock($1)", e.cfg.Key).Scan(&held); err != nil {
		if ctx.Err() == nil {
			e.cfg.Log.Warn("leader: cannot try the lock", "err", err)
		}
		e.closeConn(conn)
		return nil, false
	}
	return conn, held
}

// lead runs lead while conn holds the lock: until ctx ends or a check of
// the connection fails, then cancels lead and waits for it.
func (e *Elector) lead(ctx context.Context, conn *pgx.Conn, lead func(context.Context) error) {
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	e.leading.Store(true)
	e.cfg.Log.Info("leader: this replica leads", "key", e.cfg.Key, "session", conn.PgConn().PID())
	go func() { defer close(done); e.supervise(lctx, "leader", lead) }()
	t := time.NewTicker(e.cfg.Check)
	defer t.Stop()
	for lctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-t.C:
			if err := e.check(ctx, conn); err != nil && ctx.Err() == nil {
				e.cfg.Log.Warn("leader: lost the leadership (its database connection does not answer)", "err", err)
				cancel()
			}
		}
	}
	cancel()
	<-done
	e.leading.Store(false)
	if ctx.Err() != nil {
		e.cfg.Log.Info("leader: stepping down (stopping)")
	}
}

// supervise runs fn until ctx ends, starting it again after Retry each
// time it returns before.
func (e *Elector) supervise(ctx context.Context, role string, fn func(context.Context) error) {
	for {
		err := fn(ctx)
		if ctx.Err() != nil {
			return
		}
		e.cfg.Log.Warn("leader: the "+role+"'s work stopped; starting it again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(e.cfg.Retry):
		}
	}
}

func (e *Elector) closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
