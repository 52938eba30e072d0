package appctx

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"github.com/floedb/floe/lakehouse/objstore"
)

// FaultInjectEnv names the environment variable that turns on object-store
// fault injection in a process built with the floe_faultinject build tag
// (the reliability suite builds such a binary; see docs/RELIABILITY.md).
// A binary built without the tag refuses to start when it is set, so a
// production node can never run with injected faults.
//
// Its value is a comma-separated list of name=value settings:
//
//	seed=N          seed of the fault decisions (default 1)
//	OP=P            fail a call of OP before it reaches the store, with probability P
//	OP_after=P      perform a call of OP, then report failure anyway (a lost response)
//
// where OP is get, get_range, attributes, put, delete, list or any.
// Example: "seed=7,put=0.03,put_after=0.02,get=0.02,list=0.01".
const FaultInjectEnv = "FLOE_FAULT_INJECT"

// faultSpec is a parsed FLOE_FAULT_INJECT value.
type faultSpec struct {
	seed   uint64
	before map[string]float64 // op -> probability
	after  map[string]float64
}

// parseFaultSpec parses a FLOE_FAULT_INJECT value.
func parseFaultSpec(s string) (faultSpec, error) {
	spec := faultSpec{seed: 1, before: map[string]float64{}, after: map[string]float64{}}
	ops := map[string]bool{objstore.OpGet: true, objstore.OpGetRange: true, objstore.OpAttributes: true,
		objstore.OpPut: true, objstore.OpDelete: true, objstore.OpList: true, "any": true}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, val, ok := strings.Cut(item, "=")
		if !ok {
			return spec, fmt.Errorf("%s: %q is not name=value", FaultInjectEnv, item)
		}
		if name == "seed" {
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return spec, fmt.Errorf("%s: seed %q: %w", FaultInjectEnv, val, err)
			}
			spec.seed = n
			continue
		}
		op, after := strings.CutSuffix(name, "_after")
		if !ops[op] {
			return spec, fmt.Errorf("%s: unknown operation %q (want get, get_range, attributes, put, delete, list or any, optionally with _after)", FaultInjectEnv, op)
		}
		p, err := strconv.ParseFloat(val, 64)
		if err != nil || p < 0 || p > 1 {
			return spec, fmt.Errorf("%s: %s=%q is not a probability in [0, 1]", FaultInjectEnv, name, val)
		}
		if op == "any" {
			op = objstore.OpAny
		}
		if after {
			spec.after[op] = p
		} else {
			spec.before[op] = p
		}
	}
	return spec, nil
}

// decider returns the fault decision of the spec: whether this call of op
// fails before (after=false) or after (after=true) reaching the store. All
// decisions draw from one generator seeded with spec.seed.
func (s faultSpec) decider() func(op string, after bool) bool {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(s.seed, 0x9e3779b97f4a7c15))
	return func(op string, after bool) bool {
		m := s.before
		if after {
			m = s.after
		}
		p, ok := m[op]
		if !ok {
			p = m[objstore.OpAny]
		}
		if p == 0 {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		return rng.Float64() < p
	}
}

// faultBucket wraps b in an objstore.Faulty driven by spec: each call may
// fail before reaching b, or reach b and then report failure.
func faultBucket(b objstore.Bucket, spec faultSpec) objstore.Bucket {
	f := objstore.NewFaulty(b)
	decide := spec.decider()
	f.SetHook(func(_ context.Context, op, _ string) error {
		if decide(op, false) {
			return objstore.ErrInjected
		}
		if decide(op, true) {
			// Perform this one call, then fail it: FailNextAfter arms a
			// one-shot rule that the call about to run consumes. Another
			// concurrent call of the same op may consume it instead; either
			// way one call of op lands and reports failure.
			f.FailNextAfter(op, 1, nil)
		}
		return nil
	})
	return f
}
