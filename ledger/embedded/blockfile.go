package embedded

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// BlockFileName is the block file inside a ledger directory: the chain, kept
// apart from the state store as Fabric keeps its block files apart from the
// state database. Every block is appended to it and fsynced before the state
// store commits it, and before any of its transactions is acknowledged; the
// state store's height and head hash are checked against it at every open.
//
// Layout: a 16-byte header (blockFileMagic), then one record per block:
//
//	number (8, big-endian) ‖ length (4, big-endian) ‖ canonical block JSON (length bytes)
//	‖ SHA-256 of everything before it in the record (32)
//
// so that a flipped bit anywhere in a record, its framing included, fails
// that record's checksum.
const BlockFileName = "blocks"

var blockFileMagic = []byte("greenmint-blk-1\n")

const (
	recordHead  = 12
	recordTail  = sha256.Size
	maxBlockLen = 1 << 30
)

// blockFile is the open, append-only block file of a ledger.
type blockFile struct {
	path string
	f    *os.File
	size int64 // end of the last complete record
}

// encodeRecord frames a block's canonical bytes as one record.
func encodeRecord(n uint64, raw []byte) []byte {
	rec := make([]byte, recordHead, recordHead+len(raw)+recordTail)
	binary.BigEndian.PutUint64(rec[0:8], n)
	binary.BigEndian.PutUint32(rec[8:12], uint32(len(raw)))
	rec = append(rec, raw...)
	sum := sha256.Sum256(rec)
	return append(rec, sum[:]...)
}

// createBlockFile makes a new block file holding only its header, fsyncs it
// and its directory.
func createBlockFile(dir string) (*blockFile, error) {
	path := filepath.Join(dir, BlockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	bf := &blockFile{path: path, f: f}
	if _, err := f.Write(blockFileMagic); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	bf.size = int64(len(blockFileMagic))
	return bf, nil
}

// openBlockFile opens an existing block file for appending after its last
// complete record, which ends at size (as scanBlockFile found it). Bytes
// after size (an append that never completed) are cut off.
func openBlockFile(dir string, size int64) (*blockFile, error) {
	path := filepath.Join(dir, BlockFileName)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size() != size {
		if err := f.Truncate(size); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &blockFile{path: path, f: f, size: size}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// append writes block n's record and fsyncs it. On failure it cuts the
// file back to its previous end; if even that fails the file is unusable
// and the error says so.
func (bf *blockFile) append(n uint64, raw []byte) error {
	rec := encodeRecord(n, raw)
	_, err := bf.f.WriteAt(rec, bf.size)
	if err == nil {
		err = bf.f.Sync()
	}
	if err != nil {
		if terr := bf.f.Truncate(bf.size); terr != nil {
			return fmt.Errorf("%w; cutting the unfinished record off failed too: %w", err, terr)
		}
		return err
	}
	bf.size += int64(len(rec))
	return nil
}

func (bf *blockFile) close() error { return bf.f.Close() }

// blockScan is what a scan of a block file found.
type blockScan struct {
	count    uint64 // complete, intact records from the start (blocks 0..count-1)
	end      int64  // offset just after the last of them
	size     int64  // the file's size
	tail     string // why the bytes from end on are not a record ("" when end == size)
	torn     bool   // the bad record is the file's last: an append a crash interrupted
	lastHash string // header hash of the last intact block ("" when count == 0)
	lastRaw  []byte // canonical bytes of the last intact block
	stop     error  // the error fn stopped the scan with
}

// errNoBlockFile reports a ledger directory without a block file.
var errNoBlockFile = errors.New("no block file")

// scanBlockFile reads the block file at path from the start, checking each
// record's framing, checksum and number, and calls fn (when not nil) with
// each intact block's number, canonical bytes and offset. It stops at the
// first record that is not intact and describes it in tail, or after limit
// records when limit is not zero. An error from fn stops the scan and is
// returned.
func scanBlockFile(path string, limit uint64, fn func(n uint64, raw []byte, off int64) error) (*blockScan, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoBlockFile
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	s := &blockScan{size: fi.Size()}
	r := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, len(blockFileMagic))
	if _, err := io.ReadFull(r, magic); err != nil || !bytes.Equal(magic, blockFileMagic) {
		s.tail = "the file does not start with the block file header"
		return s, nil
	}
	s.end = int64(len(magic))
	s.tail, s.torn = s.records(r, limit, fn)
	if s.tail == errStop {
		return s, s.stop
	}
	if s.count > 0 {
		b, err := decodeBlock(s.lastRaw)
		if err != nil {
			return s, fmt.Errorf("block %d in the block file does not decode: %w", s.count-1, err)
		}
		if s.lastHash, err = b.Hash(); err != nil {
			return s, err
		}
	}
	return s, nil
}

const errStop = "\x00stopped"

// records reads records from r (positioned at s.end) until the end of the
// file, limit records, or one that is not intact, which it describes; torn
// reports that the bad record is the last thing in the file, as an append
// interrupted by a crash leaves it.
func (s *blockScan) records(r io.Reader, limit uint64, fn func(n uint64, raw []byte, off int64) error) (tail string, torn bool) {
	head := make([]byte, recordHead)
	var buf []byte
	for s.end < s.size && (limit == 0 || s.count < limit) {
		off := s.end
		if _, err := io.ReadFull(r, head); err != nil {
			return fmt.Sprintf("the record at offset %d is cut short", off), true
		}
		n := binary.BigEndian.Uint64(head[0:8])
		length := int64(binary.BigEndian.Uint32(head[8:12]))
		if n != s.count {
			return fmt.Sprintf("the record at offset %d is numbered %d where block %d belongs", off, n, s.count), false
		}
		if length > maxBlockLen || off+recordHead+length+recordTail > s.size {
			return fmt.Sprintf("the record of block %d at offset %d is cut short or its length is damaged", n, off), true
		}
		need := recordHead + int(length) + recordTail
		if cap(buf) < need {
			buf = make([]byte, need)
		}
		buf = buf[:need]
		copy(buf, head)
		if _, err := io.ReadFull(r, buf[recordHead:]); err != nil {
			return fmt.Sprintf("the record of block %d at offset %d is cut short", n, off), true
		}
		sum := sha256.Sum256(buf[:recordHead+length])
		if !bytes.Equal(sum[:], buf[recordHead+length:]) {
			return fmt.Sprintf("the record of block %d at offset %d fails its checksum (damaged)", n, off), off+int64(need) == s.size
		}
		raw := buf[recordHead : recordHead+length]
		if fn != nil {
			if err := fn(n, raw, off); err != nil {
				s.stop = err
				return errStop, false
			}
		}
		s.count++
		s.end = off + int64(need)
		s.lastRaw = append(s.lastRaw[:0], raw...)
	}
	return "", false
}
