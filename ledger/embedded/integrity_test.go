package embedded_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/chaincode"
	"github.com/greenmint/greenmint/demo"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// blockFileMagic is the block file's header (see embedded.BlockFileName).
const blockFileMagic = "greenmint-blk-1\n"

// rewriteBlockFile rewrites every record of the block file in dir through
// edit, with valid checksums: a forgery, not an accident.
func rewriteBlockFile(tb testing.TB, dir string, edit func(n uint64, raw string) string) {
	tb.Helper()
	path := filepath.Join(dir, embedded.BlockFileName)
	in, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	out := []byte(blockFileMagic)
	for off := len(blockFileMagic); off < len(in); {
		n := binary.BigEndian.Uint64(in[off:])
		length := int(binary.BigEndian.Uint32(in[off+8:]))
		raw := edit(n, string(in[off+12:off+12+length]))
		rec := binary.BigEndian.AppendUint64(nil, n)
		rec = binary.BigEndian.AppendUint32(rec, uint32(len(raw)))
		rec = append(rec, raw...)
		sum := sha256.Sum256(rec)
		out = append(append(out, rec...), sum[:]...)
		off += 12 + length + 32
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// demoLedger runs the demo (registration, attestation, minting, a sale
// settled, a retirement) on a fresh embedded ledger, closes it and returns
// the network directory and what verify reports on it.
func demoLedger(tb testing.TB) (string, *embedded.VerifyReport) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "net")
	l, c, err := greenminttest.CreateEmbedded(dir, embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	env, err := greenminttest.NewEnv(l, c)
	if err != nil {
		l.Close()
		tb.Fatal(err)
	}
	if err := demo.Run(context.Background(), env.Workspace, io.Discard); err != nil {
		l.Close()
		tb.Fatal(err)
	}
	if err := l.Close(); err != nil {
		tb.Fatal(err)
	}
	rep, err := embedded.Verify(context.Background(), filepath.Join(dir, "ledger"))
	if err != nil {
		tb.Fatal(err)
	}
	if rep.Blocks < 10 {
		tb.Fatalf("the demo left %d blocks; want a demo-sized chain", rep.Blocks)
	}
	return dir, rep
}

// readTree returns every regular file under dir with its bytes.
func readTree(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// writeTree makes dir hold exactly the files of tree.
func writeTree(tb testing.TB, dir string, tree map[string][]byte) {
	tb.Helper()
	if err := os.RemoveAll(dir); err != nil {
		tb.Fatal(err)
	}
	for p, b := range tree {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}

func sameTree(a, b map[string][]byte) string {
	for p, x := range a {
		if y, ok := b[p]; !ok {
			return p + " disappeared"
		} else if !bytes.Equal(x, y) {
			return p + " changed"
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			return p + " appeared"
		}
	}
	return ""
}

// offsets picks the bytes of a file of size n to damage: the first and
// last ones and about count spread between.
func offsets(n, count int) []int {
	seen := map[int]bool{}
	var out []int
	add := func(i int) {
		if i >= 0 && i < n && !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	add(0)
	add(1)
	add(n - 1)
	add(n - 2)
	for i := 0; i < count; i++ {
		add(int((int64(i)*2654435761 + 7) % int64(n))) // spread, fixed from run to run
	}
	sort.Ints(out)
	return out
}

// TestBitFlipsNeverVerifyShorter damages a closed demo ledger one bit at a
// time, at first, last and sampled offsets of every one of its files (the
// block file and every file of the state store: write-ahead log, tables,
// manifests, options), and asserts, for each: verify either fails naming a
// block, or reports exactly the original height and head hash; verify
// changes no byte of any file; and Open either refuses, changing nothing,
// or opens the original chain, never a shorter one. (Before block files, a
// bit flipped inside the write-ahead log made verify report "ok" with the
// settlement and the retirement gone, and one inside a table exited the
// process.)
func TestBitFlipsNeverVerifyShorter(t *testing.T) {
	if testing.Short() {
		t.Skip("damages a ledger a few hundred times")
	}
	net, orig := demoLedger(t)
	dir := filepath.Join(net, "ledger")
	pristine := readTree(t, dir)
	var files []string
	for p, b := range pristine {
		if len(b) > 0 {
			files = append(files, p)
		}
	}
	sort.Strings(files)
	cc, err := chaincode.New(greenminttest.ChaincodeConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tried, refused := 0, 0
	for _, file := range files {
		name := filepath.Base(file)
		fileTried, fileRefused := tried, refused
		for _, off := range offsets(len(pristine[file]), 16) {
			damaged := bytes.Clone(pristine[file])
			damaged[off] ^= 1 << (off % 8)
			if err := os.WriteFile(file, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			before := readTree(t, dir)
			rep, err := embedded.Verify(ctx, dir)
			if diff := sameTree(before, readTree(t, dir)); diff != "" {
				t.Fatalf("%s byte %d: verify modified the ledger: %s", name, off, diff)
			}
			tried++
			if err != nil {
				refused++
				var bad *embedded.BadBlockError
				if !errors.As(err, &bad) && !strings.Contains(err.Error(), "damaged") {
					t.Errorf("%s byte %d: verify = %v; want it to name the damage", name, off, err)
				}
				if c := greenmint.ErrorCode(err); c != greenmint.EINTERNAL {
					t.Errorf("%s byte %d: verify error code %s, want internal: %v", name, off, c, err)
				}
			} else if rep.Blocks != orig.Blocks || rep.LastHash != orig.LastHash {
				t.Fatalf("%s byte %d: verify = ok with %d blocks, head %.16s; want %d blocks, head %.16s, or an error",
					name, off, rep.Blocks, rep.LastHash, orig.Blocks, orig.LastHash)
			}

			l, oerr := embedded.Open(dir, cc, embedded.Options{})
			if oerr != nil {
				if diff := sameTree(before, readTree(t, dir)); diff != "" {
					t.Fatalf("%s byte %d: Open refused (%v) but modified the ledger: %s", name, off, oerr, diff)
				}
			} else {
				h := l.Height()
				b, berr := l.Block(h - 1)
				l.Close()
				if h != orig.Blocks || berr != nil {
					t.Fatalf("%s byte %d: Open gave a ledger of %d blocks (%v); want %d or a refusal", name, off, h, berr, orig.Blocks)
				}
				if hash, _ := b.Hash(); hash != orig.LastHash {
					t.Fatalf("%s byte %d: Open gave head %.16s, want %.16s", name, off, hash, orig.LastHash)
				}
			}
			writeTree(t, dir, pristine)
		}
		t.Logf("%s (%d bytes): verify refused %d of %d damages", name, len(pristine[file]), refused-fileRefused, tried-fileTried)
	}
	t.Logf("%d single-bit damages over %d files: verify refused %d, reported the whole chain for the rest", tried, len(files), refused)
}

// TestVerifyChangesNothing checks that verifying a healthy closed ledger
// leaves every byte of every file as it was (it opens the store
// read-only), and reports the chain.
func TestVerifyChangesNothing(t *testing.T) {
	net, orig := demoLedger(t)
	dir := filepath.Join(net, "ledger")
	before := readTree(t, dir)
	for i := 0; i < 2; i++ {
		rep, err := embedded.Verify(context.Background(), dir)
		if err != nil || rep.Blocks != orig.Blocks || rep.LastHash != orig.LastHash {
			t.Fatalf("verify = %+v, %v", rep, err)
		}
	}
	if diff := sameTree(before, readTree(t, dir)); diff != "" {
		t.Fatalf("verify modified the ledger: %s", diff)
	}
}

// TestStateStoreBehindTheBlockFile puts the ledger in the state a crash
// between the block file's fsync and the state store's commit leaves (the
// block file one block ahead): verify reports the whole chain with one
// block pending and changes nothing, and Open applies the block. Two
// blocks behind cannot come from a crash: Open refuses, naming the first
// block the state store lacks, and changes nothing.
func TestStateStoreBehindTheBlockFile(t *testing.T) {
	ctx := context.Background()
	n := newKV(t)
	for i := 0; i < 3; i++ {
		n.submit(t, "put", fmt.Sprintf("k%d", i), "v")
	}
	n.ledger.Close()
	early := readTree(t, n.dir) // 4 blocks
	l, err := embedded.Open(n.dir, kv{}, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var lastTx string
	for i := 0; i < 2; i++ {
		res, err := l.Submit(ctx, n.alice, "put", "late", fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		lastTx = res.TxID
	}
	full, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	late := readTree(t, n.dir) // 6 blocks
	blocks := filepath.Join(n.dir, embedded.BlockFileName)

	// The early state store with a block file one block longer.
	oneAhead := map[string][]byte{}
	for p, b := range early {
		oneAhead[p] = b
	}
	lateBlocks := late[blocks]
	cut := len(lateBlocks)
	for off := len(blockFileMagic); off < len(lateBlocks); {
		num := binary.BigEndian.Uint64(lateBlocks[off:])
		next := off + 12 + int(binary.BigEndian.Uint32(lateBlocks[off+8:])) + 32
		if num == 4 {
			cut = next
		}
		off = next
	}
	oneAhead[blocks] = lateBlocks[:cut]
	writeTree(t, n.dir, oneAhead)
	rep, err := embedded.Verify(ctx, n.dir)
	if err != nil || rep.Blocks != 5 || rep.Pending != 1 {
		t.Fatalf("verify with the state store one block behind = %+v, %v; want 5 blocks, 1 pending", rep, err)
	}
	if diff := sameTree(oneAhead, readTree(t, n.dir)); diff != "" {
		t.Fatalf("verify modified the ledger: %s", diff)
	}
	l, err = embedded.Open(n.dir, kv{}, embedded.Options{})
	if err != nil {
		t.Fatalf("open with the state store one block behind: %v", err)
	}
	if h := l.Height(); h != 5 {
		t.Fatalf("height after recovery = %d, want 5", h)
	}
	if v, err := l.Evaluate(ctx, n.alice, "get", "late"); err != nil || string(v) != "0" {
		t.Fatalf("the recovered block's write reads %q, %v", v, err)
	}
	l.Close()
	if rep, err := embedded.Verify(ctx, n.dir); err != nil || rep.Blocks != 5 || rep.Pending != 0 {
		t.Fatalf("verify after recovery = %+v, %v", rep, err)
	}

	// The early state store with the whole late block file: two behind.
	twoAhead := map[string][]byte{}
	for p, b := range early {
		twoAhead[p] = b
	}
	twoAhead[blocks] = lateBlocks
	writeTree(t, n.dir, twoAhead)
	var bad *embedded.BadBlockError
	for _, try := range []func() error{
		func() error { _, err := embedded.Verify(ctx, n.dir); return err },
		func() error { _, err := embedded.Open(n.dir, kv{}, embedded.Options{}); return err },
	} {
		err := try()
		if !errors.As(err, &bad) || bad.Number != 4 || !strings.Contains(bad.Reason, embedded.BlockFileName) || !strings.Contains(bad.Reason, embedded.StoreDir) {
			t.Fatalf("state store two blocks behind: %v; want block 4 named, with both files", err)
		}
		if diff := sameTree(twoAhead, readTree(t, n.dir)); diff != "" {
			t.Fatalf("a refused ledger was modified: %s", diff)
		}
	}

	// The same with block 4's record damaged too: the state store and the
	// block file both stop at block 3, but the damaged record is followed
	// by another, so it is not an interrupted append.
	damaged := bytes.Clone(lateBlocks)
	damaged[len(early[blocks])+20] ^= 0x04
	twoAhead[blocks] = damaged
	writeTree(t, n.dir, twoAhead)
	if _, err := embedded.Verify(ctx, n.dir); !errors.As(err, &bad) || bad.Number != 4 {
		t.Fatalf("state store behind a damaged block file: %v; want block 4 named", err)
	}

	// The late state store with the early block file: the block file is
	// short (truncated).
	short := map[string][]byte{}
	for p, b := range late {
		short[p] = b
	}
	short[blocks] = early[blocks]
	writeTree(t, n.dir, short)
	_, err = embedded.Open(n.dir, kv{}, embedded.Options{})
	if !errors.As(err, &bad) || bad.Number != 4 {
		t.Fatalf("open with a truncated block file = %v; want block 4 named", err)
	}
	if diff := sameTree(short, readTree(t, n.dir)); diff != "" {
		t.Fatalf("a refused ledger was modified: %s", diff)
	}

	// And the late ledger itself is whole.
	writeTree(t, n.dir, late)
	l, err = embedded.Open(n.dir, kv{}, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, _, err := l.Transaction(lastTx); err != nil || l.Height() != full.Blocks {
		t.Fatalf("late ledger: height %d, last transaction %v", l.Height(), err)
	}
}

// TestUnfinishedBlockFileRecord: a record cut short at the end of the block
// file, which no state store height vouches for, is an append interrupted
// before its block was acknowledged: verify reports the whole chain and
// Open cuts it off.
func TestUnfinishedBlockFileRecord(t *testing.T) {
	n := newKV(t)
	n.submit(t, "put", "k", "v")
	want, err := n.ledger.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n.ledger.Close()
	path := filepath.Join(n.dir, embedded.BlockFileName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 1, 0, '{'})
	f.Close()
	rep, err := embedded.Verify(context.Background(), n.dir)
	if err != nil || rep.Blocks != want.Blocks || rep.LastHash != want.LastHash {
		t.Fatalf("verify = %+v, %v; want %d blocks", rep, err, want.Blocks)
	}
	l, err := embedded.Open(n.dir, kv{}, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Submit(context.Background(), n.alice, "put", "k2", "v"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if rep, err := embedded.Verify(context.Background(), n.dir); err != nil || rep.Blocks != want.Blocks+1 {
		t.Fatalf("verify after appending past the cut = %+v, %v", rep, err)
	}
}

// TestMissingTableIsAnError removes a table file that the store's manifest
// lists: Pebble reports it through its fatal logger, which used to exit
// the process; verify and Open return an error instead.
func TestMissingTableIsAnError(t *testing.T) {
	net, _ := demoLedger(t)
	dir := filepath.Join(net, "ledger")
	tables, _ := filepath.Glob(filepath.Join(dir, embedded.StoreDir, "*.sst"))
	if len(tables) == 0 {
		t.Skip("the store holds no table file")
	}
	for _, p := range tables {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	before := readTree(t, dir)
	if _, err := embedded.Verify(context.Background(), dir); greenmint.ErrorCode(err) != greenmint.EINTERNAL {
		t.Fatalf("verify without its tables = %v, want an internal error", err)
	}
	cc, err := chaincode.New(greenminttest.ChaincodeConfig())
	if err != nil {
		t.Fatal(err)
	}
	if l, err := embedded.Open(dir, cc, embedded.Options{}); err == nil {
		l.Close()
		t.Fatal("open without its tables succeeded")
	}
	if diff := sameTree(before, readTree(t, dir)); diff != "" {
		t.Fatalf("a refused ledger was modified: %s", diff)
	}
}

// TestLedgerFilesArePrivate: the ledger's folders are 0700 and its files
// (the block file and every file of the store) 0600, so no other local
// user reads the holdings.
func TestLedgerFilesArePrivate(t *testing.T) {
	n := newKV(t)
	for i := 0; i < 3; i++ {
		n.submit(t, "put", fmt.Sprintf("k%d", i), "v")
	}
	n.ledger.Close()
	l, err := embedded.Open(n.dir, kv{}, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n.submit2(t, l)
	l.Close()
	count := 0
	err = filepath.WalkDir(n.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s is %v, want %v", p, fi.Mode().Perm(), want)
		}
		count++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count < 5 {
		t.Fatalf("only %d entries in the ledger directory", count)
	}
}

func (n *kvNet) submit2(tb testing.TB, l *embedded.Ledger) {
	tb.Helper()
	if _, err := l.Submit(context.Background(), n.alice, "put", "again", "v"); err != nil {
		tb.Fatal(err)
	}
}
