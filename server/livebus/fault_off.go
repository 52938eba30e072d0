//go:build !floe_faultinject

package livebus

import (
	"fmt"
	"os"
)

func faultDrop() func() bool { return func() bool { return false } }

// CheckFaultEnv refuses FaultEnv in a build without the floe_faultinject
// tag, so a production process never runs with injected publish losses.
func CheckFaultEnv() error {
	if v := os.Getenv(FaultEnv); v != "" {
		return fmt.Errorf("%s=%q is set, but this floe binary was built without fault injection (build tag floe_faultinject); unset it", FaultEnv, v)
	}
	return nil
}
