package embedded_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// TestCrashHelper is the child of TestCrashLosesNothingAcknowledged: it
// writes as fast as it can and prints each acknowledged transaction.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv("GREENMINT_CRASH_DIR")
	if dir == "" {
		t.Skip("runs only as the child of TestCrashLosesNothingAcknowledged")
	}
	c, err := consortium.Load(filepath.Join(dir, "orgs"))
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := c.Identity("AliceMSP", "alice")
	l, err := embedded.Open(filepath.Join(dir, "ledger"), kv{}, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("g%02d-%06d", g, i)
				res, err := l.Submit(context.Background(), alice, "put", key, strings.Repeat("x", 200))
				if err != nil {
					continue
				}
				mu.Lock()
				fmt.Fprintf(out, "ACK %s %s\n", res.TxID, key)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrashLosesNothingAcknowledged kills a writing process with SIGKILL in
// mid-write, reopens the ledger, verifies the chain and finds every
// transaction that was acknowledged before the kill.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	n := newKV(t)
	root := filepath.Dir(n.dir)
	if err := n.ledger.Close(); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "GREENMINT_CRASH_DIR="+root)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]string{}
		sc := bufio.NewScanner(stdout)
		deadline := time.After(20 * time.Second)
		killAt := 500 + round*700
	read:
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "ACK" {
				acked[f[1]] = f[2]
			}
			select {
			case <-deadline:
				break read
			default:
			}
			if len(acked) >= killAt {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for sc.Scan() { // acknowledgements already written before the kill
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "ACK" {
				acked[f[1]] = f[2]
			}
		}
		_ = cmd.Wait()
		if len(acked) == 0 {
			t.Fatalf("round %d: the child acknowledged nothing", round)
		}
		rep, err := embedded.Verify(context.Background(), n.dir)
		if err != nil {
			t.Fatalf("round %d: verify after kill: %v", round, err)
		}
		l, err := embedded.Open(n.dir, kv{}, embedded.Options{})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		for txID, key := range acked {
			if _, _, err := l.Transaction(txID); err != nil {
				l.Close()
				t.Fatalf("round %d: acknowledged transaction %s lost: %v", round, txID, err)
			}
			if v, err := l.Evaluate(context.Background(), n.alice, "get", key); err != nil || len(v) != 200 {
				l.Close()
				t.Fatalf("round %d: acknowledged key %s reads %d bytes, %v", round, key, len(v), err)
			}
		}
		l.Close()
		t.Logf("round %d: %d acknowledged transactions survived a SIGKILL; chain of %d blocks verifies", round, len(acked), rep.Blocks)
	}
}

// TestVerifyNamesTheFirstBadBlock alters stored blocks and state behind the
// ledger's back, in the state store and (forging the records' checksums)
// in the block file, and expects verify to name the damage.
func TestVerifyNamesTheFirstBadBlock(t *testing.T) {
	tests := []struct {
		name      string
		tamper    func(db *pebble.DB) error
		blockFile func(n uint64, raw string) string
		block     uint64
		reason    string
	}{
		{name: "altered transaction in the state store", tamper: func(db *pebble.DB) error {
			return editBlock(db, 3, func(s string) string {
				return strings.Replace(s, `"validation":"VALID"`, `"validation":"MVCC_READ_CONFLICT"`, 1)
			})
		}, block: 3, reason: "differs from the block file"},
		{name: "altered header link in the state store", tamper: func(db *pebble.DB) error {
			return editBlock(db, 5, func(s string) string { return strings.Replace(s, `"previous_hash":"`, `"previous_hash":"00`, 1) })
		}, block: 5, reason: "differs from the block file"},
		{name: "deleted block", tamper: func(db *pebble.DB) error {
			return db.Delete(append([]byte{'b'}, u64(4)...), pebble.Sync)
		}, block: 4, reason: "missing"},
		{name: "altered world state", tamper: func(db *pebble.DB) error {
			raw, closer, err := db.Get([]byte("sk2"))
			if err != nil {
				return err
			}
			forged := append(append([]byte(nil), raw[:16]...), []byte("forged")...)
			closer.Close()
			return db.Set([]byte("sk2"), forged, pebble.Sync)
		}, block: 3, reason: "world state"},
		{name: "deleted history entry", tamper: func(db *pebble.DB) error {
			return db.DeleteRange([]byte("h"), []byte("i"), pebble.Sync)
		}, block: 1, reason: "lacks the history entry"},
		{name: "forged transaction in the block file", blockFile: func(n uint64, raw string) string {
			if n != 3 {
				return raw
			}
			return strings.Replace(raw, `"validation":"VALID"`, `"validation":"MVCC_READ_CONFLICT"`, 1)
		}, block: 3, reason: "data hash"},
		{name: "forged header link in the block file", blockFile: func(n uint64, raw string) string {
			if n != 5 {
				return raw
			}
			return strings.Replace(raw, `"previous_hash":"`, `"previous_hash":"00`, 1)
		}, block: 5, reason: "previous hash"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newKV(t)
			for i := 0; i < 7; i++ {
				n.submit(t, "put", fmt.Sprintf("k%d", i), "v")
			}
			if _, err := n.ledger.Verify(context.Background()); err != nil {
				t.Fatalf("verify before tampering: %v", err)
			}
			n.ledger.Close()
			if tc.tamper != nil {
				db, err := pebble.Open(filepath.Join(n.dir, embedded.StoreDir), &pebble.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if err := tc.tamper(db); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			if tc.blockFile != nil {
				rewriteBlockFile(t, n.dir, tc.blockFile)
			}
			_, err := embedded.Verify(context.Background(), n.dir)
			var bad *embedded.BadBlockError
			if !errors.As(err, &bad) {
				t.Fatalf("verify = %v, want a bad block", err)
			}
			if bad.Number != tc.block || !strings.Contains(bad.Reason, tc.reason) {
				t.Fatalf("verify = block %d: %s, want block %d: …%s…", bad.Number, bad.Reason, tc.block, tc.reason)
			}
			if greenmint.ErrorCode(err) != greenmint.EINTERNAL {
				t.Fatalf("code = %s", greenmint.ErrorCode(err))
			}
		})
	}
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

// editBlock rewrites block n in the store behind the ledger's back (the
// store keeps blocks under 'b' ‖ number).
func editBlock(db *pebble.DB, n uint64, f func(string) string) error {
	key := append([]byte{'b'}, u64(n)...)
	raw, closer, err := db.Get(key)
	if err != nil {
		return fmt.Errorf("no block %d: %v", n, err)
	}
	edited := f(string(raw))
	closer.Close()
	if edited == string(raw) {
		return fmt.Errorf("edit changed nothing in block %d", n)
	}
	return db.Set(key, []byte(edited), pebble.Sync)
}
