package greenmint_test

import (
	"fmt"
	"testing"

	"github.com/greenmint/greenmint"
)

func TestMerkleProofs(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 31, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			leaves := make([][32]byte, n)
			for i := range leaves {
				leaves[i] = greenmint.MerkleLeaf([]byte(fmt.Sprintf("reading %d", i)))
			}
			root := greenmint.MerkleRoot(leaves)
			for i := range leaves {
				proof, err := greenmint.MerkleProof(leaves, i)
				if err != nil {
					t.Fatal(err)
				}
				if !greenmint.VerifyMerkleProof(leaves[i], proof, root) {
					t.Fatalf("proof of leaf %d of %d does not verify", i, n)
				}
				other := greenmint.MerkleLeaf([]byte("forged"))
				if greenmint.VerifyMerkleProof(other, proof, root) {
					t.Fatalf("a forged leaf verifies with leaf %d's proof", i)
				}
				if len(proof) > 0 {
					proof[0].Right = !proof[0].Right
					if greenmint.VerifyMerkleProof(leaves[i], proof, root) {
						t.Fatalf("a proof with a flipped side verifies for leaf %d", i)
					}
				}
			}
		})
	}
	// A leaf must not pass for an inner node (second-preimage).
	l := [][32]byte{greenmint.MerkleLeaf([]byte("a")), greenmint.MerkleLeaf([]byte("b"))}
	root := greenmint.MerkleRoot(l)
	if greenmint.VerifyMerkleProof(root, nil, greenmint.MerkleRoot([][32]byte{greenmint.MerkleLeaf(append(l[0][:], l[1][:]...))})) {
		t.Fatal("domain separation failed")
	}
	if _, err := greenmint.MerkleProof(l, 2); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("proof of a missing leaf = %v", err)
	}
}
