package api

import (
	"testing"

	"github.com/floedb/floe/lakehouse/dberr"
)

// TestEveryFloeCodeHasAConnectCode: no Floe code falls back to Internal
// by omission.
func TestEveryFloeCodeHasAConnectCode(t *testing.T) {
	for _, c := range dberr.Codes {
		if _, ok := connectCodes[c]; !ok {
			t.Errorf("Floe code %s has no Connect code", c)
		}
	}
}
