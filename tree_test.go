package greenmint_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxTrackedBytes is the largest file the repository may track outside
// refdata/ and testdata/: anything bigger is a build output or a data file
// that belongs with its attribution in refdata/.
const maxTrackedBytes = 2 << 20

// executableMagic lists the first bytes of compiled programs (ELF, Mach-O,
// PE) that must never be tracked.
var executableMagic = [][]byte{
	{0x7f, 'E', 'L', 'F'},
	{0xcf, 0xfa, 0xed, 0xfe}, {0xce, 0xfa, 0xed, 0xfe}, {0xca, 0xfe, 0xba, 0xbe},
	{'M', 'Z'},
}

// TestNoBuildOutputsTracked fails if git tracks a compiled program, an
// executable file that is not a script, or a file over 2 MiB outside
// refdata/ and testdata/.
func TestNoBuildOutputsTracked(t *testing.T) {
	out, err := exec.Command("git", "ls-files", "-s", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): nothing to check", err)
	}
	for _, entry := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		meta, path, ok := strings.Cut(entry, "\t")
		if !ok {
			continue
		}
		mode := strings.Fields(meta)[0]
		if mode == "160000" || mode == "120000" { // submodule, symlink
			continue
		}
		info, err := os.Stat(path)
		if err != nil {
			continue // deleted in the work tree; git status shows it
		}
		head := make([]byte, 4)
		f, err := os.Open(path)
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		n, _ := f.Read(head)
		f.Close()
		head = head[:n]
		for _, magic := range executableMagic {
			if bytes.HasPrefix(head, magic) {
				t.Errorf("%s is a compiled program: build outputs are never tracked (git rm --cached %s)", path, path)
			}
		}
		if mode == "100755" && !bytes.HasPrefix(head, []byte("#!")) {
			t.Errorf("%s is executable and not a script", path)
		}
		top := strings.Split(filepath.ToSlash(path), "/")[0]
		if info.Size() > maxTrackedBytes && top != "refdata" && top != "testdata" {
			t.Errorf("%s is %d bytes, over the %d-byte limit outside refdata/ and testdata/", path, info.Size(), maxTrackedBytes)
		}
	}
}
