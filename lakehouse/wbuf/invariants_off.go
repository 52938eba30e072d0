//go:build !invariants

package wbuf

// invariantsEnabled turns on expensive self-checks (build tag invariants).
const invariantsEnabled = false
