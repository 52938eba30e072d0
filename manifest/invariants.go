//go:build invariants

package manifest

import (
	"bytes"
	"fmt"
)

// invariantsEnabled turns on expensive self-checks (build tag invariants).
const invariantsEnabled = true

// checkUnchanged panics if a cached manifest no longer encodes to the bytes
// it was loaded from or committed as: some caller mutated a shared value.
func checkUnchanged[M any](encode func(M) ([]byte, error), m M, data []byte, key string) {
	got, err := encode(m)
	if err != nil || !bytes.Equal(got, data) {
		panic(fmt.Sprintf("manifest: invariant violated: cached manifest %s was mutated after it was shared (err %v)", key, err))
	}
}
