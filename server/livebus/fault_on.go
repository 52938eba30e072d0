//go:build floe_faultinject

package livebus

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
)

// faultDrop returns the publish-loss decision FaultEnv asks for (a test
// build: the floe_faultinject tag is set). It panics on a malformed
// value: a test build must not run with faults other than the ones asked
// for; CheckFaultEnv reports the error first at startup.
func faultDrop() func() bool {
	p, seed, err := parseFault(os.Getenv(FaultEnv))
	if err != nil {
		panic(err)
	}
	if p == 0 {
		return func() bool { return false }
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 0x5bd1e995))
	return func() bool {
		mu.Lock()
		defer mu.Unlock()
		return rng.Float64() < p
	}
}

// CheckFaultEnv reports a malformed FaultEnv.
func CheckFaultEnv() error {
	_, _, err := parseFault(os.Getenv(FaultEnv))
	return err
}

// parseFault parses "drop=P[,seed=N]".
func parseFault(v string) (p float64, seed uint64, err error) {
	seed = 1
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, val, _ := strings.Cut(item, "=")
		switch name {
		case "drop":
			if p, err = strconv.ParseFloat(val, 64); err != nil || p < 0 || p > 1 {
				return 0, 0, fmt.Errorf("%s: drop=%q is not a probability in [0, 1]", FaultEnv, val)
			}
		case "seed":
			if seed, err = strconv.ParseUint(val, 10, 64); err != nil {
				return 0, 0, fmt.Errorf("%s: seed=%q is not a number", FaultEnv, val)
			}
		default:
			return 0, 0, fmt.Errorf("%s: unknown setting %q (want drop=P and seed=N)", FaultEnv, item)
		}
	}
	return p, seed, nil
}
