//go:build invariants

package wbuf

// invariantsEnabled turns on expensive self-checks (build tag invariants):
// Open recomputes every partition's statistics from its versions and fails
// if they differ from the persisted state.
const invariantsEnabled = true
