//go:build !invariants

package manifest

// invariantsEnabled turns on expensive self-checks (build tag invariants).
const invariantsEnabled = false

func checkUnchanged[M any](func(M) ([]byte, error), M, []byte, string) {}
